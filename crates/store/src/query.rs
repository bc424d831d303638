//! Lead filters, sorting and cursor pagination, and the SQL they become.
//! The SQL is built once here; each backend supplies its dialect.

use leadgen_core::Lead;
use leadgen_core::lead::{LeadStatus, Tier};
use leadgen_core::segment::{CmpOp, Expr, FieldKind, SegField, Segment, Value};

use crate::StoreError;
use crate::codec::SqlValue;

/// Which leads. Every condition that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadFilter {
    /// Any of these statuses.
    pub statuses: Vec<LeadStatus>,
    pub source: Option<String>,
    pub min_score: Option<u8>,
    pub max_score: Option<u8>,
    pub tier: Option<Tier>,
    /// All of these tags.
    pub tags: Vec<String>,
    /// A substring of the name, email, company or title (case-insensitive).
    pub text: Option<String>,
    /// The company's registrable domain, as `Domain` normalizes it.
    pub company_domain: Option<String>,
    /// A segment in the filter language (`leadgen_core::segment`).
    pub segment: Option<Segment>,
}

/// The order of a listing. Every order ends with the id, so it is total and a
/// cursor can resume exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    #[default]
    Newest,
    Oldest,
    ScoreDesc,
}

impl SortOrder {
    pub fn parse(s: &str) -> Option<SortOrder> {
        match s {
            "newest" | "-id" => Some(SortOrder::Newest),
            "oldest" | "id" => Some(SortOrder::Oldest),
            "score" | "-score" => Some(SortOrder::ScoreDesc),
            _ => None,
        }
    }
}

/// Where the next page starts: the sort key of the last lead returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub score: u8,
    pub id: i64,
}

impl Cursor {
    /// An opaque token for the command line and the API.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.score, self.id)
    }

    pub fn decode(s: &str) -> Result<Cursor, StoreError> {
        let bad = || {
            StoreError::Invalid(format!(
                "bad cursor '{s}': pass the next_cursor of a previous page"
            ))
        };
        let (score, id) = s.split_once('.').ok_or_else(bad)?;
        Ok(Cursor {
            score: score.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// One page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadQuery {
    pub filter: LeadFilter,
    pub sort: SortOrder,
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl Default for LeadQuery {
    fn default() -> Self {
        LeadQuery {
            filter: LeadFilter::default(),
            sort: SortOrder::Newest,
            limit: 50,
            after: None,
        }
    }
}

/// One page of results and where the next begins.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadPage {
    pub leads: Vec<Lead>,
    pub next: Option<Cursor>,
}

/// What differs between SQLite and PostgreSQL SQL.
pub(crate) trait Dialect {
    /// The n-th (1-based) parameter placeholder.
    fn param(&self, n: usize) -> String;
    /// A condition that the JSON array in `tags` holds the parameter.
    fn has_tag(&self, param: &str) -> String;
    /// Case-insensitive LIKE.
    fn ilike(&self) -> &'static str;
    /// The integer at `doc.key.sub` of a JSON text column (NULL if absent).
    fn json_int(&self, doc: &str, key: &str, sub: &str) -> String;
    /// A column reference the planner must not use an index for. SQLite
    /// misjudges `workspace_id = ?` as selective (one workspace holds every
    /// row) and would sort a whole index instead of walking the primary key.
    fn no_index(&self, column: &str) -> String {
        column.to_owned()
    }
}

/// A WHERE clause (without the keyword) and its parameters.
pub(crate) struct Where {
    pub sql: String,
    pub params: Vec<SqlValue<'static>>,
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The WHERE clause of a listing in `sort` order (`None`: no order, for
/// counts), resuming after `after`.
pub(crate) fn where_clause(
    d: &dyn Dialect,
    ws: i64,
    f: &LeadFilter,
    sort: Option<SortOrder>,
    after: Option<Cursor>,
) -> Where {
    // Listings in id order walk the primary key and stop after one page;
    // an index on workspace or status would make them sort every match.
    let by_id = matches!(sort, Some(SortOrder::Newest | SortOrder::Oldest));
    let column = |c: &str| if by_id { d.no_index(c) } else { c.to_owned() };
    let mut params: Vec<SqlValue<'static>> = vec![SqlValue::Int(ws)];
    let mut parts = vec![format!("{} = {}", column("workspace_id"), d.param(1))];
    let push = |params: &mut Vec<SqlValue<'static>>, v: SqlValue<'static>| {
        params.push(v);
        d.param(params.len())
    };
    if !f.statuses.is_empty() {
        let ps: Vec<String> = f
            .statuses
            .iter()
            .map(|s| push(&mut params, SqlValue::Text(s.as_str().into())))
            .collect();
        parts.push(format!("{} IN ({})", column("status"), ps.join(", ")));
    }
    if let Some(src) = &f.source {
        let p = push(&mut params, SqlValue::Text(src.clone().into()));
        parts.push(format!("source = {p}"));
    }
    if let Some(min) = f.min_score {
        let p = push(&mut params, SqlValue::Int(min.into()));
        parts.push(format!("score >= {p}"));
    }
    // In score order a cursor is an upper bound too: give the planner only
    // the tighter of the two, so it seeks to it instead of filtering a range.
    let score_cursor = match (sort, after) {
        (Some(SortOrder::ScoreDesc), Some(c)) => Some(c),
        _ => None,
    };
    let cursor_is_tighter = match (f.max_score, score_cursor) {
        (Some(max), Some(c)) => c.score <= max,
        _ => false,
    };
    if let Some(max) = f.max_score.filter(|_| !cursor_is_tighter) {
        let p = push(&mut params, SqlValue::Int(max.into()));
        parts.push(format!("score <= {p}"));
    }
    if let Some(domain) = &f.company_domain {
        let p = push(&mut params, SqlValue::Text(domain.clone().into()));
        parts.push(format!("company_domain = {p}"));
    }
    if let Some(tier) = f.tier {
        let p = push(&mut params, SqlValue::Text(tier.as_str().into()));
        parts.push(format!("tier = {p}"));
    }
    for tag in &f.tags {
        let p = push(&mut params, SqlValue::Text(tag.clone().into()));
        parts.push(d.has_tag(&p));
    }
    if let Some(text) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let p = push(&mut params, SqlValue::Text(escape_like(text).into()));
        let like = d.ilike();
        let cols = ["email", "first_name", "last_name", "company_name", "title"];
        let ors: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} {like} {p} ESCAPE '\\'"))
            .collect();
        parts.push(format!("({})", ors.join(" OR ")));
    }
    if let Some(seg) = &f.segment {
        parts.push(segment_sql(d, &seg.expr, &mut params));
    }
    let cursor_implied = score_cursor.is_some() && f.max_score.is_some() && !cursor_is_tighter;
    if let (Some(sort), Some(c)) = (sort, after.filter(|_| !cursor_implied)) {
        match sort {
            SortOrder::Newest => {
                let p = push(&mut params, SqlValue::Int(c.id));
                parts.push(format!("id < {p}"));
            }
            SortOrder::Oldest => {
                let p = push(&mut params, SqlValue::Int(c.id));
                parts.push(format!("id > {p}"));
            }
            SortOrder::ScoreDesc => {
                let ps = push(&mut params, SqlValue::Int(c.score.into()));
                let pi = push(&mut params, SqlValue::Int(c.id));
                parts.push(format!("(score, id) < ({ps}, {pi})"));
            }
        }
    }
    Where {
        sql: parts.join(" AND "),
        params,
    }
}

pub(crate) fn order_by(sort: SortOrder) -> &'static str {
    match sort {
        SortOrder::Newest => "id DESC",
        SortOrder::Oldest => "id ASC",
        SortOrder::ScoreDesc => "score DESC, id DESC",
    }
}

/// Turns `limit + 1` fetched rows into a page and its cursor.
pub(crate) fn paginate(mut leads: Vec<Lead>, limit: u32) -> LeadPage {
    let more = leads.len() > limit as usize;
    leads.truncate(limit as usize);
    let next = if more {
        leads.last().map(|l| Cursor {
            score: l.score,
            id: l.id,
        })
    } else {
        None
    };
    LeadPage { leads, next }
}

/// A segment expression as a condition that is true or false, never NULL,
/// so `NOT` means what [`Segment::matches`] means.
fn segment_sql(d: &dyn Dialect, e: &Expr, params: &mut Vec<SqlValue<'static>>) -> String {
    let push = |params: &mut Vec<SqlValue<'static>>, v: &Value| {
        params.push(match v {
            Value::Text(s) => SqlValue::Text(s.clone().into()),
            Value::Int(n) => SqlValue::Int(*n),
            Value::Bool(b) => SqlValue::Int(i64::from(*b)),
        });
        d.param(params.len())
    };
    match e {
        Expr::And { left, right } => format!(
            "({} AND {})",
            segment_sql(d, left, params),
            segment_sql(d, right, params)
        ),
        Expr::Or { left, right } => format!(
            "({} OR {})",
            segment_sql(d, left, params),
            segment_sql(d, right, params)
        ),
        Expr::Not { expr } => format!("(NOT {})", segment_sql(d, expr, params)),
        Expr::HasTag { tag } => {
            let p = push(params, &Value::Text(tag.clone()));
            format!("({} AND {})", "leads.tags IS NOT NULL", d.has_tag(&p))
        }
        Expr::Cmp {
            field: SegField::RunningAds,
            cmp,
            value,
        } => running_ads_sql(d, |running| match value {
            Value::Bool(b) => cmp_holds(*cmp, running, *b),
            _ => false,
        }),
        Expr::In {
            field: SegField::RunningAds,
            values,
        } => running_ads_sql(d, |running| values.contains(&Value::Bool(running))),
        Expr::Cmp { field, cmp, value } => {
            let p = push(params, value);
            condition(*field, &format!("{} {p}", cmp.sql()))
        }
        Expr::In { field, values } => {
            let ps: Vec<String> = values.iter().map(|v| push(params, v)).collect();
            condition(*field, &format!("IN ({})", ps.join(", ")))
        }
    }
}

/// `field <test>` on a lead; false where the field is unknown.
fn condition(field: SegField, test: &str) -> String {
    let column = match field {
        SegField::EmailStatus => {
            return format!(
                "EXISTS (SELECT 1 FROM email_verifications v WHERE v.workspace_id = leads.workspace_id \
                 AND v.lead_id = leads.id AND v.status {test})"
            );
        }
        SegField::CompanyDomain => "company_domain",
        SegField::CreatedAt => "created_at",
        SegField::EmployeeCount => "employee_count",
        f => f.as_str(),
    };
    match field.kind() {
        // `lower(x)` is NULL exactly when `x` is; naming only the indexed
        // expression lets `state = "CA" and score >= 50` count from the
        // (lower(state), score) index without reading a row.
        FieldKind::Text => format!("(lower({column}) IS NOT NULL AND lower({column}) {test})"),
        _ => format!("({column} IS NOT NULL AND {column} {test})"),
    }
}

fn cmp_holds(cmp: CmpOp, a: bool, b: bool) -> bool {
    match cmp {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => !a & b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a & !b,
        CmpOp::Ge => a >= b,
    }
}

/// A condition on whether the lead's company (by domain) runs ads now on
/// any platform; `wants(running)` says which answers match.
fn running_ads_sql(d: &dyn Dialect, wants: impl Fn(bool) -> bool) -> String {
    match (wants(true), wants(false)) {
        (true, true) => "(1 = 1)".into(),
        (false, false) => "(1 = 0)".into(),
        (true, false) => running_ads_exists(d),
        (false, true) => format!("(NOT {})", running_ads_exists(d)),
    }
}

fn running_ads_exists(d: &dyn Dialect) -> String {
    let active: Vec<String> = ["google_ads", "meta_ads", "linkedin_ads"]
        .iter()
        .map(|k| format!("{} > 0", d.json_int("c.doc", k, "active_count")))
        .collect();
    format!(
        "EXISTS (SELECT 1 FROM companies c WHERE c.workspace_id = leads.workspace_id \
         AND c.domain = leads.company_domain AND ({}))",
        active.join(" OR ")
    )
}
