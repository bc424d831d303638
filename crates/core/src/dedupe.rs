//! Identity keys and the merge of two records of the same person.
//!
//! A person is the same when the email key matches, else the LinkedIn
//! profile, else full-name key plus company domain. A merge never loses data:
//! each field keeps the value of the higher-priority source, then the newer
//! one, and remembers where it came from; every merged record stays linked.

use crate::lead::{Field, Lead, RecordId, SourceRef};
use crate::names::person_name_key;

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

/// `first last|domain`, when the lead has both name parts and a company domain.
pub fn name_company_key(lead: &Lead) -> Option<String> {
    let (first, last, domain) = (
        lead.first_name.as_deref()?,
        lead.last_name.as_deref()?,
        lead.company_domain.as_ref()?,
    );
    let name = person_name_key(first, last);
    if name.trim().is_empty() {
        return None;
    }
    Some(format!("{name}|{}", domain.as_str()))
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

struct Ctx<'a> {
    incoming: SourceRef,
    incoming_rank: (i32, SourceRef),
    priority: &'a dyn SourcePriority,
}

impl Ctx<'_> {
    /// Whether the incoming value beats the one from `existing`.
    fn incoming_wins(&self, existing: Option<SourceRef>) -> bool {
        match existing {
            None => true,
            Some(src) => self.incoming_rank > (self.priority.of_record(src.record), src),
        }
    }
}

fn merge_slot<T: PartialEq + Clone>(
    slot: &mut Option<T>,
    incoming: &Option<T>,
    field: Field,
    target: &mut crate::lead::Provenance,
    ctx: &Ctx<'_>,
) -> u32 {
    let Some(new) = incoming else { return 0 };
    match slot {
        Some(old) if old == new => 0,
        Some(_) if !ctx.incoming_wins(target.of(field)) => 0,
        _ => {
            *slot = Some(new.clone());
            target.set(field, ctx.incoming);
            1
        }
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
    let ctx = Ctx {
        incoming: src,
        incoming_rank: (priority.of_record(src.record), src),
        priority,
    };
    let mut out = MergeOutcome::default();
    let prov = &mut target.provenance;
    macro_rules! merge {
        ($($name:ident => $field:expr),+ $(,)?) => {
            $( out.fields_changed += merge_slot(&mut target.$name, &incoming.$name, $field, prov, &ctx); )+
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

    if !prov.has_record(src.record) {
        prov.linked.push(src.record);
        prov.linked.sort_unstable();
        out.linked = true;
    }
    for tag in &incoming.tags {
        if !target.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            target.tags.push(tag.clone());
            out.extras_changed += 1;
        }
    }
    // Custom fields have no per-key provenance: the lead's newest record wins.
    let incoming_newer = ctx.incoming_wins(target.provenance.origin);
    for (key, value) in &incoming.custom {
        match target.custom.iter_mut().find(|(k, _)| k == key) {
            None => {
                target.custom.push((key.clone(), value.clone()));
                out.extras_changed += 1;
            }
            Some((_, old)) if old != value && incoming_newer => {
                *old = value.clone();
                out.extras_changed += 1;
            }
            Some(_) => {}
        }
    }
    if out.changed() {
        target.updated_at = target.updated_at.max(src.at);
    }
    out
}
