//! [`TenantStore`] on SQLite.

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::{TenantRow, encode_policy, encode_security, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::TenantId;
use openciam_core::model::Tenant;
use openciam_core::ports::{StoreResult, TenantStore};
use openciam_core::security::TenantSecurity;
use sqlx::SqliteConnection;

const TENANT_COLUMNS: &str = "id, name, domain, password_policy, security, created_at";

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let _turn = self.write_turn().await?;
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        insert_tenant(&mut conn, tenant).await
    }

    async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?");
        sqlx::query_as::<_, TenantRow>(&sql)
            .bind(uuid_text(id.0))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?
            .map(TenantRow::into_record)
            .transpose()
    }

    async fn tenant_by_name(&self, name_or_domain: &str) -> StoreResult<Option<Tenant>> {
        // Both columns are stored lower-case; a name match wins over a domain match.
        let key = name_or_domain.to_lowercase();
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM tenants \
             WHERE name = ? OR domain = ? \
             ORDER BY CASE WHEN name = ? THEN 0 ELSE 1 END \
             LIMIT 1"
        );
        sqlx::query_as::<_, TenantRow>(&sql)
            .bind(&key)
            .bind(&key)
            .bind(&key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?
            .map(TenantRow::into_record)
            .transpose()
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY name");
        sqlx::query_as::<_, TenantRow>(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?
            .into_iter()
            .map(TenantRow::into_record)
            .collect()
    }
    async fn set_tenant_security(&self, id: TenantId, security: &TenantSecurity) -> StoreResult<bool> {
        let _turn = self.write_turn().await?;
        let done = sqlx::query("UPDATE tenants SET security = ? WHERE id = ?")
            .bind(encode_security(security)?)
            .bind(uuid_text(id.0))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}

/// Inserts a tenant on `conn` (a pooled connection or an open transaction).
pub(super) async fn insert_tenant(conn: &mut SqliteConnection, tenant: &Tenant) -> StoreResult<()> {
    sqlx::query("INSERT INTO tenants (id, name, domain, password_policy, security, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(uuid_text(tenant.id.0))
        .bind(&tenant.name)
        .bind(&tenant.domain)
        .bind(encode_policy(&tenant.password_policy)?)
        .bind(encode_security(&tenant.security)?)
        .bind(tenant.created_at)
        .execute(conn)
        .await
        .map_err(map_sqlx)?;
    Ok(())
}
