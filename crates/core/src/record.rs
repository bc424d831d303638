//! One raw row (cells under a column mapping) becomes one lead draft, or a
//! reason it cannot. This is where raw strings turn into domain types.

use crate::dedupe::name_company_key;
use crate::domain::Domain;
use crate::email::Email;
use crate::geo::{Country, us_state_code};
use crate::lead::{Field, Lead, SourceRef};
use crate::linkedin::{LinkedinKind, LinkedinUrl};
use crate::mapping::ColumnMapping;
use crate::names::{split_full_name, tidy_company_name, tidy_name_part};
use crate::phone::Phone;
use crate::score::ScoringRules;
use crate::text::trim;

/// Why a row was rejected. The message is written to the rejects file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowReject {
    #[error(
        "no usable identity: needs a valid email, a LinkedIn profile URL, or first and last name with a company domain{detail}"
    )]
    NoIdentity { detail: String },
}

/// A row's cells by column index; a missing cell reads as empty.
pub trait Cells {
    fn cell(&self, col: usize) -> &str;
}

impl Cells for [&str] {
    fn cell(&self, col: usize) -> &str {
        self.get(col).copied().unwrap_or("")
    }
}

/// Turns rows into leads under one mapping and one set of import options.
#[derive(Debug, Clone)]
pub struct RowParser {
    mapping: ColumnMapping,
    default_country: Country,
    source: String,
    tags: Vec<String>,
    rules: ScoringRules,
}

impl RowParser {
    pub fn new(
        mapping: ColumnMapping,
        default_country: Country,
        source: &str,
        tags: Vec<String>,
        rules: ScoringRules,
    ) -> RowParser {
        RowParser {
            mapping,
            default_country,
            source: source.to_owned(),
            tags,
            rules,
        }
    }

    pub fn mapping(&self) -> &ColumnMapping {
        &self.mapping
    }

    /// Parses one row.
    pub fn parse(
        &self,
        cells: &(impl Cells + ?Sized),
        origin: SourceRef,
    ) -> Result<Lead, RowReject> {
        let cell = |f: Field| {
            self.mapping
                .column_of(f)
                .map(|c| trim(cells.cell(c)))
                .filter(|s| !s.is_empty())
        };
        let mut lead = Lead::empty(&self.source, origin);
        let mut problems: Vec<String> = Vec::new();
        let mut keep_raw = |lead: &mut Lead, field: Field, raw: &str, why: String| {
            lead.custom
                .push((format!("invalid_{}", field.name()), raw.to_owned()));
            problems.push(format!("{} '{}': {}", field.name(), raw, why));
        };

        if let Some(raw) = cell(Field::Email) {
            match Email::parse(raw) {
                Ok(e) => lead.email = Some(e),
                Err(e) => keep_raw(&mut lead, Field::Email, raw, e.to_string()),
            }
        }
        lead.first_name = cell(Field::FirstName)
            .map(tidy_name_part)
            .filter(|s| !s.is_empty());
        lead.last_name = cell(Field::LastName)
            .map(tidy_name_part)
            .filter(|s| !s.is_empty());
        if (lead.first_name.is_none() || lead.last_name.is_none())
            && let Some(name) = cell(Field::FullName).and_then(split_full_name)
        {
            lead.first_name = lead
                .first_name
                .take()
                .or(Some(name.first).filter(|s| !s.is_empty()));
            lead.last_name = lead
                .last_name
                .take()
                .or(Some(name.last).filter(|s| !s.is_empty()));
        }
        lead.title = cell(Field::Title).map(tidy_text);
        lead.seniority = cell(Field::Seniority).map(tidy_text);
        lead.department = cell(Field::Department).map(tidy_text);
        lead.company_name = cell(Field::CompanyName)
            .map(tidy_company_name)
            .filter(|s| !s.is_empty());
        lead.industry = cell(Field::Industry).map(tidy_text);
        lead.city = cell(Field::City).map(tidy_name_part);
        lead.postal_code = cell(Field::PostalCode).map(tidy_text);

        if let Some(raw) = cell(Field::Country) {
            match Country::parse(raw) {
                Ok(c) => lead.country = Some(c),
                Err(e) => keep_raw(&mut lead, Field::Country, raw, e.to_string()),
            }
        }
        if let Some(raw) = cell(Field::State) {
            let us = lead.country.is_none_or(|c| c == Country::US);
            lead.state = Some(match us_state_code(raw).filter(|_| us) {
                Some(code) => code.to_owned(),
                None => tidy_text(raw),
            });
        }
        let region = lead.country.unwrap_or(self.default_country);
        let mut phones = [None, None, None];
        for (slot, field) in
            phones
                .iter_mut()
                .zip([Field::Phone, Field::Mobile, Field::CompanyPhone])
        {
            if let Some(raw) = cell(field) {
                match Phone::parse(raw, region) {
                    Ok(p) => *slot = Some(p),
                    Err(e) => keep_raw(&mut lead, field, raw, e.to_string()),
                }
            }
        }
        [lead.phone, lead.mobile, lead.company_phone] = phones;
        if let Some(raw) = cell(Field::CompanyDomain) {
            match Domain::parse(raw) {
                Ok(d) => lead.company_domain = Some(d),
                Err(e) => keep_raw(&mut lead, Field::CompanyDomain, raw, e.to_string()),
            }
        }
        for field in [Field::LinkedinUrl, Field::CompanyLinkedinUrl] {
            if let Some(raw) = cell(field) {
                match LinkedinUrl::parse(raw) {
                    Ok(url)
                        if url.kind() == LinkedinKind::Person && field == Field::LinkedinUrl =>
                    {
                        lead.linkedin = Some(url)
                    }
                    Ok(url) if url.kind() == LinkedinKind::Company => {
                        lead.company_linkedin = Some(url)
                    }
                    Ok(_) => keep_raw(
                        &mut lead,
                        field,
                        raw,
                        "a person's profile in a company column".into(),
                    ),
                    Err(e) => keep_raw(&mut lead, field, raw, e.to_string()),
                }
            }
        }
        if let Some(raw) = cell(Field::EmployeeCount) {
            match parse_count(raw) {
                Some(n) => lead.employee_count = u32::try_from(n).ok(),
                None => keep_raw(
                    &mut lead,
                    Field::EmployeeCount,
                    raw,
                    "not a number or range".into(),
                ),
            }
        }
        if let Some(raw) = cell(Field::Revenue) {
            match parse_money(raw) {
                Some(n) => lead.revenue = Some(n.saturating_mul(self.mapping.revenue_scale())),
                None => keep_raw(&mut lead, Field::Revenue, raw, "not an amount".into()),
            }
        }
        let mut tags = self.tags.clone();
        if let Some(raw) = cell(Field::Tags) {
            for t in raw
                .split([',', ';', '|'])
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                if !tags.iter().any(|x: &String| x.eq_ignore_ascii_case(t)) {
                    tags.push(t.to_owned());
                }
            }
        }
        lead.tags = tags;
        for (col, name) in self.mapping.custom_columns() {
            if let Some(v) = Some(trim(cells.cell(*col))).filter(|s| !s.is_empty()) {
                lead.custom.push((name.clone(), v.to_owned()));
            }
        }

        // The name rule asks for the dedupe key itself, not just both name
        // parts: parts without letters or digits (`{`, `-`) give no key, and
        // a lead stored without any key is inserted again by every re-import.
        if lead.email.is_none() && lead.linkedin.is_none() && name_company_key(&lead).is_none() {
            let detail = if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            };
            return Err(RowReject::NoIdentity { detail });
        }
        self.rules.apply(&mut lead);
        Ok(lead)
    }
}

/// Trims and collapses inner whitespace.
pub fn tidy_text(raw: &str) -> String {
    let raw = trim(raw);
    if is_tidy(raw) {
        return raw.to_owned();
    }
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// No whitespace but single spaces. ASCII text, nearly every cell, takes
/// one pass over its bytes.
fn is_tidy(s: &str) -> bool {
    if !s.is_ascii() {
        return !s.contains(|c: char| c.is_whitespace() && c != ' ') && !s.contains("  ");
    }
    let mut prev = 0u8;
    s.bytes().all(|b| {
        // The ASCII characters `char::is_whitespace` accepts.
        let untidy =
            matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r') || (b == b' ' && prev == b' ');
        prev = b;
        !untidy
    })
}

/// Reads a head count: `250`, `1,200`, `51-200` (the lower bound), `10000+`.
pub fn parse_count(raw: &str) -> Option<u64> {
    let first = raw.split(['-', '–', '+']).next()?.trim();
    // Digits with `,`, ` ` and `.` as group separators; anything else, no
    // digit at all, or more than a u64 holds is no count.
    let mut n: Option<u64> = None;
    for c in first.chars().filter(|c| !matches!(c, ',' | ' ' | '.')) {
        let d = c.to_digit(10)?;
        n = Some(n.unwrap_or(0).checked_mul(10)?.checked_add(u64::from(d))?);
    }
    n
}

/// Reads an amount such as `$1.5M`, `2,000,000`, `750K`, `1.2B USD`.
pub fn parse_money(raw: &str) -> Option<u64> {
    let s: String = raw
        .trim()
        .trim_start_matches(['$', '€', '£'])
        .trim_end_matches(|c: char| c.is_ascii_alphabetic() && !"kKmMbB".contains(c) || c == ' ')
        .chars()
        .filter(|c| *c != ',' && *c != ' ')
        .collect();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1e3),
        'm' | 'M' => (&s[..s.len() - 1], 1e6),
        'b' | 'B' => (&s[..s.len() - 1], 1e9),
        _ => (&s[..], 1.0),
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * mult).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn head_counts() {
        assert_eq!(parse_count("250"), Some(250));
        assert_eq!(parse_count(" 1,200 "), Some(1200));
        assert_eq!(parse_count("1 200"), Some(1200));
        assert_eq!(parse_count("51-200"), Some(51));
        assert_eq!(parse_count("51–200"), Some(51));
        assert_eq!(parse_count("10000+"), Some(10000));
        assert_eq!(parse_count("0"), Some(0));
        assert_eq!(parse_count("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            " ",
            ",.",
            "-5",
            "ten",
            "12a",
            "٣",
            "18446744073709551616",
        ] {
            assert_eq!(parse_count(bad), None, "{bad:?}");
        }
    }

    /// What `tidy_text` means, written the slow, obvious way.
    fn tidied(raw: &str) -> String {
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn tidy_text_collapses_every_kind_of_whitespace() {
        for (raw, want) in [
            ("  VP  Sales ", "VP Sales"),
            ("Head\tof\nSales", "Head of Sales"),
            ("a\u{0b}b\u{0c}c\rd", "a b c d"),
            ("Ventes\u{a0} et marketing", "Ventes et marketing"),
            ("Directeur général", "Directeur général"),
            ("", ""),
        ] {
            assert_eq!(tidy_text(raw), want, "{raw:?}");
        }
    }

    proptest! {
        #[test]
        fn tidy_text_is_whitespace_collapsed(s in "[ a-zé\\t\\n\\r\\u{0b}\\u{0c}\\u{a0}\\u{2003}]{0,24}") {
            prop_assert_eq!(tidy_text(&s), tidied(&s));
        }
    }
}
