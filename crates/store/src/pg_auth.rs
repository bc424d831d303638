//! [`AuthStore`] on PostgreSQL.

use leadgen_core::WorkspaceId;
use postgres::Row;

use crate::Result;
use crate::auth::{
    ApiKey, ApiKeyId, AuthStore, KEY_COLUMNS, NewApiKey, Role, SessionUser, TOUCH_EVERY_MS,
    USER_COLUMNS, User, UserId, Workspace, parse_role,
};
use crate::postgres::PgStore;

fn user_from(r: &Row) -> Result<User> {
    Ok(User {
        id: r.try_get(0)?,
        workspace: r.try_get(1)?,
        email: r.try_get(2)?,
        password_hash: r.try_get(3)?,
        role: parse_role(r.try_get(4)?)?,
        created_at: r.try_get(5)?,
    })
}

fn key_from(r: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.try_get(0)?,
        workspace: r.try_get(1)?,
        name: r.try_get(2)?,
        role: parse_role(r.try_get(3)?)?,
        prefix: r.try_get(4)?,
        created_at: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
        last_used_at: r.try_get(7)?,
    })
}

impl AuthStore for PgStore {
    fn ensure_workspace(&self, id: WorkspaceId, name: &str, now: i64) -> Result<()> {
        self.conn()?.client.execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            &[&id, &name, &now],
        )?;
        Ok(())
    }

    fn create_workspace(&self, name: &str, now: i64) -> Result<WorkspaceId> {
        let mut conn = self.conn()?;
        let mut tx = conn.client.transaction()?;
        tx.execute("LOCK TABLE workspaces IN EXCLUSIVE MODE", &[])?;
        let id: i64 = tx
            .query_one("SELECT coalesce(max(id), 1) + 1 FROM workspaces", &[])?
            .try_get(0)?;
        tx.execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)",
            &[&id, &name, &now],
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        let row = self
            .conn()?
            .client
            .query_opt("SELECT id, name FROM workspaces WHERE id = $1", &[&id])?;
        row.map(|r| {
            Ok(Workspace {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
            })
        })
        .transpose()
    }

    fn list_workspaces(&self) -> Result<Vec<Workspace>> {
        let rows = self
            .conn()?
            .client
            .query("SELECT id, name FROM workspaces ORDER BY id", &[])?;
        rows.iter()
            .map(|r| {
                Ok(Workspace {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                })
            })
            .collect()
    }

    fn create_user(
        &self,
        ws: WorkspaceId,
        email: &str,
        password_hash: &str,
        role: Role,
        now: i64,
    ) -> Result<Option<UserId>> {
        let row = self.conn()?.client.query_opt(
            "INSERT INTO users (workspace_id, email, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, email) DO NOTHING RETURNING id",
            &[&ws, &email, &password_hash, &role.as_str(), &now],
        )?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
        let rows = self.conn()?.client.query(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1 ORDER BY id"),
            &[&email],
        )?;
        rows.iter().map(user_from).collect()
    }

    fn list_users(&self, ws: WorkspaceId) -> Result<Vec<User>> {
        let rows = self.conn()?.client.query(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE workspace_id = $1 ORDER BY id"),
            &[&ws],
        )?;
        rows.iter().map(user_from).collect()
    }

    fn count_users(&self) -> Result<u64> {
        let n: i64 = self
            .conn()?
            .client
            .query_one("SELECT count(*) FROM users", &[])?
            .try_get(0)?;
        Ok(n.max(0) as u64)
    }

    fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        csrf_token: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        // Expired sessions go when new ones arrive; no sweeper needed.
        conn.client
            .execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now])?;
        conn.client.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&token_hash, &user, &csrf_token, &expires_at, &now],
        )?;
        Ok(())
    }

    fn session(&self, token_hash: &str, now: i64) -> Result<Option<SessionUser>> {
        let cols = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = self.conn()?.client.query_opt(
            &format!(
                "SELECT {cols}, s.csrf_token, s.expires_at FROM sessions s \
                 JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2"
            ),
            &[&token_hash, &now],
        )?;
        row.map(|r| {
            Ok(SessionUser {
                user: user_from(&r)?,
                csrf_token: r.try_get(6)?,
                expires_at: r.try_get(7)?,
            })
        })
        .transpose()
    }

    fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.conn()?
            .client
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
        Ok(())
    }

    fn create_api_key(&self, key: &NewApiKey<'_>, now: i64) -> Result<ApiKeyId> {
        let row = self.conn()?.client.query_one(
            "INSERT INTO api_keys (workspace_id, name, role, key_hash, prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &key.workspace,
                &key.name,
                &key.role.as_str(),
                &key.key_hash,
                &key.prefix,
                &now,
            ],
        )?;
        Ok(row.try_get(0)?)
    }

    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let row = self.conn()?.client.query_opt(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"),
            &[&key_hash],
        )?;
        row.as_ref().map(key_from).transpose()
    }

    fn list_api_keys(&self, ws: WorkspaceId) -> Result<Vec<ApiKey>> {
        let rows = self.conn()?.client.query(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE workspace_id = $1 ORDER BY id"),
            &[&ws],
        )?;
        rows.iter().map(key_from).collect()
    }

    fn revoke_api_key(&self, ws: WorkspaceId, id: ApiKeyId, now: i64) -> Result<bool> {
        let n = self.conn()?.client.execute(
            "UPDATE api_keys SET revoked_at = $1 \
             WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL",
            &[&now, &ws, &id],
        )?;
        Ok(n == 1)
    }

    fn touch_api_key(&self, id: ApiKeyId, now: i64) -> Result<()> {
        self.conn()?.client.execute(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $3)",
            &[&now, &id, &(now - TOUCH_EVERY_MS)],
        )?;
        Ok(())
    }
}
