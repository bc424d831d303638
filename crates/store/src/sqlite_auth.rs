//! [`AuthStore`] on SQLite.

use leadgen_core::WorkspaceId;
use rusqlite::{OptionalExtension, params};

use crate::Result;
use crate::auth::{
    ApiKey, ApiKeyId, AuthStore, KEY_COLUMNS, NewApiKey, Role, SessionUser, TOUCH_EVERY_MS,
    USER_COLUMNS, User, UserId, Workspace, parse_role,
};
use crate::sqlite::SqliteStore;

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(User, String)> {
    let role: String = r.get(4)?;
    Ok((
        User {
            id: r.get(0)?,
            workspace: r.get(1)?,
            email: r.get(2)?,
            password_hash: r.get(3)?,
            role: Role::Viewer,
            created_at: r.get(5)?,
        },
        role,
    ))
}

fn with_role((mut u, role): (User, String)) -> Result<User> {
    u.role = parse_role(&role)?;
    Ok(u)
}

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ApiKey, String)> {
    let role: String = r.get(3)?;
    Ok((
        ApiKey {
            id: r.get(0)?,
            workspace: r.get(1)?,
            name: r.get(2)?,
            role: Role::Viewer,
            prefix: r.get(4)?,
            created_at: r.get(5)?,
            revoked_at: r.get(6)?,
            last_used_at: r.get(7)?,
        },
        role,
    ))
}

fn key_with_role((mut k, role): (ApiKey, String)) -> Result<ApiKey> {
    k.role = parse_role(&role)?;
    Ok(k)
}

impl AuthStore for SqliteStore {
    fn ensure_workspace(&self, id: WorkspaceId, name: &str, now: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
            params![id, name, now],
        )?;
        Ok(())
    }

    fn create_workspace(&self, name: &str, now: i64) -> Result<WorkspaceId> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id: i64 = tx.query_row("SELECT coalesce(max(id), 1) + 1 FROM workspaces", [], |r| {
            r.get(0)
        })?;
        tx.execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3)",
            params![id, name, now],
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, name FROM workspaces WHERE id = ?1",
                params![id],
                |r| {
                    Ok(Workspace {
                        id: r.get(0)?,
                        name: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn list_workspaces(&self) -> Result<Vec<Workspace>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT id, name FROM workspaces ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(Workspace {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn create_user(
        &self,
        ws: WorkspaceId,
        email: &str,
        password_hash: &str,
        role: Role,
        now: i64,
    ) -> Result<Option<UserId>> {
        let conn = self.conn();
        let n = conn.execute(
            "INSERT INTO users (workspace_id, email, password_hash, role, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (workspace_id, email) DO NOTHING",
            params![ws, email, password_hash, role.as_str(), now],
        )?;
        Ok((n == 1).then(|| conn.last_insert_rowid()))
    }

    fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![email], user_row)?;
        rows.map(|r| with_role(r?)).collect()
    }

    fn list_users(&self, ws: WorkspaceId) -> Result<Vec<User>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE workspace_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![ws], user_row)?;
        rows.map(|r| with_role(r?)).collect()
    }

    fn count_users(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
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
        let conn = self.conn();
        // Expired sessions go when new ones arrive; no sweeper needed.
        conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", params![now])?;
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, user, csrf_token, expires_at, now],
        )?;
        Ok(())
    }

    fn session(&self, token_hash: &str, now: i64) -> Result<Option<SessionUser>> {
        let conn = self.reader();
        let cols = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = conn
            .query_row(
                &format!(
                    "SELECT {cols}, s.csrf_token, s.expires_at FROM sessions s \
                     JOIN users u ON u.id = s.user_id \
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2"
                ),
                params![token_hash, now],
                |r| Ok((user_row(r)?, r.get::<_, String>(6)?, r.get::<_, i64>(7)?)),
            )
            .optional()?;
        row.map(|(u, csrf_token, expires_at)| {
            Ok(SessionUser {
                user: with_role(u)?,
                csrf_token,
                expires_at,
            })
        })
        .transpose()
    }

    fn delete_session(&self, token_hash: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            params![token_hash],
        )?;
        Ok(())
    }

    fn create_api_key(&self, key: &NewApiKey<'_>, now: i64) -> Result<ApiKeyId> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO api_keys (workspace_id, name, role, key_hash, prefix, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                key.workspace,
                key.name,
                key.role.as_str(),
                key.key_hash,
                key.prefix,
                now
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let row = self
            .reader()
            .query_row(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1"),
                params![key_hash],
                key_row,
            )
            .optional()?;
        row.map(key_with_role).transpose()
    }

    fn list_api_keys(&self, ws: WorkspaceId) -> Result<Vec<ApiKey>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE workspace_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![ws], key_row)?;
        rows.map(|r| key_with_role(r?)).collect()
    }

    fn revoke_api_key(&self, ws: WorkspaceId, id: ApiKeyId, now: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE api_keys SET revoked_at = ?1 \
             WHERE workspace_id = ?2 AND id = ?3 AND revoked_at IS NULL",
            params![now, ws, id],
        )?;
        Ok(n == 1)
    }

    fn touch_api_key(&self, id: ApiKeyId, now: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 \
             AND (last_used_at IS NULL OR last_used_at < ?3)",
            params![now, id, now - TOUCH_EVERY_MS],
        )?;
        Ok(())
    }
}
