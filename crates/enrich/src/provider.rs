//! Paid data providers behind one trait. Adding Apollo, Prospeo or any
//! JSON API is one module implementing [`ContactProvider`] (over a client
//! in `leadgen-integrations`) and one config block naming it in the
//! waterfall's steps with its price.

use leadgen_integrations::IntegrationError;
use leadgen_integrations::hunter::HunterClient;
use leadgen_integrations::maps::BoxFuture;
use serde::Serialize;

/// A person at a company, found by any step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub name: String,
    pub title: Option<String>,
    pub email: Option<String>,
    pub linkedin: Option<String>,
    /// 0–1: that this person is a decision maker there and, with an email,
    /// that the address reaches them.
    pub confidence: f64,
    /// The step that found the person (`crawl`, `hunter`, `llm`, …).
    pub source: String,
    /// The step that found the email, when not the same.
    pub email_source: Option<String>,
    pub reasoning: Option<String>,
}

/// A source of contacts and emails that costs money per call.
pub trait ContactProvider: Send + Sync {
    /// The step name in config and in stored enrichments.
    fn name(&self) -> &'static str;
    /// Price of one call in millionths of a dollar (from config).
    fn cost_micros(&self) -> u64;
    /// People the provider knows at `domain`.
    fn contacts<'a>(
        &'a self,
        domain: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Contact>, IntegrationError>>;
    /// The address of `first last` at `domain`, with a 0–1 confidence.
    fn email<'a>(
        &'a self,
        domain: &'a str,
        first: &'a str,
        last: &'a str,
    ) -> BoxFuture<'a, Result<Option<(String, f64)>, IntegrationError>>;
}

/// Hunter as a provider.
pub struct HunterProvider {
    pub client: HunterClient,
    pub cost_micros: u64,
}

impl ContactProvider for HunterProvider {
    fn name(&self) -> &'static str {
        "hunter"
    }

    fn cost_micros(&self) -> u64 {
        self.cost_micros
    }

    fn contacts<'a>(
        &'a self,
        domain: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Contact>, IntegrationError>> {
        Box::pin(async move {
            let found = self.client.domain_search(domain, 10).await?;
            Ok(found
                .emails
                .into_iter()
                .filter(|e| e.kind.as_deref() != Some("generic"))
                .filter_map(|e| {
                    let name = format!(
                        "{} {}",
                        e.first_name.as_deref().unwrap_or(""),
                        e.last_name.as_deref().unwrap_or("")
                    )
                    .trim()
                    .to_owned();
                    (!name.is_empty()).then(|| Contact {
                        name,
                        title: e.position.clone(),
                        email: Some(e.value.to_ascii_lowercase()),
                        linkedin: e.linkedin.clone(),
                        confidence: f64::from(e.confidence.unwrap_or(50)) / 100.0,
                        source: "hunter".into(),
                        email_source: None,
                        reasoning: None,
                    })
                })
                .collect())
        })
    }

    fn email<'a>(
        &'a self,
        domain: &'a str,
        first: &'a str,
        last: &'a str,
    ) -> BoxFuture<'a, Result<Option<(String, f64)>, IntegrationError>> {
        Box::pin(async move {
            let f = self.client.email_finder(domain, first, last).await?;
            Ok(f.email.map(|e| {
                let score = f64::from(f.score.unwrap_or(50)) / 100.0;
                // Hunter's score on a catch-all domain is a guess.
                let score = if f.accept_all == Some(true) {
                    score.min(0.6)
                } else {
                    score
                };
                (e.to_ascii_lowercase(), score)
            }))
        })
    }
}
