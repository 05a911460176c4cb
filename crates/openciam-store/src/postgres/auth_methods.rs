//! [`AuthMethodStore`] on PostgreSQL. Every call is one statement.

use super::PostgresStore;
use crate::error::map_sqlx;
use crate::rows::{AUTH_METHOD_COLUMNS, AuthMethodRow, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{AuthMethodId, TenantId, UserId};
use openciam_core::model::AuthMethod;
use openciam_core::ports::{AuthMethodStore, StoreResult};
use sqlx::PgConnection;

#[async_trait]
impl AuthMethodStore for PostgresStore {
    async fn auth_methods(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<AuthMethod>> {
        let sql = format!(
            "SELECT {AUTH_METHOD_COLUMNS} FROM auth_methods WHERE tenant_id = $1 AND user_id = $2 \
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
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        insert_auth_method(&mut conn, method).await
    }

    async fn remove_auth_method(
        &self,
        tenant: TenantId,
        user: UserId,
        id: AuthMethodId,
    ) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM auth_methods WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(user.0))
            .bind(uuid_text(id.0))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_auth_methods(&self, tenant: TenantId, user: UserId) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM auth_methods WHERE tenant_id = $1 AND user_id = $2")
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
        let done = sqlx::query(
            "UPDATE auth_methods SET last_used_at = $1 WHERE tenant_id = $2 AND user_id = $3 AND id = $4",
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
pub(super) async fn insert_auth_method(conn: &mut PgConnection, method: &AuthMethod) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO auth_methods ({AUTH_METHOD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
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
