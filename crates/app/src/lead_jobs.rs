//! Jobs for chosen leads: "verify these", "enrich those" — by id or by the
//! listing's filter — as one run, so progress, pause and resume apply. Used by
//! the API, the dashboard and the CLI alike.

use leadgen_core::job::{NewJob, RunId};
use leadgen_core::{Lead, LeadId, WorkspaceId};
use leadgen_store::{LeadFilter, LeadQuery, SortOrder, Store};

/// Which leads a job goes to.
#[derive(Debug, Clone)]
pub enum LeadSelection {
    /// These leads of the workspace (unknown ids are reported, not fatal).
    Ids(Vec<LeadId>),
    /// The first `max` leads that match, newest first.
    Filter { filter: LeadFilter, max: u32 },
}

/// `enqueue_verifications`, `enqueue_enrichments`: what an entry point calls
/// for "do this to these leads".
pub type EnqueueFn =
    fn(&dyn Store, WorkspaceId, &LeadSelection, i64) -> leadgen_store::Result<LeadJobs>;

/// Most leads one request may select.
pub const MAX_SELECTION: u32 = 100_000;

/// What was enqueued.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeadJobs {
    /// The run holding the jobs; `None` when no lead qualified.
    pub run_id: Option<RunId>,
    pub enqueued: u64,
    /// Selected leads that already have this job (enrichment is once per
    /// lead: a second request does not pay again).
    pub already_queued: u64,
    /// Selected leads the job cannot use (a verification needs an email).
    pub skipped: u64,
    /// Ids that are not leads of the workspace.
    pub not_found: Vec<LeadId>,
}

/// Enqueues one `job_type` job per selected lead that `wants`, with payload
/// `{"lead_id": id}`, in a run of `kind` named `name`. With `once`, each job
/// carries the unique key `<job_type>:<lead id>`, so a lead gets it once.
#[allow(clippy::too_many_arguments)]
pub fn enqueue_for_leads(
    store: &dyn Store,
    ws: WorkspaceId,
    selection: &LeadSelection,
    job_type: &str,
    (kind, name): (&str, &str),
    once: bool,
    wants: impl Fn(&Lead) -> bool,
    now: i64,
) -> leadgen_store::Result<LeadJobs> {
    let mut chosen: Vec<LeadId> = Vec::new();
    let mut skipped = 0u64;
    let mut not_found = Vec::new();
    let mut take = |lead: &Lead, chosen: &mut Vec<LeadId>| {
        if wants(lead) {
            chosen.push(lead.id);
        } else {
            skipped += 1;
        }
    };
    match selection {
        LeadSelection::Ids(ids) => {
            for &id in ids.iter().take(MAX_SELECTION as usize) {
                match store.get_lead(ws, id)? {
                    Some(lead) => take(&lead, &mut chosen),
                    None => not_found.push(id),
                }
            }
        }
        LeadSelection::Filter { filter, max } => {
            let max = (*max).min(MAX_SELECTION) as usize;
            let mut q = LeadQuery {
                filter: filter.clone(),
                sort: SortOrder::Newest,
                limit: 500,
                after: None,
            };
            let mut seen = 0usize;
            'pages: loop {
                let page = store.query_leads(ws, &q)?;
                for lead in &page.leads {
                    if seen == max {
                        break 'pages;
                    }
                    seen += 1;
                    take(lead, &mut chosen);
                }
                match page.next {
                    Some(c) => q.after = Some(c),
                    None => break,
                }
            }
        }
    }
    chosen.sort_unstable();
    chosen.dedup();
    if chosen.is_empty() {
        return Ok(LeadJobs {
            run_id: None,
            enqueued: 0,
            already_queued: 0,
            skipped,
            not_found,
        });
    }
    let run = store.create_run(ws, kind, &format!("{name}: {} leads", chosen.len()), now)?;
    let jobs: Vec<NewJob> = chosen
        .iter()
        .map(|id| {
            let mut j = NewJob::new(ws, job_type, &format!("{{\"lead_id\":{id}}}"));
            j.run = Some(run);
            if once {
                j.unique_key = Some(format!("{job_type}:{id}"));
            }
            j
        })
        .collect();
    let added = store.enqueue(&jobs, now)?.iter().flatten().count() as u64;
    Ok(LeadJobs {
        run_id: Some(run),
        enqueued: added,
        already_queued: chosen.len() as u64 - added,
        skipped,
        not_found,
    })
}

/// `enrich_lead` jobs for the selected leads the waterfall can work on: no
/// email yet, a first and last name and a company domain to guess from.
pub fn enqueue_enrichments(
    store: &dyn Store,
    ws: WorkspaceId,
    selection: &LeadSelection,
    now: i64,
) -> leadgen_store::Result<LeadJobs> {
    enqueue_for_leads(
        store,
        ws,
        selection,
        leadgen_core::job::types::ENRICH_LEAD,
        ("enrich", "enrich leads"),
        true,
        |l| {
            l.email.is_none()
                && l.first_name.is_some()
                && l.last_name.is_some()
                && l.company_domain.is_some()
        },
        now,
    )
}

/// `validate_email` jobs for the selected leads that have an email.
pub fn enqueue_verifications(
    store: &dyn Store,
    ws: WorkspaceId,
    selection: &LeadSelection,
    now: i64,
) -> leadgen_store::Result<LeadJobs> {
    enqueue_for_leads(
        store,
        ws,
        selection,
        leadgen_core::job::types::VALIDATE_EMAIL,
        ("verify", "verify leads"),
        false,
        |l| l.email.is_some(),
        now,
    )
}
