//! Companies: the organisations leads work for, or that a scrape (Google
//! Maps, a directory, ads) finds directly.
//!
//! A company is the same when its registrable domain matches, else its source
//! place id (a Google place id), else its main phone number, else its name
//! key plus postal code. These mirror the lead keys in [`crate::dedupe`]: the
//! domain is what every source agrees on, a place id is exact but only one
//! source knows it, a business line is rarely shared, and a name is only
//! trustworthy together with where the company is.
//!
//! Merging two records of one company follows exactly the lead merge's rules
//! (fill gaps; on a conflict the higher-priority source wins, then the newer
//! record; per-field provenance; every record stays linked), through the same
//! code in `dedupe`, so the two can never drift apart.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ads::AdActivity;
use crate::dedupe::{MergeCtx, MergeOutcome, SourcePriority};
use crate::domain::Domain;
use crate::geo::Country;
use crate::lead::{Field, Lead, Provenance, SourceRef};
use crate::linkedin::LinkedinUrl;
use crate::names::{company_name_key, tidy_company_name};
use crate::phone::Phone;

/// Row id of a company in the store.
pub type CompanyId = i64;

/// A company field whose source provenance records.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CompanyField {
    Name,
    Domain,
    PlaceId,
    Phone,
    Street,
    City,
    State,
    PostalCode,
    Country,
    Industry,
    EmployeeCount,
    Revenue,
    Rating,
    ReviewCount,
    Linkedin,
    GoogleAds,
    MetaAds,
    LinkedinAds,
}

/// Where each field of a company came from.
pub type CompanyProvenance = Provenance<CompanyField>;

/// A company's display name together with its dedupe key.
///
/// Built only by [`CompanyName::parse`], so the key always belongs to the
/// name it sits next to: a merge that replaces the name replaces the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompanyName {
    name: String,
    key: String,
}

impl CompanyName {
    /// Tidies a raw name for display (`ACME HOLDINGS, INC.` → `Acme Holdings,
    /// Inc.`) and keys it (`acme holdings`). `None` when nothing is left.
    pub fn parse(raw: &str) -> Option<CompanyName> {
        let name = tidy_company_name(raw);
        if name.is_empty() {
            return None;
        }
        let key = company_name_key(&name);
        Some(CompanyName { name, key })
    }

    /// The tidied name, for display.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The dedupe key (`names::company_name_key`); empty for a name of
    /// punctuation only, which then identifies nothing.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Serialize for CompanyName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

/// Read back by parsing again: tidying a tidy name changes nothing, and the
/// key is recomputed, so a stored name can never carry a stale key.
impl<'de> Deserialize<'de> for CompanyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CompanyName, D::Error> {
        let raw = String::deserialize(d)?;
        CompanyName::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("empty company name {raw:?}")))
    }
}

/// An organisation, merged from every record that describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Company {
    pub id: CompanyId,
    pub name: Option<CompanyName>,
    /// The registrable domain of its website.
    pub domain: Option<Domain>,
    /// The id of the place in the source that found it (a Google place id),
    /// kept as given: place ids are case-sensitive.
    pub place_id: Option<String>,
    pub phone: Option<Phone>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<Country>,
    pub industry: Option<String>,
    pub employee_count: Option<u32>,
    /// Yearly revenue in whole units of the source's currency.
    pub revenue: Option<u64>,
    /// Average review rating as the source shows it (0–5 stars on Google).
    pub rating: Option<f32>,
    pub review_count: Option<u32>,
    /// Its LinkedIn page (a [`crate::linkedin::LinkedinKind::Company`] URL).
    pub linkedin: Option<LinkedinUrl>,
    /// Advertising seen in each platform's ad library, as of its last look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_ads: Option<AdActivity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_ads: Option<AdActivity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkedin_ads: Option<AdActivity>,
    pub tags: Vec<String>,
    /// Source columns no field mapped, kept by their header name.
    pub custom: Vec<(String, String)>,
    pub provenance: CompanyProvenance,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Company {
    /// An empty company observed in `origin`, to be filled by a parser.
    pub fn new(origin: SourceRef) -> Company {
        Company {
            id: 0,
            name: None,
            domain: None,
            place_id: None,
            phone: None,
            street: None,
            city: None,
            state: None,
            postal_code: None,
            country: None,
            industry: None,
            employee_count: None,
            revenue: None,
            rating: None,
            review_count: None,
            linkedin: None,
            google_ads: None,
            meta_ads: None,
            linkedin_ads: None,
            tags: Vec::new(),
            custom: Vec::new(),
            provenance: Provenance {
                origin: Some(origin),
                ..Provenance::default()
            },
            created_at: origin.at,
            updated_at: origin.at,
        }
    }

    /// The platforms it runs ads on now: `google`, `meta`, `linkedin`.
    pub fn ad_platforms(&self) -> Vec<&'static str> {
        [
            ("google", &self.google_ads),
            ("meta", &self.meta_ads),
            ("linkedin", &self.linkedin_ads),
        ]
        .into_iter()
        .filter(|(_, a)| a.as_ref().is_some_and(AdActivity::running))
        .map(|(p, _)| p)
        .collect()
    }

    /// Ads seen in the last look of every platform, running or not.
    pub fn ad_count(&self) -> u32 {
        [&self.google_ads, &self.meta_ads, &self.linkedin_ads]
            .into_iter()
            .flatten()
            .map(|a| a.ad_count)
            .sum()
    }

    /// The dedupe key of the name, if the company has a name.
    pub fn name_key(&self) -> Option<&str> {
        self.name.as_ref().map(CompanyName::key)
    }

    /// The company part of a lead: its name, domain, phone, LinkedIn page,
    /// industry, size, revenue and location, each with the source it has in
    /// the lead. The location is the lead's, which in most exports is the
    /// person's office: close enough to place the company, and a record of a
    /// better source replaces it in a merge.
    ///
    /// `None` when the lead says nothing by which the company could be found
    /// again (no domain, and no name with a postal code): such a company would
    /// be created anew by every import. Tags and custom fields stay with the
    /// lead, as they describe the person or the import.
    pub fn from_lead(lead: &Lead) -> Option<Company> {
        let origin = lead.provenance.origin?;
        let mut company = Company::new(origin);
        company.name = lead.company_name.as_deref().and_then(CompanyName::parse);
        company.domain = lead.company_domain.clone();
        company.phone = lead.company_phone.clone();
        company.linkedin = lead.company_linkedin.clone();
        company.industry = lead.industry.clone();
        company.employee_count = lead.employee_count;
        company.revenue = lead.revenue;
        company.city = lead.city.clone();
        company.state = lead.state.clone();
        company.postal_code = lead.postal_code.clone();
        company.country = lead.country;
        if CompanyKeys::of(&company).is_empty() {
            return None;
        }
        let present = [
            (
                Field::CompanyName,
                CompanyField::Name,
                company.name.is_some(),
            ),
            (
                Field::CompanyDomain,
                CompanyField::Domain,
                company.domain.is_some(),
            ),
            (
                Field::CompanyPhone,
                CompanyField::Phone,
                company.phone.is_some(),
            ),
            (
                Field::CompanyLinkedinUrl,
                CompanyField::Linkedin,
                company.linkedin.is_some(),
            ),
            (
                Field::Industry,
                CompanyField::Industry,
                company.industry.is_some(),
            ),
            (
                Field::EmployeeCount,
                CompanyField::EmployeeCount,
                company.employee_count.is_some(),
            ),
            (
                Field::Revenue,
                CompanyField::Revenue,
                company.revenue.is_some(),
            ),
            (Field::City, CompanyField::City, company.city.is_some()),
            (Field::State, CompanyField::State, company.state.is_some()),
            (
                Field::PostalCode,
                CompanyField::PostalCode,
                company.postal_code.is_some(),
            ),
            (
                Field::Country,
                CompanyField::Country,
                company.country.is_some(),
            ),
        ];
        for (lead_field, field, is_set) in present {
            if let Some(src) = lead.provenance.of(lead_field).filter(|_| is_set) {
                company.provenance.set(field, src);
            }
        }
        company.provenance.linked = lead.provenance.linked.clone();
        company.created_at = lead.created_at;
        company.updated_at = lead.updated_at;
        Some(company)
    }
}

/// The kinds of company key, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CompanyKeyKind {
    /// The registrable domain: `acme.co.uk`.
    Domain,
    /// The source's place id.
    PlaceId,
    /// The main phone number in E.164 (with any extension).
    Phone,
    /// `name key|postal code`: `acme holdings|SW1A1AA`.
    NamePostal,
}

/// The keys under which a company can be found again. Equal keys of one kind
/// mean the same company.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyKeys {
    pub domain: Option<String>,
    pub place_id: Option<String>,
    pub phone: Option<String>,
    pub name_postal: Option<String>,
}

impl CompanyKeys {
    pub fn of(company: &Company) -> CompanyKeys {
        let name_postal = match (company.name_key(), company.postal_code.as_deref()) {
            (Some(name), Some(postal)) if !name.is_empty() => {
                postal_key(postal).map(|postal| format!("{name}|{postal}"))
            }
            _ => None,
        };
        CompanyKeys {
            domain: company.domain.as_ref().map(|d| d.as_str().to_owned()),
            place_id: company
                .place_id
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
            phone: company.phone.as_ref().map(Phone::canonical),
            name_postal,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.domain.is_none()
            && self.place_id.is_none()
            && self.phone.is_none()
            && self.name_postal.is_none()
    }

    /// The keys present, strongest first: the order in which a resolver looks
    /// a company up, taking the first one it finds.
    pub fn in_precedence(&self) -> impl Iterator<Item = (CompanyKeyKind, &str)> + '_ {
        [
            (CompanyKeyKind::Domain, &self.domain),
            (CompanyKeyKind::PlaceId, &self.place_id),
            (CompanyKeyKind::Phone, &self.phone),
            (CompanyKeyKind::NamePostal, &self.name_postal),
        ]
        .into_iter()
        .filter_map(|(kind, key)| Some((kind, key.as_deref()?)))
    }

    /// The strongest key two companies share, if they are the same company.
    ///
    /// A weaker key decides when a stronger one is missing on either side or
    /// differs, as for leads: a company with two websites is still one
    /// company at one place.
    pub fn matched_by(&self, other: &CompanyKeys) -> Option<CompanyKeyKind> {
        self.in_precedence()
            .find(|(kind, key)| other.in_precedence().any(|(k, v)| k == *kind && v == *key))
            .map(|(kind, _)| kind)
    }
}

/// A postal code as a key: ASCII letters and digits, upper case, so that
/// `sw1a 1aa` is `SW1A1AA`; a US ZIP+4 (`94105-1234`) keys as its ZIP.
fn postal_key(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let b = raw.as_bytes();
    let zip_plus_4 =
        b.len() == 10 && b[5] == b'-' && b[..5].iter().chain(&b[6..]).all(u8::is_ascii_digit);
    let raw = if zip_plus_4 { &raw[..5] } else { raw };
    let key: String = raw
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!key.is_empty()).then_some(key)
}

/// Merges `incoming` (a freshly parsed record, its provenance origin set) into
/// `target` by the lead merge's rules ([`crate::dedupe::merge_into`]).
/// Idempotent: merging the same record twice changes nothing the second time.
pub fn merge_company_into(
    target: &mut Company,
    incoming: &Company,
    priority: &dyn SourcePriority,
) -> MergeOutcome {
    let Some(src) = incoming.provenance.origin else {
        return MergeOutcome::default();
    };
    let ctx = MergeCtx::new(src, priority);
    let mut out = MergeOutcome::default();
    let prov = &mut target.provenance;
    macro_rules! merge {
        ($($name:ident => $field:expr),+ $(,)?) => {
            $( out.fields_changed += ctx.slot(&mut target.$name, &incoming.$name, $field, prov); )+
        };
    }
    merge!(
        name => CompanyField::Name,
        domain => CompanyField::Domain,
        place_id => CompanyField::PlaceId,
        phone => CompanyField::Phone,
        street => CompanyField::Street,
        city => CompanyField::City,
        state => CompanyField::State,
        postal_code => CompanyField::PostalCode,
        country => CompanyField::Country,
        industry => CompanyField::Industry,
        employee_count => CompanyField::EmployeeCount,
        revenue => CompanyField::Revenue,
        rating => CompanyField::Rating,
        review_count => CompanyField::ReviewCount,
        linkedin => CompanyField::Linkedin,
        google_ads => CompanyField::GoogleAds,
        meta_ads => CompanyField::MetaAds,
        linkedin_ads => CompanyField::LinkedinAds,
    );
    out.linked = ctx.link(prov);
    out.extras_changed = ctx.extras(
        &mut target.tags,
        &mut target.custom,
        target.provenance.origin,
        &incoming.tags,
        &incoming.custom,
    );
    if out.changed() {
        target.updated_at = target.updated_at.max(src.at);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::dedupe::NewestWins;
    use crate::lead::RecordId;
    use crate::linkedin::LinkedinKind;

    fn src(batch: i64, line: u64, at: i64) -> SourceRef {
        SourceRef {
            at,
            record: RecordId::new(batch, line),
        }
    }

    fn domain(raw: &str) -> Option<Domain> {
        Some(Domain::parse(raw).unwrap())
    }

    /// A company seen in `origin` with a name, domain, place id and postal
    /// code, any of which may be left out.
    fn company(
        origin: SourceRef,
        name: Option<&str>,
        site: Option<&str>,
        place: Option<&str>,
        postal: Option<&str>,
    ) -> Company {
        let mut c = Company::new(origin);
        c.name = name.and_then(CompanyName::parse);
        c.domain = site.and_then(domain);
        c.place_id = place.map(str::to_owned);
        c.postal_code = postal.map(str::to_owned);
        c
    }

    fn keys(c: &Company) -> CompanyKeys {
        CompanyKeys::of(c)
    }

    /// Ranks records by batch; unlisted batches rank 0.
    struct ByBatch(&'static [(i64, i32)]);

    impl SourcePriority for ByBatch {
        fn of_record(&self, record: RecordId) -> i32 {
            self.0
                .iter()
                .find(|(b, _)| *b == record.batch())
                .map_or(0, |(_, p)| *p)
        }
    }

    #[test]
    fn the_domain_key_is_the_registrable_domain_of_the_website() {
        let c = company(
            src(1, 2, 0),
            None,
            Some("https://WWW.Shop.Acme.co.uk/about"),
            None,
            None,
        );
        assert_eq!(keys(&c).domain.as_deref(), Some("acme.co.uk"));
    }

    #[test]
    fn the_place_id_key_is_trimmed_and_keeps_its_case() {
        let c = company(src(1, 2, 0), None, None, Some("  ChIJN1t_tDeuEmsR  "), None);
        assert_eq!(keys(&c).place_id.as_deref(), Some("ChIJN1t_tDeuEmsR"));
        let blank = company(src(1, 2, 0), None, None, Some("   "), None);
        assert_eq!(keys(&blank).place_id, None);
    }

    #[test]
    fn the_name_key_ignores_case_legal_form_and_postal_code_spacing() {
        let a = company(
            src(1, 2, 0),
            Some("ACME HOLDINGS, INC."),
            None,
            None,
            Some("sw1a 1aa"),
        );
        let b = company(
            src(1, 3, 0),
            Some("Acme Holdings"),
            None,
            None,
            Some("SW1A1AA"),
        );
        assert_eq!(a.name.as_ref().unwrap().as_str(), "Acme Holdings, Inc.");
        assert_eq!(a.name_key(), Some("acme holdings"));
        assert_eq!(
            keys(&a).name_postal.as_deref(),
            Some("acme holdings|SW1A1AA")
        );
        assert_eq!(keys(&a).name_postal, keys(&b).name_postal);
    }

    #[test]
    fn a_zip_plus_4_keys_as_its_zip() {
        let a = company(src(1, 2, 0), Some("Acme"), None, None, Some("94105-1234"));
        let b = company(src(1, 3, 0), Some("Acme"), None, None, Some("94105"));
        assert_eq!(keys(&a).name_postal.as_deref(), Some("acme|94105"));
        assert_eq!(keys(&a).name_postal, keys(&b).name_postal);
    }

    #[test]
    fn a_name_without_a_postal_code_or_a_key_identifies_nothing() {
        let no_postal = company(src(1, 2, 0), Some("Acme"), None, None, None);
        assert!(keys(&no_postal).is_empty());
        let no_key = company(src(1, 2, 0), Some("!!!"), None, None, Some("94105"));
        assert_eq!(no_key.name_key(), Some(""));
        assert!(keys(&no_key).is_empty());
        let blank_postal = company(src(1, 2, 0), Some("Acme"), None, None, Some(" - "));
        assert!(keys(&blank_postal).is_empty());
    }

    #[test]
    fn the_same_registrable_domain_is_the_same_company() {
        let a = company(
            src(1, 2, 0),
            Some("Acme"),
            Some("acme.com"),
            Some("p1"),
            Some("94105"),
        );
        let b = company(
            src(1, 3, 0),
            Some("Acme Europe GmbH"),
            Some("https://eu.acme.com"),
            Some("p2"),
            Some("10115"),
        );
        assert_eq!(keys(&a).matched_by(&keys(&b)), Some(CompanyKeyKind::Domain));
    }

    #[test]
    fn the_same_place_id_is_the_same_company_when_the_domain_does_not_decide() {
        let listing = company(src(1, 2, 0), Some("Joe's Pizza"), None, Some("p1"), None);
        let with_site = company(
            src(2, 2, 0),
            Some("Joe's Pizza NYC"),
            Some("joespizza.com"),
            Some("p1"),
            None,
        );
        assert_eq!(
            keys(&listing).matched_by(&keys(&with_site)),
            Some(CompanyKeyKind::PlaceId)
        );
        let new_site = company(src(3, 2, 0), None, Some("joes.nyc"), Some("p1"), None);
        assert_eq!(
            keys(&with_site).matched_by(&keys(&new_site)),
            Some(CompanyKeyKind::PlaceId),
            "one place with two websites is one company"
        );
    }

    #[test]
    fn name_and_postal_code_identify_when_there_is_no_domain_or_place_id_match() {
        let a = company(src(1, 2, 0), Some("Acme LLC"), None, None, Some("94105"));
        let b = company(
            src(1, 3, 0),
            Some("acme"),
            Some("acme.com"),
            Some("p9"),
            Some("94105"),
        );
        assert_eq!(
            keys(&a).matched_by(&keys(&b)),
            Some(CompanyKeyKind::NamePostal)
        );
        let elsewhere = company(src(1, 4, 0), Some("Acme"), None, None, Some("10115"));
        assert_eq!(keys(&a).matched_by(&keys(&elsewhere)), None);
    }

    #[test]
    fn the_strongest_shared_key_names_the_match() {
        let a = company(
            src(1, 2, 0),
            Some("Acme"),
            Some("acme.com"),
            Some("p1"),
            Some("94105"),
        );
        let b = a.clone();
        assert_eq!(keys(&a).matched_by(&keys(&b)), Some(CompanyKeyKind::Domain));
    }

    #[test]
    fn a_lookup_takes_the_domain_before_the_place_id_before_the_name() {
        // Three stored companies, each findable by one key only.
        let by_domain = company(src(1, 2, 0), None, Some("acme.com"), None, None);
        let by_place = company(src(1, 3, 0), None, None, Some("p1"), None);
        let by_name = company(src(1, 4, 0), Some("Acme"), None, None, Some("94105"));
        let mut index: HashMap<(CompanyKeyKind, String), &str> = HashMap::new();
        for (c, id) in [
            (&by_domain, "domain"),
            (&by_place, "place"),
            (&by_name, "name"),
        ] {
            for (kind, key) in keys(c).in_precedence() {
                index.insert((kind, key.to_owned()), id);
            }
        }
        let find = |c: &Company| {
            keys(c)
                .in_precedence()
                .find_map(|(kind, key)| index.get(&(kind, key.to_owned())).copied())
        };
        let all_three = company(
            src(2, 2, 0),
            Some("Acme"),
            Some("acme.com"),
            Some("p1"),
            Some("94105"),
        );
        assert_eq!(find(&all_three), Some("domain"));
        let place_and_name = company(src(2, 3, 0), Some("Acme"), None, Some("p1"), Some("94105"));
        assert_eq!(find(&place_and_name), Some("place"));
        let unknown_domain = company(
            src(2, 4, 0),
            Some("Acme"),
            Some("acme-new.com"),
            None,
            Some("94105"),
        );
        assert_eq!(find(&unknown_domain), Some("name"));
    }

    #[test]
    fn merging_fills_gaps_links_the_record_and_keeps_provenance() {
        let mut target = company(src(1, 2, 100), Some("Acme"), Some("acme.com"), None, None);
        let mut incoming = company(src(2, 7, 200), None, None, Some("p1"), Some("94105"));
        incoming.rating = Some(4.5);
        incoming.review_count = Some(120);
        incoming.tags = vec!["maps".into()];

        let out = merge_company_into(&mut target, &incoming, &NewestWins);
        assert_eq!(out.fields_changed, 4);
        assert!(out.linked);
        assert_eq!(out.extras_changed, 1);
        assert_eq!(target.place_id.as_deref(), Some("p1"));
        assert_eq!(target.rating, Some(4.5));
        assert_eq!(
            target.name_key(),
            Some("acme"),
            "a missing value never erases"
        );
        assert_eq!(
            target.provenance.of(CompanyField::PlaceId),
            Some(src(2, 7, 200))
        );
        assert_eq!(
            target.provenance.of(CompanyField::Rating),
            Some(src(2, 7, 200))
        );
        assert_eq!(
            target.provenance.of(CompanyField::Name),
            Some(src(1, 2, 100))
        );
        assert_eq!(target.provenance.linked, vec![RecordId::new(2, 7)]);
        assert_eq!(target.tags, vec!["maps".to_string()]);
        assert_eq!(target.updated_at, 200);
        assert_eq!(target.created_at, 100);
    }

    #[test]
    fn merging_the_same_record_twice_changes_nothing() {
        let mut target = company(src(1, 2, 100), Some("Acme"), Some("acme.com"), None, None);
        let mut incoming = company(
            src(2, 7, 200),
            Some("Acme Corp"),
            Some("acme.com"),
            Some("p1"),
            None,
        );
        incoming.custom = vec![("ads".into(), "yes".into())];
        incoming.tags = vec!["maps".into()];
        assert!(merge_company_into(&mut target, &incoming, &NewestWins).changed());
        let once = target.clone();
        let again = merge_company_into(&mut target, &incoming, &NewestWins);
        assert!(!again.changed(), "{again:?}");
        assert_eq!(target, once);
    }

    #[test]
    fn merging_a_companys_own_origin_changes_nothing() {
        let mut target = company(src(1, 2, 100), Some("Acme"), Some("acme.com"), None, None);
        let itself = target.clone();
        assert!(!merge_company_into(&mut target, &itself, &NewestWins).changed());
        assert_eq!(target, itself);
    }

    #[test]
    fn the_newer_record_wins_a_conflict_between_equal_sources() {
        let mut target = company(src(1, 2, 100), Some("Acme"), None, None, None);
        let newer = company(src(2, 2, 200), Some("Acme Corp"), None, None, None);
        let older = company(src(3, 2, 50), Some("ACME Old"), None, None, None);

        assert_eq!(
            merge_company_into(&mut target, &newer, &NewestWins).fields_changed,
            1
        );
        assert_eq!(target.name.as_ref().unwrap().as_str(), "Acme Corp");
        assert_eq!(target.name_key(), Some("acme"), "the key follows the name");
        assert_eq!(
            target.provenance.of(CompanyField::Name),
            Some(src(2, 2, 200))
        );

        let out = merge_company_into(&mut target, &older, &NewestWins);
        assert_eq!(out.fields_changed, 0, "an older record does not overwrite");
        assert!(out.linked, "but it is linked");
        assert_eq!(target.name.as_ref().unwrap().as_str(), "Acme Corp");
    }

    #[test]
    fn a_higher_priority_source_keeps_its_value_against_a_newer_one() {
        // Batch 1 is the trusted source, batch 2 a newer but lower one.
        let priority = ByBatch(&[(1, 10)]);
        let mut target = company(src(1, 2, 100), Some("Acme"), None, None, None);
        target.industry = Some("Software".into());
        let mut newer = company(src(2, 2, 200), None, None, None, None);
        newer.industry = Some("Retail".into());
        newer.city = Some("Berlin".into());

        let out = merge_company_into(&mut target, &newer, &priority);
        assert_eq!(target.industry.as_deref(), Some("Software"));
        assert_eq!(
            target.city.as_deref(),
            Some("Berlin"),
            "gaps are filled all the same"
        );
        assert_eq!(out.fields_changed, 1);
        assert_eq!(
            target.provenance.of(CompanyField::Industry),
            Some(src(1, 2, 100))
        );

        // Without the priority, the newer value wins.
        let mut plain = company(src(1, 2, 100), Some("Acme"), None, None, None);
        plain.industry = Some("Software".into());
        merge_company_into(&mut plain, &newer, &NewestWins);
        assert_eq!(plain.industry.as_deref(), Some("Retail"));
    }

    #[test]
    fn a_higher_priority_source_replaces_an_older_lower_value() {
        let priority = ByBatch(&[(2, 10)]);
        let mut target = company(src(1, 2, 500), None, None, None, None);
        target.phone = Some(Phone::parse("+1 415 555 0100", Country::US).unwrap());
        let mut trusted = company(src(2, 2, 100), None, None, None, None);
        trusted.phone = Some(Phone::parse("+1 415 555 0199", Country::US).unwrap());
        merge_company_into(&mut target, &trusted, &priority);
        assert_eq!(target.phone.as_ref().unwrap().e164(), "+14155550199");
        assert_eq!(
            target.provenance.of(CompanyField::Phone),
            Some(src(2, 2, 100))
        );
        assert_eq!(target.updated_at, 500, "updated_at never goes back");
    }

    #[test]
    fn custom_fields_follow_the_newest_record() {
        let mut target = company(src(1, 2, 100), None, None, None, None);
        target.custom = vec![("ads".into(), "no".into())];
        let mut newer = company(src(2, 2, 200), None, None, None, None);
        newer.custom = vec![
            ("ads".into(), "yes".into()),
            ("stack".into(), "shopify".into()),
        ];
        let out = merge_company_into(&mut target, &newer, &NewestWins);
        assert_eq!(out.extras_changed, 2);
        assert_eq!(
            target.custom,
            vec![
                ("ads".to_string(), "yes".to_string()),
                ("stack".to_string(), "shopify".to_string())
            ]
        );
    }

    fn lead_at(origin: SourceRef) -> Lead {
        Lead::empty("csv_upload", origin)
    }

    #[test]
    fn a_leads_company_part_becomes_a_company_with_its_sources() {
        let mut lead = lead_at(src(1, 2, 100));
        lead.first_name = Some("Jane".into());
        lead.company_name = Some("Acme Holdings, Inc.".into());
        lead.company_domain = domain("https://www.acme.com/team");
        lead.company_phone = Some(Phone::parse("415 555 0100", Country::US).unwrap());
        lead.company_linkedin = Some(LinkedinUrl::parse("linkedin.com/company/acme").unwrap());
        lead.industry = Some("Software".into());
        lead.employee_count = Some(250);
        lead.revenue = Some(5_000_000);
        lead.city = Some("San Francisco".into());
        lead.state = Some("CA".into());
        lead.postal_code = Some("94105".into());
        lead.country = Some(Country::US);
        lead.tags = vec!["q4".into()];
        // A later record of the lead brought the industry.
        lead.provenance.set(Field::Industry, src(2, 9, 200));
        lead.provenance.linked = vec![RecordId::new(2, 9)];

        let c = Company::from_lead(&lead).expect("a company");
        assert_eq!(c.id, 0);
        assert_eq!(c.name.as_ref().unwrap().as_str(), "Acme Holdings, Inc.");
        assert_eq!(c.name_key(), Some("acme holdings"));
        assert_eq!(c.domain, domain("acme.com"));
        assert_eq!(c.phone.as_ref().unwrap().e164(), "+14155550100");
        assert_eq!(c.linkedin.as_ref().unwrap().kind(), LinkedinKind::Company);
        assert_eq!(
            (c.industry.as_deref(), c.employee_count, c.revenue),
            (Some("Software"), Some(250), Some(5_000_000))
        );
        assert_eq!(
            (
                c.city.as_deref(),
                c.state.as_deref(),
                c.postal_code.as_deref(),
                c.country
            ),
            (
                Some("San Francisco"),
                Some("CA"),
                Some("94105"),
                Some(Country::US)
            )
        );
        assert!(c.tags.is_empty(), "a lead's tags describe the person");
        assert_eq!(c.provenance.origin, Some(src(1, 2, 100)));
        assert_eq!(
            c.provenance.of(CompanyField::Industry),
            Some(src(2, 9, 200))
        );
        assert_eq!(c.provenance.of(CompanyField::Name), Some(src(1, 2, 100)));
        assert_eq!(c.provenance.linked, vec![RecordId::new(2, 9)]);
        assert_eq!(keys(&c).domain.as_deref(), Some("acme.com"));
        assert_eq!(keys(&c).name_postal.as_deref(), Some("acme holdings|94105"));
    }

    #[test]
    fn a_lead_whose_company_cannot_be_found_again_gives_no_company() {
        let mut lead = lead_at(src(1, 2, 100));
        lead.company_name = Some("Acme".into());
        lead.industry = Some("Software".into());
        assert_eq!(
            Company::from_lead(&lead),
            None,
            "a name alone is no identity"
        );
        lead.postal_code = Some("94105".into());
        assert!(
            Company::from_lead(&lead).is_some(),
            "name and postal code are"
        );
    }

    #[test]
    fn companies_from_two_records_of_a_lead_merge_into_one() {
        let mut first = lead_at(src(1, 2, 100));
        first.company_domain = domain("acme.com");
        first.industry = Some("Software".into());
        let mut second = lead_at(src(2, 5, 200));
        second.company_domain = domain("www.acme.com");
        second.employee_count = Some(50);
        let mut a = Company::from_lead(&first).unwrap();
        let b = Company::from_lead(&second).unwrap();
        assert_eq!(keys(&a).matched_by(&keys(&b)), Some(CompanyKeyKind::Domain));
        merge_company_into(&mut a, &b, &NewestWins);
        assert_eq!(
            (a.industry.as_deref(), a.employee_count),
            (Some("Software"), Some(50))
        );
        assert!(a.provenance.has_record(RecordId::new(2, 5)));
    }

    #[test]
    fn a_company_serializes_its_name_as_text_and_provenance_by_field_name() {
        let mut c = company(
            src(1, 2, 100),
            Some("acme llc"),
            Some("acme.com"),
            None,
            None,
        );
        c.provenance.set(CompanyField::ReviewCount, src(2, 3, 200));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["name"], "Acme LLC");
        assert_eq!(json["domain"], "acme.com");
        assert_eq!(json["provenance"]["fields"][0][0], "review_count");
    }
}
