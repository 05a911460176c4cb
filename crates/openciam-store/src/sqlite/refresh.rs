//! [`RefreshTokenStore`] on SQLite.
//!
//! A family is one sign-in; every rotation adds a token to it. Revocation is recorded on the
//! family only, so revoking is one row and every token of the family reads as revoked.
//! Rotation is a single guarded `UPDATE` whose row count decides the outcome: two callers
//! racing on one token cannot both see a live token, because SQLite admits one writer at a time
//! and the second one's `rotated_at IS NULL` no longer holds.

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::{RefreshRow, encode_list, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{FamilyId, TenantId, UserId};
use openciam_core::model::RefreshRecord;
use openciam_core::ports::{RefreshTokenStore, RotateOutcome, StoreResult};
use sqlx::SqliteConnection;

#[async_trait]
impl RefreshTokenStore for SqliteStore {
    async fn create_family(&self, first: &RefreshRecord) -> StoreResult<()> {
        let batch = sqlx::query(
            "BEGIN IMMEDIATE; \
             INSERT INTO refresh_families (id, tenant_id, client_id, user_id, created_at, \
             revoked_at, revoke_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL); \
             INSERT INTO refresh_tokens (token_hash, family_id, scopes, issued_at, expires_at, \
             rotated_at) VALUES (?7, ?1, ?8, ?9, ?10, ?11); \
             COMMIT",
        )
        .bind(uuid_text(first.family_id.0))
        .bind(uuid_text(first.tenant_id.0))
        .bind(first.client_id.as_str().to_owned())
        .bind(uuid_text(first.user_id.0))
        .bind(first.family_created_at)
        .bind(first.revoked_at)
        .bind(first.token_hash.clone())
        .bind(encode_list(&first.scopes)?)
        .bind(first.issued_at)
        .bind(first.expires_at)
        .bind(first.rotated_at);
        self.write_batch(batch).await?;
        Ok(())
    }

    async fn refresh_by_hash(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>> {
        sqlx::query_as::<_, RefreshRow>(
            "SELECT t.token_hash, t.family_id, f.tenant_id, f.client_id, f.user_id, t.scopes, \
             t.issued_at, t.expires_at, t.rotated_at, f.revoked_at, \
             f.created_at AS family_created_at \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
             WHERE t.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?
        .map(RefreshRow::into_record)
        .transpose()
    }

    async fn rotate_refresh(
        &self,
        old_hash: &[u8],
        now: i64,
        allow_rotated_since: Option<i64>,
        next: &RefreshRecord,
    ) -> StoreResult<RotateOutcome> {
        // `rotated_at >= NULL` is never true, so without a grace window only a never-rotated
        // token qualifies. COALESCE keeps the first rotation time: reuse inside the grace window
        // must not slide the window forward. The successor goes in only when the update took,
        // and joins the old token's family, whatever `next.family_id` says.
        let batch = sqlx::query(
            "BEGIN IMMEDIATE; \
             UPDATE refresh_tokens SET rotated_at = COALESCE(rotated_at, ?1) \
             WHERE token_hash = ?2 \
             AND (rotated_at IS NULL OR rotated_at >= ?3) \
             AND EXISTS (SELECT 1 FROM refresh_families f \
                         WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NULL); \
             INSERT INTO refresh_tokens (token_hash, family_id, scopes, issued_at, expires_at, \
             rotated_at) \
             SELECT ?4, family_id, ?5, ?6, ?7, NULL FROM refresh_tokens \
             WHERE token_hash = ?2 AND changes() = 1 RETURNING 1; \
             COMMIT",
        )
        .bind(now)
        .bind(old_hash.to_vec())
        .bind(allow_rotated_since)
        .bind(next.token_hash.clone())
        .bind(encode_list(&next.scopes)?)
        .bind(next.issued_at)
        .bind(next.expires_at);
        Ok(if self.write_batch(batch).await?.is_empty() {
            RotateOutcome::AlreadyRotated
        } else {
            RotateOutcome::Rotated
        })
    }

    async fn revoke_family(&self, family: FamilyId, now: i64, reason: &str) -> StoreResult<()> {
        let _turn = self.write_turn().await?;
        // The first revocation (time and reason) is the one kept.
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(uuid_text(family.0))
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn revoke_user_families(
        &self,
        tenant: TenantId,
        user: UserId,
        now: i64,
        reason: &str,
    ) -> StoreResult<u64> {
        let _turn = self.write_turn().await?;
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        revoke_user_families_in(&mut conn, tenant, user, now, reason).await
    }
}

/// Revokes every live family of a user on `conn` (a transaction, when part of a larger change).
/// Returns how many were live.
pub(super) async fn revoke_user_families_in(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: UserId,
    now: i64,
    reason: &str,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? \
         WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(uuid_text(tenant.0))
    .bind(uuid_text(user.0))
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(done.rows_affected())
}
