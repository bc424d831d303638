//! HubSpot as a CRM target: leads become contacts, upserted by email in
//! batches of 100 (`leadgen_integrations::hubspot`). Suppressed leads and
//! leads without an email are left out before anything is sent.

use std::collections::BTreeMap;
use std::sync::Arc;

use leadgen_core::{Lead, WorkspaceId};
use leadgen_integrations::hubspot::{HubspotClient, HubspotContact, UpsertReport};
use leadgen_store::Store;
use serde::Serialize;

use super::{DeliveryError, drop_suppressed};

/// A lead as HubSpot contact properties (HubSpot's default property
/// names); `None` without an email, HubSpot's key for contacts.
pub fn contact_of(l: &Lead) -> Option<HubspotContact> {
    let email = l.email.as_ref()?.as_str().to_owned();
    let mut p = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            p.insert(k.to_owned(), v);
        }
    };
    put("firstname", l.first_name.clone());
    put("lastname", l.last_name.clone());
    put("jobtitle", l.title.clone());
    put("phone", l.phone.as_ref().map(|x| x.e164().to_owned()));
    put("company", l.company_name.clone());
    put(
        "website",
        l.company_domain.as_ref().map(|d| d.as_str().to_owned()),
    );
    put("industry", l.industry.clone());
    put("city", l.city.clone());
    put("state", l.state.clone());
    put("country", l.country.as_ref().map(|c| c.as_str().to_owned()));
    put("zip", l.postal_code.clone());
    Some(HubspotContact {
        email,
        properties: p,
    })
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HubspotPush {
    pub sent: u64,
    pub created: u64,
    pub updated: u64,
    pub suppressed: u64,
    pub without_email: u64,
    pub errors: Vec<String>,
    pub requests: u64,
}

/// Upserts `leads` into HubSpot, leaving out suppressed ones.
pub async fn push_to_hubspot(
    store: Arc<dyn Store>,
    ws: WorkspaceId,
    client: &HubspotClient,
    leads: Vec<Lead>,
) -> Result<HubspotPush, DeliveryError> {
    let (leads, suppressed) =
        tokio::task::spawn_blocking(move || drop_suppressed(store.as_ref(), ws, leads))
            .await
            .map_err(|e| DeliveryError::Config(e.to_string()))??;
    let contacts: Vec<HubspotContact> = leads.iter().filter_map(contact_of).collect();
    let without_email = (leads.len() - contacts.len()) as u64;
    let report: UpsertReport = if contacts.is_empty() {
        UpsertReport::default()
    } else {
        client.upsert_contacts(&contacts).await?
    };
    Ok(HubspotPush {
        sent: contacts.len() as u64,
        created: report.created,
        updated: report.updated,
        suppressed,
        without_email,
        errors: report.errors,
        requests: report.requests,
    })
}
