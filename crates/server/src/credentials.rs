//! Passwords, API keys and session tokens: how they are made, hashed and
//! checked. The CLI (`users create`, `api-keys create`) and the server call
//! the same functions.
//!
//! Passwords are hashed with argon2id (slow on purpose: they are guessable).
//! API keys and session tokens are 256 random bits, so a fast SHA-256 is
//! enough to make a leaked table useless, and lets every request look its key
//! up by hash in one indexed read.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use leadgen_core::WorkspaceId;
use leadgen_store::{NewApiKey, Role, SessionUser, Store, StoreError};
use sha2::Digest;

/// What an API key starts with, so secret scanners can spot leaked ones.
pub const KEY_PREFIX: &str = "lgk_";
/// Characters of a key kept for display.
const SHOWN_CHARS: usize = 12;
pub const MIN_PASSWORD_LEN: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{0}")]
    Invalid(String),
    #[error("a user with email {0} already exists in this workspace")]
    EmailTaken(String),
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// 256 random bits, URL-safe base64.
pub fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// SHA-256 as lowercase hex.
pub fn hash_token(token: &str) -> String {
    let digest = sha2::Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    out
}

pub fn hash_password(password: &str) -> Result<String, CredentialError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| CredentialError::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CredentialError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A password for a user created without one: 20 characters from 120 bits.
pub fn generate_password() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 15]>())
}

fn validate_email(email: &str) -> Result<String, CredentialError> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'))
        && !e.chars().any(char::is_whitespace);
    if ok {
        Ok(e)
    } else {
        Err(CredentialError::Invalid(format!(
            "'{email}' is not an email address"
        )))
    }
}

/// Creates a user in `ws` (and the workspace, if it is new).
pub fn create_user(
    store: &dyn Store,
    ws: WorkspaceId,
    email: &str,
    password: &str,
    role: Role,
    now: i64,
) -> Result<i64, CredentialError> {
    if role == Role::Capture {
        return Err(CredentialError::Invalid(
            "the capture role is for API keys a landing page embeds, not for users".into(),
        ));
    }
    let email = validate_email(email)?;
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(CredentialError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let hash = hash_password(password)?;
    store.ensure_workspace(ws, &format!("Workspace {ws}"), now)?;
    store
        .create_user(ws, &email, &hash, role, now)?
        .ok_or(CredentialError::EmailTaken(email))
}

/// A freshly issued key: shown once, stored only as its hash.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    pub id: i64,
    pub key: String,
    pub prefix: String,
}

pub fn issue_api_key(
    store: &dyn Store,
    ws: WorkspaceId,
    name: &str,
    role: Role,
    now: i64,
) -> Result<IssuedKey, CredentialError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(CredentialError::Invalid(
            "a key needs a name of 1 to 100 characters".into(),
        ));
    }
    let key = format!("{KEY_PREFIX}{}", random_token());
    let prefix: String = key.chars().take(SHOWN_CHARS).collect();
    store.ensure_workspace(ws, &format!("Workspace {ws}"), now)?;
    let id = store.create_api_key(
        &NewApiKey {
            workspace: ws,
            name,
            role,
            key_hash: &hash_token(&key),
            prefix: &prefix,
        },
        now,
    )?;
    Ok(IssuedKey { id, key, prefix })
}

/// A hash no password matches, checked when the email is unknown so that a
/// login takes as long whether or not the account exists.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$2J5Vw5ZUb2i5N1O3yHn6CJwX0mT0v8m4J6j2xYQx1Ck";

/// Checks an email and password; on success opens a session and returns its
/// token (for the cookie) and user.
pub fn login(
    store: &dyn Store,
    email: &str,
    password: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<Option<(String, SessionUser)>, CredentialError> {
    let email = email.trim().to_lowercase();
    let users = store.users_by_email(&email)?;
    let Some(user) = users
        .into_iter()
        .find(|u| verify_password(password, &u.password_hash))
    else {
        let _ = verify_password(password, DUMMY_HASH);
        return Ok(None);
    };
    let token = random_token();
    let csrf_token = random_token();
    let expires_at = now + ttl_ms;
    store.create_session(&hash_token(&token), user.id, &csrf_token, expires_at, now)?;
    Ok(Some((
        token,
        SessionUser {
            user,
            csrf_token,
            expires_at,
        },
    )))
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn bad_emails_are_refused() {
        assert!(validate_email("A@Example.com ").is_ok_and(|e| e == "a@example.com"));
        for bad in ["", "a", "a@b", "@b.com", "a b@c.com", "a@b@c.com"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
