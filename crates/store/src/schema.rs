//! The schema, shared in shape by both backends. Each backend lists its own
//! DDL because types differ; the lead index list is shared because bulk loads
//! drop and rebuild it.

/// Secondary indexes of `leads`: (name, columns, unique).
///
/// Identity keys live in `lead_keys`, not in indexes of `leads`; the first
/// two serve the filtered, sorted listings without a sort step, the next two
/// the segments' case-insensitive industry and state conditions (with the
/// score, so `state = "CA" and score >= 50` is counted from the index
/// alone), the last `tier = …` counts and their best-scored leads.
pub const LEAD_INDEXES: [(&str, &str, bool); 5] = [
    (
        "leads_status_score",
        "workspace_id, status, score, id",
        false,
    ),
    ("leads_score", "workspace_id, score, id", false),
    (
        "leads_industry",
        "workspace_id, lower(industry), score",
        false,
    ),
    ("leads_state", "workspace_id, lower(state), score", false),
    ("leads_tier", "workspace_id, tier, score, id", false),
];

/// A migration: the industry and state indexes gained the score; dropped
/// here, they are created anew by the index pass after the migrations.
pub const WIDEN_SEGMENT_INDEXES: &str =
    "DROP INDEX IF EXISTS leads_industry; DROP INDEX IF EXISTS leads_state;";

pub fn create_index_sql(name: &str, cols: &str, unique: bool) -> String {
    format!(
        "CREATE {}INDEX IF NOT EXISTS {name} ON leads ({cols})",
        if unique { "UNIQUE " } else { "" }
    )
}
