//! The schema, shared in shape by both backends. Each backend lists its own
//! DDL because types differ; the lead index list is shared because bulk loads
//! drop and rebuild it.

/// Secondary indexes of `leads`: (name, columns, unique).
///
/// Identity keys serve dedupe; (status, score, id) and (score, id) serve the
/// filtered, sorted listings without a sort step.
pub const LEAD_INDEXES: [(&str, &str, bool); 5] = [
    ("leads_email_key", "workspace_id, email_key", true),
    ("leads_linkedin", "workspace_id, linkedin_url", false),
    ("leads_name_key", "workspace_id, name_key", false),
    (
        "leads_status_score",
        "workspace_id, status, score, id",
        false,
    ),
    ("leads_score", "workspace_id, score, id", false),
];

/// The condition under which each index holds a row (keys are often absent).
pub fn index_predicate(name: &str) -> Option<&'static str> {
    match name {
        "leads_email_key" => Some("email_key IS NOT NULL"),
        "leads_linkedin" => Some("linkedin_url IS NOT NULL"),
        "leads_name_key" => Some("name_key IS NOT NULL"),
        _ => None,
    }
}

pub fn create_index_sql(name: &str, cols: &str, unique: bool) -> String {
    let mut sql = format!(
        "CREATE {}INDEX IF NOT EXISTS {name} ON leads ({cols})",
        if unique { "UNIQUE " } else { "" }
    );
    if let Some(p) = index_predicate(name) {
        sql.push_str(" WHERE ");
        sql.push_str(p);
    }
    sql
}
