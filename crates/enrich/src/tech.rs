//! Technology fingerprints from a data file of signatures
//! (`data/tech_signatures.toml`), matched as lower-case substrings of a
//! page's source and of selected response headers.

use std::sync::{Arc, LazyLock};

use serde::Deserialize;

const BUNDLED: &str = include_str!("../data/tech_signatures.toml");

/// One technology and what gives it away.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub category: String,
    #[serde(default)]
    pub html: Vec<String>,
    #[serde(default)]
    pub header: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct File {
    tech: Vec<Signature>,
}

/// A set of signatures, patterns lower-cased once.
#[derive(Debug, Clone)]
pub struct TechDb {
    signatures: Vec<Signature>,
}

#[derive(Debug, thiserror::Error)]
#[error("tech signatures: {0}")]
pub struct TechDbError(String);

static DEFAULT: LazyLock<Arc<TechDb>> = LazyLock::new(|| {
    // The bundled file is checked by a test; an error here is a build bug.
    Arc::new(TechDb::parse(BUNDLED).unwrap_or(TechDb {
        signatures: Vec::new(),
    }))
});

impl TechDb {
    /// The signatures shipped with leadgen.
    pub fn bundled() -> Arc<TechDb> {
        DEFAULT.clone()
    }

    /// Reads a signatures file (the bundled file's format).
    pub fn parse(text: &str) -> Result<TechDb, TechDbError> {
        let file: File = toml::from_str(text).map_err(|e| TechDbError(e.to_string()))?;
        let signatures = file
            .tech
            .into_iter()
            .map(|mut s| {
                s.html.iter_mut().for_each(|p| *p = p.to_ascii_lowercase());
                s.header
                    .iter_mut()
                    .for_each(|p| *p = p.to_ascii_lowercase());
                s
            })
            .collect();
        Ok(TechDb { signatures })
    }

    pub fn len(&self) -> usize {
        self.signatures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }

    /// Names of the technologies `html` and `headers` reveal, in file order.
    pub fn detect(&self, html: &str, headers: &[(String, String)]) -> Vec<String> {
        let html = html.to_ascii_lowercase();
        let headers: Vec<String> = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}").to_ascii_lowercase())
            .collect();
        self.signatures
            .iter()
            .filter(|s| {
                s.html.iter().any(|p| html.contains(p.as_str()))
                    || s.header
                        .iter()
                        .any(|p| headers.iter().any(|h| h.contains(p.as_str())))
            })
            .map(|s| s.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_file_parses_and_names_the_usual_suspects() {
        let db = TechDb::parse(BUNDLED).unwrap();
        for name in [
            "WordPress",
            "Shopify",
            "Wix",
            "Squarespace",
            "Webflow",
            "HubSpot",
            "Salesforce",
            "Google Analytics",
            "Google Tag Manager",
            "Meta Pixel",
            "Intercom",
            "Drift",
            "Calendly",
            "Stripe",
        ] {
            assert!(
                db.signatures.iter().any(|s| s.name == name),
                "{name} missing"
            );
        }
    }

    #[test]
    fn detects_from_source_and_headers() {
        let db = TechDb::bundled();
        let html = r#"<script src="https://cdn.shopify.com/s/x.js"></script>
            <script src="https://js.stripe.com/v3"></script>"#;
        let headers = vec![("server".to_owned(), "cloudflare".to_owned())];
        assert_eq!(
            db.detect(html, &headers),
            ["Shopify", "Stripe", "Cloudflare"]
        );
        assert!(db.detect("<p>plain</p>", &[]).is_empty());
    }
}
