//! Campaigns: a named segment of leads sent to a cold-email tool, the
//! campaign's members, and the record of every batch uploaded.
//!
//! Instantly has no idempotency keys, so an upload is recorded before the
//! call (the batch and its members marked `sending`) and after it (members
//! `pushed` with their Instantly ids, the batch `done`). A batch still
//! `sending` when a push starts is in doubt: the previous attempt died
//! somewhere around the call. Its members not yet `pushed` are sent again
//! with Instantly's `skip_if_in_campaign`, so none is uploaded twice.
//!
//! Every statement stands alone (no transaction spans the vendor call), in
//! an order where a crash between any two leaves a state the next push
//! resolves.

use leadgen_core::lead::{LeadStatus, LifecycleStage};
use leadgen_core::{LeadId, WorkspaceId};

use crate::codec::SqlValue;
use crate::postgres::PgStore;
use crate::query::{Dialect, where_clause};
use crate::sqlite::SqliteStore;
use crate::{LeadFilter, Result, StoreError};

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    /// The segment's text (`leadgen_core::segment`).
    pub segment: String,
    /// draft | loading | active | paused | completed
    pub status: String,
    pub instantly_campaign_id: Option<String>,
    /// The latest analytics and event counters, as JSON text.
    pub metrics: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Members of a campaign by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CampaignCounts {
    pub leads: u64,
    pub pushed: u64,
    pub suppressed: u64,
    pub pushed_to_crm: u64,
    pub batches: u64,
    /// Members a positive reply queued for the CRM: one `push_to_crm` job
    /// each (keyed by [`crm_job_key`]), pushed yet or not.
    pub positive_replies: u64,
}

/// The unique key of a member's `push_to_crm` job: a lead goes to the CRM
/// once per campaign, and [`CampaignCounts::positive_replies`] counts them.
pub fn crm_job_key(campaign: i64, lead: LeadId) -> String {
    format!("{}{lead}", crm_key_prefix(campaign))
}

fn crm_key_prefix(campaign: i64) -> String {
    format!("crm:{campaign}:")
}

/// One member about to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMember {
    pub lead: LeadId,
    pub email: Option<String>,
}

/// A batch claimed for upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushBatch {
    pub id: i64,
    pub campaign: i64,
    /// A batch a previous attempt started and never finished: send it with
    /// the vendor's skip-duplicates flag.
    pub in_doubt: bool,
    pub members: Vec<BatchMember>,
}

/// Member states.
pub mod member {
    pub const MEMBER: &str = "member";
    pub const SENDING: &str = "sending";
    pub const PUSHED: &str = "pushed";
    pub const SUPPRESSED: &str = "suppressed";
    pub const NO_EMAIL: &str = "no_email";
}

pub trait CampaignStore {
    /// A new campaign in `draft`.
    fn create_campaign(&self, ws: WorkspaceId, name: &str, segment: &str, now: i64) -> Result<i64>;
    fn get_campaign(&self, ws: WorkspaceId, id: i64) -> Result<Option<Campaign>>;
    /// Newest first.
    fn list_campaigns(&self, ws: WorkspaceId) -> Result<Vec<Campaign>>;
    /// Adds every lead matching `filter` as a member (existing members
    /// stay as they are); how many were added.
    fn add_campaign_members(
        &self,
        ws: WorkspaceId,
        campaign: i64,
        filter: &LeadFilter,
        now: i64,
    ) -> Result<u64>;
    fn set_campaign_status(&self, ws: WorkspaceId, id: i64, status: &str, now: i64) -> Result<()>;
    fn set_instantly_campaign(
        &self,
        ws: WorkspaceId,
        id: i64,
        instantly: &str,
        now: i64,
    ) -> Result<()>;
    fn set_campaign_metrics(&self, ws: WorkspaceId, id: i64, metrics: &str, now: i64)
    -> Result<()>;
    /// The campaign whose Instantly id is `instantly`.
    fn campaign_by_instantly_id(
        &self,
        ws: WorkspaceId,
        instantly: &str,
    ) -> Result<Option<Campaign>>;
    fn campaign_counts(&self, ws: WorkspaceId, id: i64) -> Result<CampaignCounts>;

    /// The batch to upload next: an in-doubt batch of this campaign if
    /// there is one, else up to `limit` members not yet sent, recorded as a
    /// new batch before they are returned. `None` when nothing is left.
    fn next_push_batch(
        &self,
        ws: WorkspaceId,
        campaign: i64,
        limit: usize,
        now: i64,
    ) -> Result<Option<PushBatch>>;
    /// Sets members' state (`suppressed`, `no_email`): they leave the batch.
    fn set_member_state(
        &self,
        ws: WorkspaceId,
        campaign: i64,
        leads: &[LeadId],
        state: &str,
        now: i64,
    ) -> Result<()>;
    /// Records a batch's outcome: `pushed` members (with the vendor's id
    /// when it returned one) are `pushed` and their leads
    /// `pushed_to_instantly`; the batch is `done`.
    fn finish_push_batch(
        &self,
        ws: WorkspaceId,
        batch: i64,
        pushed: &[(LeadId, Option<String>)],
        now: i64,
    ) -> Result<()>;

    /// Records a member's CRM id; `false` if it already had one.
    fn set_member_crm_id(
        &self,
        ws: WorkspaceId,
        campaign: i64,
        lead: LeadId,
        crm_id: &str,
        now: i64,
    ) -> Result<bool>;
    /// Moves a lead along the sales lifecycle; `false` if it is not in the
    /// workspace.
    fn set_lead_lifecycle(
        &self,
        ws: WorkspaceId,
        lead: LeadId,
        stage: LifecycleStage,
        now: i64,
    ) -> Result<bool>;
    /// The member's CRM id, if pushed to the CRM.
    fn member_crm_id(&self, ws: WorkspaceId, campaign: i64, lead: LeadId)
    -> Result<Option<String>>;
}

pub(crate) fn campaigns_ddl(id: &str) -> String {
    format!(
        "
CREATE TABLE campaigns (
    id {id},
    workspace_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    segment TEXT NOT NULL,
    status TEXT NOT NULL,
    instantly_campaign_id TEXT,
    metrics TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX campaigns_by_instantly ON campaigns (workspace_id, instantly_campaign_id);
CREATE TABLE campaign_leads (
    workspace_id BIGINT NOT NULL,
    campaign_id BIGINT NOT NULL,
    lead_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    batch_id BIGINT,
    instantly_lead_id TEXT,
    crm_id TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, lead_id)
);
CREATE INDEX campaign_leads_state ON campaign_leads (campaign_id, state, lead_id);
CREATE INDEX campaign_leads_batch ON campaign_leads (batch_id);
CREATE INDEX campaign_leads_lead ON campaign_leads (workspace_id, lead_id);
CREATE TABLE push_batches (
    id {id},
    workspace_id BIGINT NOT NULL,
    campaign_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    leads BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX push_batches_open ON push_batches (campaign_id, status);
"
    )
}

/// A value read back.
type Cells = Vec<SqlValue<'static>>;

/// The two statements a backend must run for this module, with its
/// placeholders.
pub(crate) trait Exec {
    fn dialect(&self) -> &dyn Dialect;
    fn exec(&self, sql: &str, params: &[SqlValue<'_>]) -> Result<u64>;
    fn rows(&self, sql: &str, params: &[SqlValue<'_>]) -> Result<Vec<Cells>>;
    fn p(&self, n: usize) -> String {
        self.dialect().param(n)
    }
}

fn int(c: &Cells, i: usize) -> Result<i64> {
    match c.get(i) {
        Some(SqlValue::Int(n)) => Ok(*n),
        other => Err(StoreError::Corrupt(format!(
            "expected a number, found {other:?}"
        ))),
    }
}

fn text(c: &Cells, i: usize) -> Result<Option<String>> {
    match c.get(i) {
        Some(SqlValue::Text(s)) => Ok(Some(s.to_string())),
        Some(SqlValue::Null) => Ok(None),
        other => Err(StoreError::Corrupt(format!(
            "expected text, found {other:?}"
        ))),
    }
}

const CAMPAIGN_COLUMNS: &str =
    "id, name, segment, status, instantly_campaign_id, metrics, created_at, updated_at";

fn campaign_of(c: &Cells) -> Result<Campaign> {
    Ok(Campaign {
        id: int(c, 0)?,
        name: text(c, 1)?.unwrap_or_default(),
        segment: text(c, 2)?.unwrap_or_default(),
        status: text(c, 3)?.unwrap_or_default(),
        instantly_campaign_id: text(c, 4)?,
        metrics: text(c, 5)?.unwrap_or_else(|| "{}".into()),
        created_at: int(c, 6)?,
        updated_at: int(c, 7)?,
    })
}

fn t(s: &str) -> SqlValue<'_> {
    SqlValue::Text(s.into())
}

fn placeholders(x: &dyn Exec, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| x.p(i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Statements per chunk of ids, within both backends' parameter limits.
const ID_CHUNK: usize = 500;

fn create_campaign(x: &dyn Exec, ws: i64, name: &str, segment: &str, now: i64) -> Result<i64> {
    let sql = format!(
        "INSERT INTO campaigns (workspace_id, name, segment, status, metrics, created_at, updated_at) \
         VALUES ({}, {}, {}, 'draft', '{{}}', {}, {}) RETURNING id",
        x.p(1),
        x.p(2),
        x.p(3),
        x.p(4),
        x.p(5)
    );
    let rows = x.rows(
        &sql,
        &[
            SqlValue::Int(ws),
            t(name),
            t(segment),
            SqlValue::Int(now),
            SqlValue::Int(now),
        ],
    )?;
    rows.first().map_or_else(
        || Err(StoreError::Corrupt("insert returned no id".into())),
        |r| int(r, 0),
    )
}

fn get_campaign(x: &dyn Exec, ws: i64, id: i64) -> Result<Option<Campaign>> {
    let sql = format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = {} AND id = {}",
        x.p(1),
        x.p(2)
    );
    x.rows(&sql, &[SqlValue::Int(ws), SqlValue::Int(id)])?
        .first()
        .map(campaign_of)
        .transpose()
}

fn list_campaigns(x: &dyn Exec, ws: i64) -> Result<Vec<Campaign>> {
    let sql = format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = {} ORDER BY id DESC",
        x.p(1)
    );
    x.rows(&sql, &[SqlValue::Int(ws)])?
        .iter()
        .map(campaign_of)
        .collect()
}

fn campaign_by_instantly_id(x: &dyn Exec, ws: i64, instantly: &str) -> Result<Option<Campaign>> {
    let sql = format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = {} \
         AND instantly_campaign_id = {} ORDER BY id LIMIT 1",
        x.p(1),
        x.p(2)
    );
    x.rows(&sql, &[SqlValue::Int(ws), t(instantly)])?
        .first()
        .map(campaign_of)
        .transpose()
}

fn set_column(x: &dyn Exec, ws: i64, id: i64, column: &str, value: &str, now: i64) -> Result<()> {
    let sql = format!(
        "UPDATE campaigns SET {column} = {}, updated_at = {} WHERE workspace_id = {} AND id = {}",
        x.p(1),
        x.p(2),
        x.p(3),
        x.p(4)
    );
    x.exec(
        &sql,
        &[
            t(value),
            SqlValue::Int(now),
            SqlValue::Int(ws),
            SqlValue::Int(id),
        ],
    )?;
    Ok(())
}

fn add_members(x: &dyn Exec, ws: i64, campaign: i64, f: &LeadFilter, now: i64) -> Result<u64> {
    let w = where_clause(x.dialect(), ws, f, None, None);
    let n = w.params.len();
    let sql = format!(
        "INSERT INTO campaign_leads (workspace_id, campaign_id, lead_id, state, updated_at) \
         SELECT workspace_id, CAST({} AS BIGINT), id, \
         CASE WHEN email IS NULL THEN '{}' ELSE '{}' END, CAST({} AS BIGINT) \
         FROM leads WHERE {} ON CONFLICT DO NOTHING",
        x.p(n + 1),
        member::NO_EMAIL,
        member::MEMBER,
        x.p(n + 2),
        w.sql
    );
    let mut params = w.params;
    params.push(SqlValue::Int(campaign));
    params.push(SqlValue::Int(now));
    x.exec(&sql, &params)
}

fn counts(x: &dyn Exec, ws: i64, id: i64) -> Result<CampaignCounts> {
    let sql = format!(
        "SELECT state, count(*), count(crm_id) FROM campaign_leads \
         WHERE workspace_id = {} AND campaign_id = {} GROUP BY state",
        x.p(1),
        x.p(2)
    );
    let mut c = CampaignCounts::default();
    for r in x.rows(&sql, &[SqlValue::Int(ws), SqlValue::Int(id)])? {
        let n = int(&r, 1)? as u64;
        c.leads += n;
        c.pushed_to_crm += int(&r, 2)? as u64;
        match text(&r, 0)?.as_deref() {
            Some(member::PUSHED) => c.pushed += n,
            Some(member::SUPPRESSED) => c.suppressed += n,
            _ => {}
        }
    }
    let sql = format!(
        "SELECT count(*) FROM push_batches WHERE workspace_id = {} AND campaign_id = {}",
        x.p(1),
        x.p(2)
    );
    if let Some(r) = x
        .rows(&sql, &[SqlValue::Int(ws), SqlValue::Int(id)])?
        .first()
    {
        c.batches = int(r, 0)? as u64;
    }
    let sql = format!(
        "SELECT count(*) FROM jobs WHERE workspace_id = {} AND unique_key LIKE {}",
        x.p(1),
        x.p(2)
    );
    let prefix = format!("{}%", crm_key_prefix(id));
    if let Some(r) = x.rows(&sql, &[SqlValue::Int(ws), t(&prefix)])?.first() {
        c.positive_replies = int(r, 0)? as u64;
    }
    Ok(c)
}

fn batch_members(x: &dyn Exec, batch: i64) -> Result<Vec<BatchMember>> {
    let sql = format!(
        "SELECT m.lead_id, l.email FROM campaign_leads m JOIN leads l ON l.id = m.lead_id \
         WHERE m.batch_id = {} AND m.state = '{}' ORDER BY m.lead_id",
        x.p(1),
        member::SENDING
    );
    x.rows(&sql, &[SqlValue::Int(batch)])?
        .iter()
        .map(|r| {
            Ok(BatchMember {
                lead: int(r, 0)?,
                email: text(r, 1)?,
            })
        })
        .collect()
}

fn next_push_batch(
    x: &dyn Exec,
    ws: i64,
    campaign: i64,
    limit: usize,
    now: i64,
) -> Result<Option<PushBatch>> {
    let open = format!(
        "SELECT id FROM push_batches WHERE workspace_id = {} AND campaign_id = {} \
         AND status = 'sending' ORDER BY id",
        x.p(1),
        x.p(2)
    );
    for r in x.rows(&open, &[SqlValue::Int(ws), SqlValue::Int(campaign)])? {
        let id = int(&r, 0)?;
        let members = batch_members(x, id)?;
        if members.is_empty() {
            // Died after the record, before any member joined it, or
            // after every member was finished: nothing is in doubt.
            close_batch(x, id, now)?;
            continue;
        }
        return Ok(Some(PushBatch {
            id,
            campaign,
            in_doubt: true,
            members,
        }));
    }
    let pending = format!(
        "SELECT count(*) FROM campaign_leads WHERE campaign_id = {} AND state = '{}'",
        x.p(1),
        member::MEMBER
    );
    let left = x
        .rows(&pending, &[SqlValue::Int(campaign)])?
        .first()
        .map(|r| int(r, 0))
        .transpose()?
        .unwrap_or(0);
    if left == 0 {
        return Ok(None);
    }
    // 1. The batch is recorded as sending…
    let insert = format!(
        "INSERT INTO push_batches (workspace_id, campaign_id, status, leads, created_at) \
         VALUES ({}, {}, 'sending', 0, {}) RETURNING id",
        x.p(1),
        x.p(2),
        x.p(3)
    );
    let id = x
        .rows(
            &insert,
            &[
                SqlValue::Int(ws),
                SqlValue::Int(campaign),
                SqlValue::Int(now),
            ],
        )?
        .first()
        .map(|r| int(r, 0))
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt("insert returned no id".into()))?;
    // 2. …then its members join it, in one statement.
    let claim = format!(
        "UPDATE campaign_leads SET state = '{sending}', batch_id = {}, updated_at = {} \
         WHERE campaign_id = {} AND state = '{member}' AND lead_id IN (SELECT lead_id FROM campaign_leads \
         WHERE campaign_id = {} AND state = '{member}' ORDER BY lead_id LIMIT {})",
        x.p(1),
        x.p(2),
        x.p(3),
        x.p(4),
        x.p(5),
        sending = member::SENDING,
        member = member::MEMBER,
    );
    let n = x.exec(
        &claim,
        &[
            SqlValue::Int(id),
            SqlValue::Int(now),
            SqlValue::Int(campaign),
            SqlValue::Int(campaign),
            SqlValue::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
        ],
    )?;
    let size = format!(
        "UPDATE push_batches SET leads = {} WHERE id = {}",
        x.p(1),
        x.p(2)
    );
    x.exec(&size, &[SqlValue::Int(n as i64), SqlValue::Int(id)])?;
    Ok(Some(PushBatch {
        id,
        campaign,
        in_doubt: false,
        members: batch_members(x, id)?,
    }))
}

fn close_batch(x: &dyn Exec, batch: i64, now: i64) -> Result<()> {
    let sql = format!(
        "UPDATE push_batches SET status = 'done', finished_at = {} WHERE id = {}",
        x.p(1),
        x.p(2)
    );
    x.exec(&sql, &[SqlValue::Int(now), SqlValue::Int(batch)])?;
    Ok(())
}

fn set_member_state(
    x: &dyn Exec,
    ws: i64,
    campaign: i64,
    leads: &[LeadId],
    state: &str,
    now: i64,
) -> Result<()> {
    for chunk in leads.chunks(ID_CHUNK) {
        let sql = format!(
            "UPDATE campaign_leads SET state = {}, updated_at = {} WHERE workspace_id = {} \
             AND campaign_id = {} AND lead_id IN ({})",
            x.p(1),
            x.p(2),
            x.p(3),
            x.p(4),
            placeholders(x, 5, chunk.len())
        );
        let mut params = vec![
            t(state),
            SqlValue::Int(now),
            SqlValue::Int(ws),
            SqlValue::Int(campaign),
        ];
        params.extend(chunk.iter().map(|id| SqlValue::Int(*id)));
        x.exec(&sql, &params)?;
    }
    Ok(())
}

fn finish_push_batch(
    x: &dyn Exec,
    ws: i64,
    batch: i64,
    pushed: &[(LeadId, Option<String>)],
    now: i64,
) -> Result<()> {
    let member_sql = format!(
        "UPDATE campaign_leads SET state = '{}', instantly_lead_id = coalesce({}, instantly_lead_id), \
         updated_at = {} WHERE batch_id = {} AND lead_id = {}",
        member::PUSHED,
        x.p(1),
        x.p(2),
        x.p(3),
        x.p(4)
    );
    for (lead, vendor_id) in pushed {
        let id = vendor_id.as_deref().map_or(SqlValue::Null, t);
        x.exec(
            &member_sql,
            &[
                id,
                SqlValue::Int(now),
                SqlValue::Int(batch),
                SqlValue::Int(*lead),
            ],
        )?;
    }
    let leads_sql = format!(
        "UPDATE leads SET status = '{}', updated_at = {} WHERE workspace_id = {} AND id IN \
         (SELECT lead_id FROM campaign_leads WHERE batch_id = {} AND state = '{}') \
         AND status <> '{}'",
        LeadStatus::PushedToInstantly.as_str(),
        x.p(1),
        x.p(2),
        x.p(3),
        member::PUSHED,
        LeadStatus::PushedToCrm.as_str(),
    );
    x.exec(
        &leads_sql,
        &[SqlValue::Int(now), SqlValue::Int(ws), SqlValue::Int(batch)],
    )?;
    close_batch(x, batch, now)
}

fn set_member_crm_id(
    x: &dyn Exec,
    ws: i64,
    campaign: i64,
    lead: LeadId,
    crm_id: &str,
    now: i64,
) -> Result<bool> {
    let sql = format!(
        "UPDATE campaign_leads SET crm_id = {}, updated_at = {} WHERE workspace_id = {} \
         AND campaign_id = {} AND lead_id = {} AND crm_id IS NULL",
        x.p(1),
        x.p(2),
        x.p(3),
        x.p(4),
        x.p(5)
    );
    let n = x.exec(
        &sql,
        &[
            t(crm_id),
            SqlValue::Int(now),
            SqlValue::Int(ws),
            SqlValue::Int(campaign),
            SqlValue::Int(lead),
        ],
    )?;
    let status = format!(
        "UPDATE leads SET status = '{}', updated_at = {} WHERE workspace_id = {} AND id = {}",
        LeadStatus::PushedToCrm.as_str(),
        x.p(1),
        x.p(2),
        x.p(3)
    );
    x.exec(
        &status,
        &[SqlValue::Int(now), SqlValue::Int(ws), SqlValue::Int(lead)],
    )?;
    Ok(n == 1)
}

fn member_crm_id(x: &dyn Exec, ws: i64, campaign: i64, lead: LeadId) -> Result<Option<String>> {
    let sql = format!(
        "SELECT crm_id FROM campaign_leads WHERE workspace_id = {} AND campaign_id = {} \
         AND lead_id = {}",
        x.p(1),
        x.p(2),
        x.p(3)
    );
    match x
        .rows(
            &sql,
            &[
                SqlValue::Int(ws),
                SqlValue::Int(campaign),
                SqlValue::Int(lead),
            ],
        )?
        .first()
    {
        Some(r) => text(r, 0),
        None => Ok(None),
    }
}

fn set_lead_lifecycle(
    x: &dyn Exec,
    ws: i64,
    lead: LeadId,
    stage: LifecycleStage,
    now: i64,
) -> Result<bool> {
    let sql = format!(
        "UPDATE leads SET lifecycle = {}, updated_at = {} WHERE workspace_id = {} AND id = {}",
        x.p(1),
        x.p(2),
        x.p(3),
        x.p(4)
    );
    let n = x.exec(
        &sql,
        &[
            t(stage.as_str()),
            SqlValue::Int(now),
            SqlValue::Int(ws),
            SqlValue::Int(lead),
        ],
    )?;
    Ok(n == 1)
}

/// [`CampaignStore`] for any backend that runs [`Exec`] statements.
macro_rules! campaign_store {
    ($ty:ty) => {
        impl CampaignStore for $ty {
            fn create_campaign(
                &self,
                ws: WorkspaceId,
                name: &str,
                segment: &str,
                now: i64,
            ) -> Result<i64> {
                create_campaign(self, ws, name, segment, now)
            }
            fn get_campaign(&self, ws: WorkspaceId, id: i64) -> Result<Option<Campaign>> {
                get_campaign(self, ws, id)
            }
            fn list_campaigns(&self, ws: WorkspaceId) -> Result<Vec<Campaign>> {
                list_campaigns(self, ws)
            }
            fn add_campaign_members(
                &self,
                ws: WorkspaceId,
                campaign: i64,
                filter: &LeadFilter,
                now: i64,
            ) -> Result<u64> {
                add_members(self, ws, campaign, filter, now)
            }
            fn set_campaign_status(
                &self,
                ws: WorkspaceId,
                id: i64,
                status: &str,
                now: i64,
            ) -> Result<()> {
                set_column(self, ws, id, "status", status, now)
            }
            fn set_instantly_campaign(
                &self,
                ws: WorkspaceId,
                id: i64,
                instantly: &str,
                now: i64,
            ) -> Result<()> {
                set_column(self, ws, id, "instantly_campaign_id", instantly, now)
            }
            fn set_campaign_metrics(
                &self,
                ws: WorkspaceId,
                id: i64,
                metrics: &str,
                now: i64,
            ) -> Result<()> {
                set_column(self, ws, id, "metrics", metrics, now)
            }
            fn campaign_by_instantly_id(
                &self,
                ws: WorkspaceId,
                instantly: &str,
            ) -> Result<Option<Campaign>> {
                campaign_by_instantly_id(self, ws, instantly)
            }
            fn campaign_counts(&self, ws: WorkspaceId, id: i64) -> Result<CampaignCounts> {
                counts(self, ws, id)
            }
            fn next_push_batch(
                &self,
                ws: WorkspaceId,
                campaign: i64,
                limit: usize,
                now: i64,
            ) -> Result<Option<PushBatch>> {
                next_push_batch(self, ws, campaign, limit, now)
            }
            fn set_member_state(
                &self,
                ws: WorkspaceId,
                campaign: i64,
                leads: &[LeadId],
                state: &str,
                now: i64,
            ) -> Result<()> {
                set_member_state(self, ws, campaign, leads, state, now)
            }
            fn finish_push_batch(
                &self,
                ws: WorkspaceId,
                batch: i64,
                pushed: &[(LeadId, Option<String>)],
                now: i64,
            ) -> Result<()> {
                finish_push_batch(self, ws, batch, pushed, now)
            }
            fn set_member_crm_id(
                &self,
                ws: WorkspaceId,
                campaign: i64,
                lead: LeadId,
                crm_id: &str,
                now: i64,
            ) -> Result<bool> {
                set_member_crm_id(self, ws, campaign, lead, crm_id, now)
            }
            fn set_lead_lifecycle(
                &self,
                ws: WorkspaceId,
                lead: LeadId,
                stage: LifecycleStage,
                now: i64,
            ) -> Result<bool> {
                set_lead_lifecycle(self, ws, lead, stage, now)
            }
            fn member_crm_id(
                &self,
                ws: WorkspaceId,
                campaign: i64,
                lead: LeadId,
            ) -> Result<Option<String>> {
                member_crm_id(self, ws, campaign, lead)
            }
        }
    };
}

campaign_store!(SqliteStore);
campaign_store!(PgStore);

impl Exec for SqliteStore {
    fn dialect(&self) -> &dyn Dialect {
        &crate::sqlite::Sqlite
    }

    fn exec(&self, sql: &str, params: &[SqlValue<'_>]) -> Result<u64> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn rows(&self, sql: &str, params: &[SqlValue<'_>]) -> Result<Vec<Cells>> {
        use rusqlite::types::ValueRef;
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(match r.get_ref(i)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(v) => SqlValue::Int(v),
                    ValueRef::Text(b) => {
                        SqlValue::Text(String::from_utf8_lossy(b).into_owned().into())
                    }
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "unexpected column type {:?}",
                            other.data_type()
                        )));
                    }
                });
            }
            out.push(cells);
        }
        Ok(out)
    }
}

impl Exec for PgStore {
    fn dialect(&self) -> &dyn Dialect {
        &crate::postgres::Pg
    }

    fn exec(&self, sql: &str, params: &[SqlValue<'_>]) -> Result<u64> {
        let mut conn = self.conn()?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn postgres::types::ToSql + Sync))
            .collect();
        Ok(conn.client.execute(sql, &refs)?)
    }

    fn rows(&self, sql: &str, params: &[SqlValue<'_>]) -> Result<Vec<Cells>> {
        use postgres::types::Type;
        let mut conn = self.conn()?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let rows = conn.client.query(sql, &refs)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut cells = Vec::with_capacity(r.len());
            for (i, col) in r.columns().iter().enumerate() {
                let cell = match *col.type_() {
                    Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(SqlValue::Int),
                    Type::INT4 => r
                        .try_get::<_, Option<i32>>(i)?
                        .map(|v| SqlValue::Int(i64::from(v))),
                    _ => r
                        .try_get::<_, Option<String>>(i)?
                        .map(|s| SqlValue::Text(s.into())),
                };
                cells.push(cell.unwrap_or(SqlValue::Null));
            }
            out.push(cells);
        }
        Ok(out)
    }
}
