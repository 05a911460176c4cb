//! [`AppStore`] on SQLite.

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::{AppRow, encode_attributes, encode_list, encode_mfa_policy, method_text, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{ClientId, TenantId};
use openciam_core::model::App;
use openciam_core::ports::{AppStore, StoreError, StoreResult};
use sqlx::SqliteConnection;

const APP_COLUMNS: &str = "client_id, tenant_id, display_name, public_client, native_auth, \
                           method, cors_origins, identifier_uri, scopes, signup_attributes, mfa_policy, created_at";

#[async_trait]
impl AppStore for SqliteStore {
    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        // Continuation tokens and codes go with their flows, refresh tokens with their families.
        for sql in [
            "DELETE FROM flows WHERE client_id = ?",
            "DELETE FROM refresh_families WHERE client_id = ?",
        ] {
            sqlx::query(sql)
                .bind(client_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        }
        let done = sqlx::query("DELETE FROM apps WHERE client_id = ?")
            .bind(client_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_app(&self, app: &App) -> StoreResult<()> {
        let _turn = self.write_turn().await?;
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        insert_app(&mut conn, app).await
    }

    /// The tenant and creation time are not settings: they are kept as stored.
    async fn update_app(&self, app: &App) -> StoreResult<()> {
        let _turn = self.write_turn().await?;
        let done = sqlx::query(
            "UPDATE apps SET display_name = ?, public_client = ?, native_auth = ?, method = ?, \
             cors_origins = ?, identifier_uri = ?, scopes = ?, signup_attributes = ?, mfa_policy = ? \
             WHERE client_id = ?",
        )
        .bind(&app.display_name)
        .bind(app.public_client)
        .bind(app.native_auth)
        .bind(method_text(&app.method))
        .bind(encode_list(&app.cors_origins)?)
        .bind(&app.identifier_uri)
        .bind(encode_list(&app.scopes)?)
        .bind(encode_attributes(&app.signup_attributes)?)
        .bind(encode_mfa_policy(app.mfa.as_ref())?)
        .bind(app.client_id.as_str())
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Other(anyhow::anyhow!(
                "no app with client id {}",
                app.client_id
            )));
        }
        Ok(())
    }

    async fn app_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE client_id = ?");
        sqlx::query_as::<_, AppRow>(&sql)
            .bind(client_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?
            .map(AppRow::into_record)
            .transpose()
    }

    async fn apps_of_tenant(&self, tenant: TenantId) -> StoreResult<Vec<App>> {
        let sql =
            format!("SELECT {APP_COLUMNS} FROM apps WHERE tenant_id = ? ORDER BY display_name, client_id");
        sqlx::query_as::<_, AppRow>(&sql)
            .bind(uuid_text(tenant.0))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?
            .into_iter()
            .map(AppRow::into_record)
            .collect()
    }
}

/// Inserts an app on `conn` (a pooled connection or an open transaction).
pub(super) async fn insert_app(conn: &mut SqliteConnection, app: &App) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO apps (client_id, tenant_id, display_name, public_client, native_auth, \
         method, cors_origins, identifier_uri, scopes, signup_attributes, mfa_policy, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(app.client_id.as_str())
    .bind(uuid_text(app.tenant_id.0))
    .bind(&app.display_name)
    .bind(app.public_client)
    .bind(app.native_auth)
    .bind(method_text(&app.method))
    .bind(encode_list(&app.cors_origins)?)
    .bind(&app.identifier_uri)
    .bind(encode_list(&app.scopes)?)
    .bind(encode_attributes(&app.signup_attributes)?)
    .bind(encode_mfa_policy(app.mfa.as_ref())?)
    .bind(app.created_at)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}
