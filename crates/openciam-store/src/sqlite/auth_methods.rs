//! [`AuthMethodStore`] on SQLite. Every call is one statement.

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::{AUTH_METHOD_COLUMNS, AuthMethodRow, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{AuthMethodId, TenantId, UserId};
use openciam_core::model::AuthMethod;
use openciam_core::ports::{AuthMethodStore, StoreResult};
use sqlx::SqliteConnection;

#[async_trait]
impl AuthMethodStore for SqliteStore {
    async fn auth_methods(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<AuthMethod>> {
        let sql = format!(
            "SELECT {AUTH_METHOD_COLUMNS} FROM auth_methods WHERE tenant_id = ? AND user_id = ? \
             ORDER BY created_at, id"
        );
        sqlx::query_as::<_, AuthMethodRow>(&sql)
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(user.0))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?
            .into_iter()
            .map(AuthMethodRow::into_record)
            .collect()
    }

    async fn add_auth_method(&self, method: &AuthMethod) -> StoreResult<()> {
        let _turn = self.write_turn().await?;
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        insert_auth_method(&mut conn, method).await
    }

    async fn remove_auth_method(
        &self,
        tenant: TenantId,
        user: UserId,
        id: AuthMethodId,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await?;
        let done = sqlx::query("DELETE FROM auth_methods WHERE tenant_id = ? AND user_id = ? AND id = ?")
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(user.0))
            .bind(uuid_text(id.0))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_auth_methods(&self, tenant: TenantId, user: UserId) -> StoreResult<u64> {
        let _turn = self.write_turn().await?;
        let done = sqlx::query("DELETE FROM auth_methods WHERE tenant_id = ? AND user_id = ?")
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(user.0))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    async fn mark_auth_method_used(
        &self,
        tenant: TenantId,
        user: UserId,
        id: AuthMethodId,
        now: i64,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await?;
        let done = sqlx::query(
            "UPDATE auth_methods SET last_used_at = ? WHERE tenant_id = ? AND user_id = ? AND id = ?",
        )
        .bind(now)
        .bind(uuid_text(tenant.0))
        .bind(uuid_text(user.0))
        .bind(uuid_text(id.0))
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() > 0)
    }
}

/// Inserts a method on `conn` (a pooled connection or an open transaction).
pub(super) async fn insert_auth_method(conn: &mut SqliteConnection, method: &AuthMethod) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO auth_methods ({AUTH_METHOD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(uuid_text(method.id.0))
    .bind(uuid_text(method.tenant_id.0))
    .bind(uuid_text(method.user_id.0))
    .bind(method.kind.as_str())
    .bind(&method.target)
    .bind(method.created_at)
    .bind(method.last_used_at)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}
