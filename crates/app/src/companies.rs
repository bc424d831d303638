//! Companies as every entry point shows them: the JSON of one company (CLI
//! `companies list --json`/`show`, `GET /api/v1/companies`, the dashboard)
//! and the domain key that finds a company's leads.

use std::collections::{BTreeSet, HashMap};

use leadgen_core::WorkspaceId;
use leadgen_core::company::Company;
use leadgen_core::domain::Domain;
use leadgen_store::Store;
use serde_json::Value;

/// The names of the sources (`csv_upload`, `google_maps`, …) by batch id,
/// to tell where a company was seen.
pub fn batch_sources(
    store: &dyn Store,
    ws: WorkspaceId,
) -> leadgen_store::Result<HashMap<i64, String>> {
    Ok(store
        .batches(ws)?
        .into_iter()
        .map(|b| (b.id, b.source))
        .collect())
}

/// One company as a JSON object; `detail` adds provenance and custom fields.
pub fn company_json(c: &Company, sources: &HashMap<i64, String>, detail: bool) -> Value {
    let records = c
        .provenance
        .origin
        .iter()
        .map(|o| o.record)
        .chain(c.provenance.linked.iter().copied());
    let names: BTreeSet<&str> = records
        .filter_map(|r| sources.get(&r.batch()).map(String::as_str))
        .collect();
    let mut v = serde_json::json!({
        "id": c.id,
        "name": c.name.as_ref().map(|n| n.as_str()),
        "domain": c.domain.as_ref().map(|d| d.as_str()),
        "phone": c.phone.as_ref().map(|p| p.canonical()),
        "street": c.street,
        "city": c.city,
        "state": c.state,
        "postal_code": c.postal_code,
        "country": c.country.map(|k| k.as_str().to_owned()),
        "running_ads": !c.ad_platforms().is_empty(),
        "ad_platforms": c.ad_platforms(),
        "ad_count": c.ad_count(),
        "google_ads": c.google_ads,
        "meta_ads": c.meta_ads,
        "linkedin_ads": c.linkedin_ads,
        "industry": c.industry,
        "rating": c.rating,
        "review_count": c.review_count,
        "place_id": c.place_id,
        "sources": names,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    });
    if detail {
        v["provenance"] = serde_json::to_value(&c.provenance).unwrap_or(Value::Null);
        v["custom"] = serde_json::to_value(&c.custom).unwrap_or(Value::Null);
    }
    v
}

/// The key leads are filtered by (`LeadFilter::company_domain`): the
/// registrable domain of a domain or website address; `None` if it is none.
pub fn company_domain_key(raw: &str) -> Option<String> {
    Domain::parse(raw).ok().map(|d| d.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_keys_are_registrable_domains() {
        assert_eq!(
            company_domain_key("https://WWW.Acme.co.uk/about").as_deref(),
            Some("acme.co.uk")
        );
        assert_eq!(company_domain_key("acme.com").as_deref(), Some("acme.com"));
        assert_eq!(company_domain_key("not a domain"), None);
        assert_eq!(company_domain_key("co.uk"), None);
    }
}
