//! The nouns of the data model: leads (people), their fields, statuses.

use serde::{Deserialize, Serialize};

/// A lead field that an import column can map onto.
///
/// The order is stable: it is used as an index into per-field provenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Email,
    FirstName,
    LastName,
    FullName,
    Title,
    Seniority,
    Department,
    Phone,
    Mobile,
    LinkedinUrl,
    CompanyName,
    CompanyDomain,
    CompanyLinkedinUrl,
    CompanyPhone,
    Industry,
    EmployeeCount,
    Revenue,
    City,
    State,
    Country,
    PostalCode,
    Tags,
}

impl Field {
    pub const ALL: [Field; 22] = [
        Field::Email,
        Field::FirstName,
        Field::LastName,
        Field::FullName,
        Field::Title,
        Field::Seniority,
        Field::Department,
        Field::Phone,
        Field::Mobile,
        Field::LinkedinUrl,
        Field::CompanyName,
        Field::CompanyDomain,
        Field::CompanyLinkedinUrl,
        Field::CompanyPhone,
        Field::Industry,
        Field::EmployeeCount,
        Field::Revenue,
        Field::City,
        Field::State,
        Field::Country,
        Field::PostalCode,
        Field::Tags,
    ];

    /// The snake_case name used in `--map FIELD=COLUMN`, exports and the API.
    pub fn name(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::FullName => "full_name",
            Field::Title => "title",
            Field::Seniority => "seniority",
            Field::Department => "department",
            Field::Phone => "phone",
            Field::Mobile => "mobile",
            Field::LinkedinUrl => "linkedin_url",
            Field::CompanyName => "company_name",
            Field::CompanyDomain => "company_domain",
            Field::CompanyLinkedinUrl => "company_linkedin_url",
            Field::CompanyPhone => "company_phone",
            Field::Industry => "industry",
            Field::EmployeeCount => "employee_count",
            Field::Revenue => "revenue",
            Field::City => "city",
            Field::State => "state",
            Field::Country => "country",
            Field::PostalCode => "postal_code",
            Field::Tags => "tags",
        }
    }

    /// Parses a field name as a user types it (`email`, `first_name`, `First Name`).
    pub fn from_name(name: &str) -> Option<Field> {
        let wanted: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Field::ALL
            .into_iter()
            .find(|f| f.name().replace('_', "") == wanted)
    }
}

use crate::domain::Domain;
use crate::email::Email;
use crate::geo::Country;
use crate::linkedin::LinkedinUrl;
use crate::phone::Phone;

/// Row id of a lead in the store.
pub type LeadId = i64;

/// Identifies one source record: the raw row or API object a value came from.
///
/// Records are grouped in batches (an import file, an API call, a scrape);
/// the id packs the batch and the record's position in it, so that provenance
/// needs no row per record: `batch << 32 | line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId(pub i64);

impl RecordId {
    pub fn new(batch: i64, line: u64) -> RecordId {
        RecordId((batch << 32) | (line as i64 & 0xFFFF_FFFF))
    }
    pub fn batch(self) -> i64 {
        self.0 >> 32
    }
    pub fn line(self) -> u64 {
        (self.0 & 0xFFFF_FFFF) as u64
    }
}

/// Where a value came from and when that source observed it.
///
/// Ordering is by observation time, then record id, so "newer" is total and
/// stable: re-merging the same records always picks the same winner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceRef {
    /// Unix milliseconds at which the source was observed (import start).
    pub at: i64,
    pub record: RecordId,
}

/// The pipeline status of a lead, as the plan has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    Raw,
    Enriching,
    Enriched,
    Validated,
    Invalid,
    PushedToCrm,
    PushedToInstantly,
}

/// The sales lifecycle, separate from the pipeline status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    New,
    Contacted,
    Replied,
    Meeting,
    Won,
    Lost,
}

/// Score tier: A is the best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    A,
    B,
    C,
}

/// Buying intent as the plan defines it from counted signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentLevel {
    Hot,
    Warm,
    Cold,
}

str_enum!(LeadStatus {
    Raw => "raw",
    Enriching => "enriching",
    Enriched => "enriched",
    Validated => "validated",
    Invalid => "invalid",
    PushedToCrm => "pushed_to_crm",
    PushedToInstantly => "pushed_to_instantly",
});
str_enum!(LifecycleStage {
    New => "new",
    Contacted => "contacted",
    Replied => "replied",
    Meeting => "meeting",
    Won => "won",
    Lost => "lost",
});
str_enum!(Tier { A => "A", B => "B", C => "C" });
str_enum!(IntentLevel { Hot => "hot", Warm => "warm", Cold => "cold" });

/// Where each field of a lead (or, with `F` = [`crate::company::CompanyField`],
/// of a company) came from.
///
/// Most records come from one source, so only fields whose source differs
/// from the origin are listed; `linked` holds every other record merged in.
/// The field type is a parameter so that leads and companies share one
/// provenance rule and one merge (`dedupe`), each with its own field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "F: Deserialize<'de>"))]
pub struct Provenance<F = Field> {
    pub origin: Option<SourceRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(F, SourceRef)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked: Vec<RecordId>,
}

// Not derived: a derive would demand `F: Default`, which field enums are not.
impl<F> Default for Provenance<F> {
    fn default() -> Self {
        Provenance {
            origin: None,
            fields: Vec::new(),
            linked: Vec::new(),
        }
    }
}

impl<F: Copy + Ord> Provenance<F> {
    /// The source of one field's current value.
    pub fn of(&self, field: F) -> Option<SourceRef> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, s)| *s)
            .or(self.origin)
    }

    pub fn set(&mut self, field: F, src: SourceRef) {
        if self.origin == Some(src) {
            self.fields.retain(|(f, _)| *f != field);
            return;
        }
        match self.fields.iter_mut().find(|(f, _)| *f == field) {
            Some(slot) => slot.1 = src,
            None => {
                self.fields.push((field, src));
                self.fields.sort_unstable_by_key(|(f, _)| *f);
            }
        }
    }
}

impl<F> Provenance<F> {
    /// Every record this lead (or company) is built from, origin first.
    pub fn records(&self) -> impl Iterator<Item = RecordId> + '_ {
        self.origin
            .map(|o| o.record)
            .into_iter()
            .chain(self.linked.iter().copied())
    }

    pub fn has_record(&self, record: RecordId) -> bool {
        self.records().any(|r| r == record)
    }
}

/// A person we may contact, with the company they work for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lead {
    pub id: LeadId,
    pub email: Option<Email>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub seniority: Option<String>,
    pub department: Option<String>,
    pub phone: Option<Phone>,
    pub mobile: Option<Phone>,
    pub linkedin: Option<LinkedinUrl>,
    pub company_name: Option<String>,
    pub company_domain: Option<Domain>,
    pub company_linkedin: Option<LinkedinUrl>,
    pub company_phone: Option<Phone>,
    pub industry: Option<String>,
    pub employee_count: Option<u32>,
    pub revenue: Option<u64>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<Country>,
    pub postal_code: Option<String>,
    pub tags: Vec<String>,
    /// Columns no field mapped, kept by their header name.
    pub custom: Vec<(String, String)>,
    /// The source name of the record the lead was created from (`csv_upload`).
    pub source: String,
    pub status: LeadStatus,
    pub lifecycle: LifecycleStage,
    pub score: u8,
    pub tier: Tier,
    pub intent: IntentLevel,
    pub provenance: Provenance,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Lead {
    /// An empty lead, to be filled by a parser.
    pub fn empty(source: &str, origin: SourceRef) -> Lead {
        Lead {
            id: 0,
            email: None,
            first_name: None,
            last_name: None,
            title: None,
            seniority: None,
            department: None,
            phone: None,
            mobile: None,
            linkedin: None,
            company_name: None,
            company_domain: None,
            company_linkedin: None,
            company_phone: None,
            industry: None,
            employee_count: None,
            revenue: None,
            city: None,
            state: None,
            country: None,
            postal_code: None,
            tags: Vec::new(),
            custom: Vec::new(),
            source: source.to_owned(),
            status: LeadStatus::Raw,
            lifecycle: LifecycleStage::New,
            score: 0,
            tier: Tier::C,
            intent: IntentLevel::Cold,
            provenance: Provenance {
                origin: Some(origin),
                ..Provenance::default()
            },
            created_at: origin.at,
            updated_at: origin.at,
        }
    }

    /// The full name as one string, if any part is known.
    pub fn full_name(&self) -> Option<String> {
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (None, None) => None,
        }
    }
}
