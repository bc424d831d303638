//! US ZIP codes, bundled: where a Google Maps sweep searches.
//!
//! The table (`data/us_zipcodes.csv`, see `data/README.md`) is compiled into
//! the binary and parsed once, on first use, into a sorted slice; look-ups
//! by code are binary searches. Every string in it borrows from the bundled
//! text, so the whole table costs one `Vec` of small structs.

use std::sync::LazyLock;

use crate::geo::us_state_code;

const DATA: &str = include_str!("../data/us_zipcodes.csv");

/// What kind of delivery area a ZIP code is. Only standard ZIPs cover
/// streets with businesses on them; the others are post-office boxes, one
/// large organisation, or military post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZipKind {
    Standard,
    PoBox,
    Unique,
    Military,
}

/// One ZIP code with its primary city and centroid.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ZipCode {
    pub zip: &'static str,
    pub kind: ZipKind,
    pub city: &'static str,
    /// Two-letter state (or territory) code.
    pub state: &'static str,
    pub county: &'static str,
    pub timezone: &'static str,
    pub lat: f64,
    pub lon: f64,
}

static TABLE: LazyLock<Vec<ZipCode>> = LazyLock::new(|| {
    let mut out: Vec<ZipCode> = DATA.lines().skip(1).filter_map(parse_line).collect();
    out.sort_unstable_by_key(|z| z.zip);
    out
});

fn parse_line(line: &'static str) -> Option<ZipCode> {
    let mut f = line.split(',');
    let zip = f.next()?;
    let kind = match f.next()? {
        "S" => ZipKind::Standard,
        "P" => ZipKind::PoBox,
        "U" => ZipKind::Unique,
        "M" => ZipKind::Military,
        _ => return None,
    };
    Some(ZipCode {
        zip,
        kind,
        city: f.next()?,
        state: f.next()?,
        county: f.next()?,
        timezone: f.next()?,
        lat: f.next()?.parse().ok()?,
        lon: f.next()?.parse().ok()?,
    })
}

/// Every bundled ZIP code, in code order.
pub fn all() -> &'static [ZipCode] {
    &TABLE
}

/// The ZIP code `zip` (five digits; a ZIP+4 is looked up by its first five).
pub fn lookup(zip: &str) -> Option<&'static ZipCode> {
    let zip = zip.trim();
    let five = zip.get(..5)?;
    if !(zip.len() == 5 || (zip.len() == 10 && zip.as_bytes()[5] == b'-')) {
        return None;
    }
    let table = all();
    table
        .binary_search_by(|z| z.zip.cmp(five))
        .ok()
        .map(|i| &table[i])
}

/// Why a selection of ZIP codes could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipSelectError {
    #[error("'{0}' is not a US state or territory code or name (e.g. NY, New Jersey)")]
    UnknownState(String),
    #[error("ZIP code '{0}' is not in the bundled table of active US ZIP codes")]
    UnknownZip(String),
    #[error(
        "give --states or --zips: a sweep of the whole country must be asked for by listing states"
    )]
    Empty,
}

/// The ZIP codes a sweep covers: the listed ZIPs, and every ZIP of the
/// listed states (standard ZIPs only unless `all_kinds`), without repeats,
/// in code order.
pub fn select(
    states: &[&str],
    zips: &[&str],
    all_kinds: bool,
) -> Result<Vec<&'static ZipCode>, ZipSelectError> {
    if states.is_empty() && zips.is_empty() {
        return Err(ZipSelectError::Empty);
    }
    let mut codes: Vec<&'static str> = Vec::with_capacity(states.len());
    for s in states {
        let s = s.trim();
        let code = us_state_code(s)
            .or_else(|| {
                all()
                    .iter()
                    .find(|z| z.state.eq_ignore_ascii_case(s))
                    .map(|z| z.state)
            })
            .ok_or_else(|| ZipSelectError::UnknownState(s.to_owned()))?;
        codes.push(code);
    }
    let mut out: Vec<&'static ZipCode> = all()
        .iter()
        .filter(|z| codes.contains(&z.state) && (all_kinds || z.kind == ZipKind::Standard))
        .collect();
    for raw in zips {
        let z = lookup(raw).ok_or_else(|| ZipSelectError::UnknownZip(raw.trim().to_owned()))?;
        out.push(z);
    }
    out.sort_unstable_by_key(|z| z.zip);
    out.dedup_by_key(|z| z.zip);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_every_active_zip_with_coordinates() {
        let t = all();
        assert!(t.len() > 40_000, "{}", t.len());
        let standard = t.iter().filter(|z| z.kind == ZipKind::Standard).count();
        assert!((29_000..31_000).contains(&standard), "{standard}");
        assert!(t.windows(2).all(|w| w[0].zip < w[1].zip));
        for z in t {
            assert_eq!(z.zip.len(), 5, "{z:?}");
            assert!((-90.0..=90.0).contains(&z.lat) && (-180.0..=180.0).contains(&z.lon));
        }
    }

    #[test]
    fn lookup_finds_a_zip_and_its_zip_plus_4() {
        let z = lookup("10001").unwrap();
        assert_eq!((z.city, z.state), ("New York", "NY"));
        assert!((z.lat - 40.75).abs() < 0.1 && (z.lon + 74.0).abs() < 0.1);
        assert_eq!(lookup("10001-1234").unwrap().zip, "10001");
        assert!(lookup("1000").is_none());
        assert!(lookup("100011").is_none());
        assert!(lookup("00000").is_none());
    }

    #[test]
    fn select_by_states_and_zips_without_repeats() {
        let ny = select(&["NY"], &[], false).unwrap();
        assert!(ny.len() > 1000);
        assert!(
            ny.iter()
                .all(|z| z.state == "NY" && z.kind == ZipKind::Standard)
        );
        let with_pobox = select(&["new york"], &[], true).unwrap();
        assert!(with_pobox.len() > ny.len());
        let both = select(&["NY", "NJ"], &["10001", "07001"], false).unwrap();
        let nj = select(&["NJ"], &[], false).unwrap();
        assert_eq!(both.len(), ny.len() + nj.len());
        let explicit = select(&[], &["10002", "10001", "10001"], false).unwrap();
        let codes: Vec<&str> = explicit.iter().map(|z| z.zip).collect();
        assert_eq!(codes, ["10001", "10002"]);
    }

    #[test]
    fn select_names_what_is_wrong() {
        assert_eq!(
            select(&["Atlantis"], &[], false),
            Err(ZipSelectError::UnknownState("Atlantis".into()))
        );
        assert_eq!(
            select(&[], &["99999"], false),
            Err(ZipSelectError::UnknownZip("99999".into()))
        );
        assert_eq!(select(&[], &[], false), Err(ZipSelectError::Empty));
    }
}
