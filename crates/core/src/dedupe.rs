//! Identity keys and the merge of two records of the same person.
//!
//! A person is the same when the email key matches, else the LinkedIn
//! profile, else full-name key plus company domain. A merge never loses data:
//! each field keeps the value of the higher-priority source, then the newer
//! one, and remembers where it came from; every merged record stays linked.

use crate::lead::{Field, Lead, Provenance, RecordId, SourceRef};
use crate::names::push_person_name_key;

/// The keys under which a lead can be found again. Each is a canonical string,
/// so equal keys mean the same person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadKeys {
    pub email: Option<String>,
    pub linkedin: Option<String>,
    pub name_company: Option<String>,
}

impl LeadKeys {
    pub fn of(lead: &Lead) -> LeadKeys {
        LeadKeys {
            email: lead.email.as_ref().map(|e| e.dedupe_key()),
            linkedin: lead.linkedin.as_ref().map(|l| l.as_str().to_owned()),
            name_company: name_company_key(lead),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.linkedin.is_none() && self.name_company.is_none()
    }
}

/// A 64-bit fingerprint of a key, stable across versions and machines
/// (XXH3), so it can be stored and indexed in place of the key itself.
pub fn key_hash(key: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

/// The fingerprints of a lead's keys: compact enough to hold every lead of a
/// workspace in memory during an ingest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct KeyHashes {
    pub email: Option<u64>,
    pub linkedin: Option<u64>,
    pub name_company: Option<u64>,
}

/// Which identity a stored key stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Email = 1,
    Linkedin = 2,
    NameCompany = 3,
}

/// The key as stored: one 64-bit number for (workspace, kind, key), so all
/// identities of a workspace live in one integer-keyed table that is written
/// in sorted order and read back in one scan.
pub fn stored_key(ws: i64, kind: KeyKind, hash: u64) -> i64 {
    let mut bytes = [0u8; 17];
    bytes[..8].copy_from_slice(&ws.to_le_bytes());
    bytes[8] = kind as u8;
    bytes[9..].copy_from_slice(&hash.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes) as i64
}

impl KeyHashes {
    /// The fingerprints of [`LeadKeys::of`]'s keys, each key built in `buf`
    /// (reused across leads) instead of allocated: the import's hot path.
    pub fn of(lead: &Lead, buf: &mut String) -> KeyHashes {
        let email = lead.email.as_ref().map(|e| {
            e.dedupe_key_into(buf);
            key_hash(buf)
        });
        let linkedin = lead.linkedin.as_ref().map(|l| key_hash(l.as_str()));
        let name_company = name_company_key_into(lead, buf).then(|| key_hash(buf));
        KeyHashes {
            email,
            linkedin,
            name_company,
        }
    }

    /// The stored keys, in match priority order: email, LinkedIn, name+domain.
    pub fn stored(&self, ws: i64) -> [Option<i64>; 3] {
        [
            self.email.map(|h| stored_key(ws, KeyKind::Email, h)),
            self.linkedin.map(|h| stored_key(ws, KeyKind::Linkedin, h)),
            self.name_company
                .map(|h| stored_key(ws, KeyKind::NameCompany, h)),
        ]
    }
}

impl LeadKeys {
    pub fn hashes(&self) -> KeyHashes {
        KeyHashes {
            email: self.email.as_deref().map(key_hash),
            linkedin: self.linkedin.as_deref().map(key_hash),
            name_company: self.name_company.as_deref().map(key_hash),
        }
    }
}

/// `first last|domain`, when the lead has both name parts and a company domain.
pub fn name_company_key(lead: &Lead) -> Option<String> {
    let mut key = String::new();
    name_company_key_into(lead, &mut key).then_some(key)
}

/// [`name_company_key`] into a reused buffer (cleared first); false, with
/// the buffer empty, when the lead has no such key.
pub fn name_company_key_into(lead: &Lead, buf: &mut String) -> bool {
    buf.clear();
    let (Some(first), Some(last), Some(domain)) = (
        lead.first_name.as_deref(),
        lead.last_name.as_deref(),
        lead.company_domain.as_ref(),
    ) else {
        return false;
    };
    push_person_name_key(buf, first, last);
    if buf.trim().is_empty() {
        buf.clear();
        return false;
    }
    buf.push('|');
    buf.push_str(domain.as_str());
    true
}

/// Ranks the sources a value can come from. A higher number wins a conflict;
/// sources not listed rank 0, and then the newer value wins.
pub trait SourcePriority {
    /// Priority of the source a record belongs to.
    fn of_record(&self, record: RecordId) -> i32;
}

/// Every source ranks the same: the newest value wins.
pub struct NewestWins;

impl SourcePriority for NewestWins {
    fn of_record(&self, _record: RecordId) -> i32 {
        0
    }
}

/// What a merge changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    /// Fields whose value was set or replaced.
    pub fields_changed: u32,
    /// Whether the incoming record was newly linked to the lead.
    pub linked: bool,
    /// Tags or custom fields that were added or replaced.
    pub extras_changed: u32,
}

impl MergeOutcome {
    pub fn changed(&self) -> bool {
        self.fields_changed > 0 || self.linked || self.extras_changed > 0
    }
}

/// One merge's incoming record and how it ranks against the sources already
/// in the target. The lead merge and the company merge both go through it,
/// so a conflict is settled by one rule wherever it happens.
pub(crate) struct MergeCtx<'a> {
    incoming: SourceRef,
    incoming_rank: (i32, SourceRef),
    priority: &'a dyn SourcePriority,
}

impl<'a> MergeCtx<'a> {
    pub(crate) fn new(incoming: SourceRef, priority: &'a dyn SourcePriority) -> MergeCtx<'a> {
        MergeCtx {
            incoming,
            incoming_rank: (priority.of_record(incoming.record), incoming),
            priority,
        }
    }

    /// Whether the incoming value beats the one from `existing`.
    fn incoming_wins(&self, existing: Option<SourceRef>) -> bool {
        match existing {
            None => true,
            Some(src) => self.incoming_rank > (self.priority.of_record(src.record), src),
        }
    }

    /// Merges one field: fills a gap, or replaces a different value when the
    /// incoming source wins, and records where the value now comes from.
    /// A missing incoming value never erases. Returns 1 if the value changed.
    pub(crate) fn slot<T: PartialEq + Clone, F: Copy + Ord>(
        &self,
        slot: &mut Option<T>,
        incoming: &Option<T>,
        field: F,
        target: &mut Provenance<F>,
    ) -> u32 {
        let Some(new) = incoming else { return 0 };
        match slot {
            Some(old) if old == new => 0,
            Some(_) if !self.incoming_wins(target.of(field)) => 0,
            _ => {
                *slot = Some(new.clone());
                target.set(field, self.incoming);
                1
            }
        }
    }

    /// Links the incoming record to the target; false if it already was.
    pub(crate) fn link<F>(&self, target: &mut Provenance<F>) -> bool {
        if target.has_record(self.incoming.record) {
            return false;
        }
        target.linked.push(self.incoming.record);
        target.linked.sort_unstable();
        true
    }

    /// Adds the tags the target lacks (compared case-insensitively) and
    /// merges custom fields. Custom fields have no per-key provenance, so a
    /// differing value is taken only when the incoming record beats the
    /// target's origin. Returns how many tags and custom fields changed.
    pub(crate) fn extras(
        &self,
        tags: &mut Vec<String>,
        custom: &mut Vec<(String, String)>,
        origin: Option<SourceRef>,
        incoming_tags: &[String],
        incoming_custom: &[(String, String)],
    ) -> u32 {
        let mut changed = 0;
        for tag in incoming_tags {
            if !tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
                tags.push(tag.clone());
                changed += 1;
            }
        }
        let incoming_newer = self.incoming_wins(origin);
        for (key, value) in incoming_custom {
            match custom.iter_mut().find(|(k, _)| k == key) {
                None => {
                    custom.push((key.clone(), value.clone()));
                    changed += 1;
                }
                Some((_, old)) if old != value && incoming_newer => {
                    *old = value.clone();
                    changed += 1;
                }
                Some(_) => {}
            }
        }
        changed
    }
}

/// Merges `incoming` (a freshly parsed record, its provenance origin set) into
/// `target`. Idempotent: merging the same record twice changes nothing the
/// second time.
pub fn merge_into(
    target: &mut Lead,
    incoming: &Lead,
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
        email => Field::Email,
        first_name => Field::FirstName,
        last_name => Field::LastName,
        title => Field::Title,
        seniority => Field::Seniority,
        department => Field::Department,
        phone => Field::Phone,
        mobile => Field::Mobile,
        linkedin => Field::LinkedinUrl,
        company_name => Field::CompanyName,
        company_domain => Field::CompanyDomain,
        company_linkedin => Field::CompanyLinkedinUrl,
        company_phone => Field::CompanyPhone,
        industry => Field::Industry,
        employee_count => Field::EmployeeCount,
        revenue => Field::Revenue,
        city => Field::City,
        state => Field::State,
        country => Field::Country,
        postal_code => Field::PostalCode,
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
