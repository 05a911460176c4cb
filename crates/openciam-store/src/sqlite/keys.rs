//! [`KeyStore`] on SQLite. Private keys arrive and leave encrypted; this module never sees
//! key material in clear.

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::SigningKeyRow;
use async_trait::async_trait;
use openciam_core::model::SigningKeyRecord;
use openciam_core::ports::{KeyStore, StoreResult};
use sqlx::SqliteConnection;

#[async_trait]
impl KeyStore for SqliteStore {
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = sqlx::query_as::<_, SigningKeyRow>(
            "SELECT kid, alg, private_key_enc, created_at, activate_at, retired_at \
             FROM signing_keys ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(SigningKeyRow::into_record).collect())
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        let _turn = self.write_turn().await?;
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        insert_key(&mut conn, key).await
    }

    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key_enc, created_at, activate_at, \
             retired_at) SELECT ?, ?, ?, ?, ?, ? \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_key_enc)
        .bind(key.created_at)
        .bind(key.activate_at)
        .bind(key.retired_at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?
        .rows_affected()
            == 1;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(inserted)
    }

    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_key(&mut tx, key).await?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = ? \
             WHERE kid <> ? AND (retired_at IS NULL OR retired_at > ?)",
        )
        .bind(key.activate_at)
        .bind(&key.kid)
        .bind(key.activate_at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)
    }
}

/// Inserts a key on `conn` (a pooled connection or an open transaction).
pub(super) async fn insert_key(conn: &mut SqliteConnection, key: &SigningKeyRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, private_key_enc, created_at, activate_at, \
         retired_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.kid)
    .bind(&key.alg)
    .bind(&key.private_key_enc)
    .bind(key.created_at)
    .bind(key.activate_at)
    .bind(key.retired_at)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}
