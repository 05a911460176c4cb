//! [`RefreshTokenStore`] on PostgreSQL.
//!
//! A family is one sign-in; every rotation adds a token to it. Revocation is recorded on the
//! family only, so revoking is one row and every token of the family reads as revoked.
//! Rotation is a single guarded `UPDATE`: of two callers racing on one token, the second waits
//! for the first's row lock, re-checks `rotated_at IS NULL` against the committed row and
//! matches nothing. A revocation racing a rotation cannot strand a live successor either: the
//! successor joins the revoked family.

use super::PostgresStore;
use crate::error::map_sqlx;
use crate::rows::{RefreshRow, encode_list, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{FamilyId, TenantId, UserId};
use openciam_core::model::RefreshRecord;
use openciam_core::ports::{RefreshTokenStore, RotateOutcome, StoreResult};
use sqlx::PgConnection;

#[async_trait]
impl RefreshTokenStore for PostgresStore {
    async fn create_family(&self, first: &RefreshRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO refresh_families (id, tenant_id, client_id, user_id, created_at, \
             revoked_at, revoke_reason) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(uuid_text(first.family_id.0))
        .bind(uuid_text(first.tenant_id.0))
        .bind(first.client_id.as_str())
        .bind(uuid_text(first.user_id.0))
        .bind(first.family_created_at)
        .bind(first.revoked_at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        insert_token(&mut tx, first, &uuid_text(first.family_id.0), first.rotated_at).await?;
        tx.commit().await.map_err(map_sqlx)
    }

    async fn refresh_by_hash(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>> {
        sqlx::query_as::<_, RefreshRow>(
            "SELECT t.token_hash, t.family_id, f.tenant_id, f.client_id, f.user_id, t.scopes, \
             t.issued_at, t.expires_at, t.rotated_at, f.revoked_at, \
             f.created_at AS family_created_at \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
             WHERE t.token_hash = $1",
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
        let mut tx = self.begin().await?;
        // `rotated_at >= NULL` is never true, so without a grace window only a never-rotated
        // token qualifies. COALESCE keeps the first rotation time: reuse inside the grace window
        // must not slide the window forward.
        let family: Option<(String,)> = sqlx::query_as(
            "UPDATE refresh_tokens t SET rotated_at = COALESCE(t.rotated_at, $1) \
             WHERE t.token_hash = $2 \
             AND (t.rotated_at IS NULL OR t.rotated_at >= $3) \
             AND EXISTS (SELECT 1 FROM refresh_families f \
                         WHERE f.id = t.family_id AND f.revoked_at IS NULL) \
             RETURNING t.family_id",
        )
        .bind(now)
        .bind(old_hash)
        .bind(allow_rotated_since)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let Some((family,)) = family else {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(RotateOutcome::AlreadyRotated);
        };
        // The successor joins the old token's family, whatever `next.family_id` says.
        insert_token(&mut tx, next, &family, None).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(RotateOutcome::Rotated)
    }

    async fn revoke_family(&self, family: FamilyId, now: i64, reason: &str) -> StoreResult<()> {
        // The first revocation (time and reason) is the one kept.
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1, revoke_reason = $2 \
             WHERE id = $3 AND revoked_at IS NULL",
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
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        revoke_user_families_in(&mut conn, tenant, user, now, reason).await
    }
}

/// Inserts one token of `family` (its id as stored).
async fn insert_token(
    conn: &mut PgConnection,
    token: &RefreshRecord,
    family: &str,
    rotated_at: Option<i64>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, scopes, issued_at, expires_at, \
         rotated_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token.token_hash)
    .bind(family)
    .bind(encode_list(&token.scopes)?)
    .bind(token.issued_at)
    .bind(token.expires_at)
    .bind(rotated_at)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}

/// Revokes every live family of a user on `conn` (a transaction, when part of a larger change).
/// Returns how many were live.
pub(super) async fn revoke_user_families_in(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    now: i64,
    reason: &str,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE refresh_families SET revoked_at = $1, revoke_reason = $2 \
         WHERE tenant_id = $3 AND user_id = $4 AND revoked_at IS NULL",
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
