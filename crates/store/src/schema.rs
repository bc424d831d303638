//! The schema, shared in shape by both backends. Each backend lists its own
//! DDL because types differ; the lead index list is shared because bulk loads
//! drop and rebuild it.

/// Secondary indexes of `leads`: (name, columns, unique).
///
/// Identity keys live in `lead_keys`, not in indexes of `leads`; the first
/// two serve the filtered, sorted listings without a sort step, the next two
/// the segments' case-insensitive industry and state conditions, the last
/// `tier = …` counts and their best-scored leads.
pub const LEAD_INDEXES: [(&str, &str, bool); 5] = [
    (
        "leads_status_score",
        "workspace_id, status, score, id",
        false,
    ),
    ("leads_score", "workspace_id, score, id", false),
    ("leads_industry", "workspace_id, lower(industry)", false),
    ("leads_state", "workspace_id, lower(state)", false),
    ("leads_tier", "workspace_id, tier, score, id", false),
];

pub fn create_index_sql(name: &str, cols: &str, unique: bool) -> String {
    format!(
        "CREATE {}INDEX IF NOT EXISTS {name} ON leads ({cols})",
        if unique { "UNIQUE " } else { "" }
    )
}
