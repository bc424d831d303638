//! The email-pattern finder: candidates for a named person from the
//! domain's inferred pattern, checked with the verifier one at a time, best
//! first; the first the mail server accepts wins. On a catch-all domain the
//! server accepts everything, so probing stops and the most likely
//! candidate is kept with the pattern's confidence only.

use leadgen_verify::{Status, Verifier};
use serde::Serialize;

use crate::pattern::{Inference, Pattern};

/// The finder's answer for one person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailGuess {
    pub email: String,
    pub pattern: Pattern,
    /// 0–1: how sure we are this address reaches the person.
    pub confidence: f64,
    /// The verifier's verdict on `email`.
    pub status: Status,
    /// Every address probed, with its verdict, in order.
    pub tried: Vec<(String, Status)>,
}

/// Probes at most `max_probes` candidates for `first last` at `domain`.
/// `None` when every candidate was refused or no candidate could be built.
pub async fn find_email(
    verifier: &Verifier,
    inference: &Inference,
    first: &str,
    last: &str,
    domain: &str,
    max_probes: usize,
) -> Option<EmailGuess> {
    let candidates = inference.candidates(first, last, domain, max_probes);
    let mut tried = Vec::new();
    // The best address whose verdict was not a refusal, should none be valid.
    let mut fallback: Option<(String, Pattern, f64, Status)> = None;
    for (email, pattern, p) in candidates {
        let v = verifier.verify(&email).await;
        tried.push((email.clone(), v.status));
        match v.status {
            Status::Valid => {
                // Accepted by a server that refuses strangers: the address
                // exists; the pattern only says how we found it.
                let confidence = (0.9 + 0.08 * p).min(0.98);
                return Some(EmailGuess {
                    email,
                    pattern,
                    confidence,
                    status: Status::Valid,
                    tried,
                });
            }
            Status::CatchAll => {
                // Everything is accepted: more probes say nothing. The
                // pattern's probability is all we know.
                return Some(EmailGuess {
                    email,
                    pattern,
                    confidence: (0.6 * p).min(0.6),
                    status: Status::CatchAll,
                    tried,
                });
            }
            Status::Invalid => {}
            s @ (Status::Risky | Status::Unknown) => {
                if fallback.is_none() {
                    fallback = Some((email, pattern, p, s));
                }
            }
        }
    }
    fallback.map(|(email, pattern, p, status)| EmailGuess {
        email,
        pattern,
        confidence: (0.4 * p).min(0.4),
        status,
        tried,
    })
}
