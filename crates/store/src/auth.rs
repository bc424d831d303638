//! Tenants and who may act in them: workspaces, users with password hashes,
//! server-side sessions and API keys. The store keeps hashes only; hashing and
//! checking belong to the server.

use leadgen_core::WorkspaceId;

use crate::Result;

pub type UserId = i64;
pub type ApiKeyId = i64;

/// What a user or key may do. Ordered: a higher role may do all a lower may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Only posts inbound leads to `/api/v1/capture`: the key a landing page
    /// embeds. Keys only; refused on every other route.
    Capture,
    /// Reads everything in the workspace.
    Viewer,
    /// Also writes leads, imports, runs and jobs.
    Member,
    /// Also manages users and API keys.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Capture => "capture",
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "capture" => Some(Role::Capture),
            "viewer" => Some(Role::Viewer),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub workspace: WorkspaceId,
    pub email: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub role: Role,
    pub created_at: i64,
}

/// A live session and the user it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub workspace: WorkspaceId,
    pub name: String,
    pub role: Role,
    /// The first characters of the key, to recognise it in a listing.
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A key to store: everything but the id, which the store assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey<'a> {
    pub workspace: WorkspaceId,
    pub name: &'a str,
    pub role: Role,
    pub key_hash: &'a str,
    pub prefix: &'a str,
}

pub trait AuthStore {
    /// Creates the workspace with this id unless it exists (the default
    /// workspace of a single-tenant install is created on first use).
    fn ensure_workspace(&self, id: WorkspaceId, name: &str, now: i64) -> Result<()>;
    /// A new workspace with the next free id (never 1, the default).
    fn create_workspace(&self, name: &str, now: i64) -> Result<WorkspaceId>;
    fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>>;
    fn list_workspaces(&self) -> Result<Vec<Workspace>>;

    /// `None` when the email is already taken in the workspace.
    fn create_user(
        &self,
        ws: WorkspaceId,
        email: &str,
        password_hash: &str,
        role: Role,
        now: i64,
    ) -> Result<Option<UserId>>;
    /// Every user with this email, in any workspace (login looks them up
    /// before it knows the workspace).
    fn users_by_email(&self, email: &str) -> Result<Vec<User>>;
    fn list_users(&self, ws: WorkspaceId) -> Result<Vec<User>>;
    fn count_users(&self) -> Result<u64>;

    fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        csrf_token: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<()>;
    /// The session's user, if the session exists and has not expired.
    fn session(&self, token_hash: &str, now: i64) -> Result<Option<SessionUser>>;
    fn delete_session(&self, token_hash: &str) -> Result<()>;

    fn create_api_key(&self, key: &NewApiKey<'_>, now: i64) -> Result<ApiKeyId>;
    /// The key with this hash, revoked or not.
    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>>;
    fn list_api_keys(&self, ws: WorkspaceId) -> Result<Vec<ApiKey>>;
    /// `false` when the key is not in the workspace or already revoked.
    fn revoke_api_key(&self, ws: WorkspaceId, id: ApiKeyId, now: i64) -> Result<bool>;
    /// Records a use; at most once a minute per key writes anything.
    fn touch_api_key(&self, id: ApiKeyId, now: i64) -> Result<()>;
}

/// The tables, in SQL both backends accept; `id` is the backend's
/// auto-increment primary key clause.
pub(crate) fn auth_ddl(id: &str) -> String {
    format!(
        r#"
CREATE TABLE workspaces (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE users (
    id {id},
    workspace_id BIGINT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, email)
);
CREATE INDEX users_email ON users (email);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    csrf_token TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE api_keys (
    id {id},
    workspace_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);
"#
    )
}

pub(crate) const USER_COLUMNS: &str = "id, workspace_id, email, password_hash, role, created_at";
pub(crate) const KEY_COLUMNS: &str =
    "id, workspace_id, name, role, prefix, created_at, revoked_at, last_used_at";

pub(crate) fn parse_role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| crate::StoreError::Corrupt(format!("role {s:?}")))
}

/// A use is recorded when the last one is older than this.
pub(crate) const TOUCH_EVERY_MS: i64 = 60_000;
