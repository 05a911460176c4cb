//! [`UserStore`] on SQLite. Credential and status changes revoke the user's refresh-token
//! families in the same transaction, so no session outlives a password reset or a disable; a
//! password change also deletes the user's open flows, so no continuation token outlives it.
//! A rehash (same password, better hash) and an import touch neither.

use super::SqliteStore;
use super::flows::delete_user_flows;
use super::refresh::revoke_user_families_in;
use crate::error::map_sqlx;
use crate::rows::{REASON_PASSWORD_CHANGED, REASON_USER_DISABLED, UserRow, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{TenantId, UserId};
use openciam_core::model::User;
use openciam_core::ports::{StoreError, StoreResult, UserQuery, UserStore};
use sqlx::SqliteConnection;

const USER_COLUMNS: &str = "id, tenant_id, username, username_normalized, password_hash, \
                            disabled, attributes, created_at, updated_at";

#[async_trait]
impl UserStore for SqliteStore {
    async fn users_page(&self, tenant: TenantId, query: &UserQuery) -> StoreResult<Vec<User>> {
        // `INSTR`/`STRPOS` match the search text literally (no LIKE wildcards to escape).
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ? \
             AND (? IS NULL OR username_normalized > ?) \
             AND (? IS NULL OR INSTR(username_normalized, ?) > 0) \
             ORDER BY username_normalized LIMIT ?"
        );
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(uuid_text(tenant.0))
            .bind(query.after.as_deref())
            .bind(query.after.as_deref())
            .bind(query.email_contains.as_deref())
            .bind(query.email_contains.as_deref())
            .bind(query.limit.max(0))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?
            .into_iter()
            .map(UserRow::into_record)
            .collect()
    }

    async fn set_user_attributes(
        &self,
        tenant: TenantId,
        id: UserId,
        attributes: &serde_json::Map<String, serde_json::Value>,
        now: i64,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await?;
        let attributes = serde_json::to_string(attributes).map_err(|e| StoreError::Other(e.into()))?;
        let done =
            sqlx::query("UPDATE users SET attributes = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
                .bind(attributes)
                .bind(now)
                .bind(uuid_text(tenant.0))
                .bind(uuid_text(id.0))
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_user(&self, tenant: TenantId, id: UserId) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let (tenant_text, id_text) = (uuid_text(tenant.0), uuid_text(id.0));
        // The user row first (PostgreSQL locks it, as every other change of a user does).
        let exists = sqlx::query("UPDATE users SET updated_at = updated_at WHERE tenant_id = ? AND id = ?")
            .bind(&tenant_text)
            .bind(&id_text)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if exists.rows_affected() == 0 {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(false);
        }
        delete_user_flows(&mut tx, tenant, id, None).await?;
        // Refresh tokens go with their families (ON DELETE CASCADE).
        for sql in [
            "DELETE FROM refresh_families WHERE tenant_id = ? AND user_id = ?",
            "DELETE FROM lockouts WHERE tenant_id = ? AND user_id = ?",
            "DELETE FROM users WHERE tenant_id = ? AND id = ?",
        ] {
            sqlx::query(sql)
                .bind(&tenant_text)
                .bind(&id_text)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let _turn = self.write_turn().await?;
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        insert_user(&mut conn, user).await
    }

    async fn user_by_username(&self, tenant: TenantId, normalized: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ? AND username_normalized = ?");
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(uuid_text(tenant.0))
            .bind(normalized)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?
            .map(UserRow::into_record)
            .transpose()
    }

    async fn user_by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ? AND id = ?");
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(id.0))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?
            .map(UserRow::into_record)
            .transpose()
    }

    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ? ORDER BY username_normalized");
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(uuid_text(tenant.0))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?
            .into_iter()
            .map(UserRow::into_record)
            .collect()
    }

    async fn set_user_disabled(
        &self,
        tenant: TenantId,
        id: UserId,
        disabled: bool,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("UPDATE users SET disabled = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
                .bind(disabled)
                .bind(now)
                .bind(uuid_text(tenant.0))
                .bind(uuid_text(id.0))
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        if done.rows_affected() == 0 {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(false);
        }
        if disabled {
            revoke_user_families_in(&mut tx, tenant, id, now, REASON_USER_DISABLED).await?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    async fn set_user_password(
        &self,
        tenant: TenantId,
        id: UserId,
        hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if !update_password(&mut tx, tenant, id, hash, now).await? {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(false);
        }
        revoke_user_families_in(&mut tx, tenant, id, now, REASON_PASSWORD_CHANGED).await?;
        delete_user_flows(&mut tx, tenant, id, None).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    async fn rehash_password(
        &self,
        tenant: TenantId,
        id: UserId,
        old_hash: &str,
        new_hash: &str,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await?;
        // The `password_hash = old` guard makes this a compare-and-set: a password changed (reset,
        // admin) between the caller's verify and this write is never overwritten by the upgrade.
        let done = sqlx::query(
            "UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ? AND password_hash = ?",
        )
        .bind(new_hash)
        .bind(uuid_text(tenant.0))
        .bind(uuid_text(id.0))
        .bind(old_hash)
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn import_users(&self, users: &[User]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for user in users {
            match insert_user(&mut tx, user).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    tx.rollback().await.map_err(map_sqlx)?;
                    return Err(StoreError::Conflict(user.username.clone()));
                }
                Err(other) => return Err(other),
            }
        }
        tx.commit().await.map_err(map_sqlx)?;
        // After a bulk write: fresh planner statistics, and the imported pages moved from the
        // WAL into the database file (a WAL of a million rows slows every later read until a
        // checkpoint). The rows are committed either way, so a failure here is only logged.
        for pragma in ["PRAGMA optimize", "PRAGMA wal_checkpoint(TRUNCATE)"] {
            if let Err(e) = sqlx::query(pragma).execute(&self.pool).await {
                tracing::warn!(error = %e, pragma, "after the import");
            }
        }
        Ok(())
    }
}

/// Sets a user's password hash (and `updated_at`) on `conn`. False when no such user.
pub(super) async fn update_password(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: UserId,
    hash: &str,
    now: i64,
) -> StoreResult<bool> {
    let done =
        sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE tenant_id = ? AND id = ?")
            .bind(hash)
            .bind(now)
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(id.0))
            .execute(conn)
            .await
            .map_err(map_sqlx)?;
    Ok(done.rows_affected() == 1)
}

/// Inserts a user on `conn` (a pooled connection or an open transaction); a taken normalised
/// username is `Conflict`.
pub(super) async fn insert_user(conn: &mut SqliteConnection, user: &User) -> StoreResult<()> {
    let attributes = serde_json::to_string(&user.attributes).map_err(|e| StoreError::Other(e.into()))?;
    sqlx::query(
        "INSERT INTO users (id, tenant_id, username, username_normalized, password_hash, \
         disabled, attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(uuid_text(user.id.0))
    .bind(uuid_text(user.tenant_id.0))
    .bind(&user.username)
    .bind(&user.username_normalized)
    .bind(&user.password_hash)
    .bind(user.disabled)
    .bind(attributes)
    .bind(user.created_at)
    .bind(user.updated_at)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}
