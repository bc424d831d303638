//! The per-address result, as JSON.

use serde::Serialize;

/// The verdict on an address. See the crate docs for the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Valid,
    Invalid,
    Risky,
    CatchAll,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Risky => "risky",
            Status::CatchAll => "catch_all",
            Status::Unknown => "unknown",
        }
    }
}

/// What the SMTP server said about the address itself (the `RCPT TO`
/// reply, or the reply that ended the session before it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpResult {
    /// `null` when no server answered (timeouts, refused connections).
    pub code: Option<u16>,
    pub enhanced_code: Option<String>,
    pub message: Option<String>,
    /// `true`: the domain accepts any address; `false`: it rejected a
    /// random one; `null`: not known.
    pub catch_all: Option<bool>,
    /// The MX host that answered last.
    pub host: Option<String>,
    /// The session was upgraded with STARTTLS.
    pub tls: bool,
}

/// One verified address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The input, as given.
    pub email: String,
    /// Canonical form (domain lower case, punycode); `null` when invalid.
    pub normalized: Option<String>,
    pub syntax_valid: bool,
    /// Machine reason for any status but a clean `valid`; `null` otherwise.
    pub reason: Option<String>,
    /// The syntax error, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A corrected address when the input looks like a typo.
    pub suggestion: Option<String>,
    pub is_disposable: bool,
    pub is_role: bool,
    pub is_free: bool,
    /// MX hosts in preference order (the domain itself for an implicit MX).
    pub mx_hosts: Vec<String>,
    /// `google_workspace`, `microsoft_365`, …, `other`; `null` when DNS was
    /// not asked or found no host.
    pub provider: Option<String>,
    /// `null` when no SMTP server was probed.
    pub smtp: Option<SmtpResult>,
    pub status: Status,
    pub score: u8,
    /// RFC 3339, UTC.
    pub checked_at: String,
}

impl Verification {
    pub fn new(email: &str) -> Verification {
        Verification {
            email: email.to_owned(),
            normalized: None,
            syntax_valid: false,
            reason: None,
            message: None,
            suggestion: None,
            is_disposable: false,
            is_role: false,
            is_free: false,
            mx_hosts: Vec::new(),
            provider: None,
            smtp: None,
            status: Status::Unknown,
            score: 0,
            checked_at: now_rfc3339(),
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and options always serializes.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// The current time as RFC 3339 (UTC, milliseconds). Formatting is the
/// dearest part of a syntax-only result, so each thread reuses the text
/// within the same millisecond.
fn now_rfc3339() -> String {
    use std::cell::RefCell;
    thread_local! {
        static LAST: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = chrono::Utc::now();
    let ms = now.timestamp_millis();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != ms {
            *last = (ms, now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
        last.1.clone()
    })
}
