//! [`FlowStore`] on SQLite.
//!
//! A flow's `generation` is its version: `advance_flow` is a compare-and-swap on it, and a
//! continuation token is live only while its `generation` equals the flow's. Tokens of older
//! generations are kept (so a replayed token is recognised as stale, not unknown) and go with
//! their flow when it is purged (`ON DELETE CASCADE`), as does the flow's one-time code.

use super::SqliteStore;
use super::refresh::revoke_user_families_in;
use super::users::{insert_user, update_password};
use crate::error::map_sqlx;
use crate::rows::{ContinuationRow, FlowRow, REASON_PASSWORD_RESET, encode_list, parse_tenant_id, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{FlowId, TenantId, UserId};
use openciam_core::model::{ContinuationRecord, FlowRecord, User};
use openciam_core::ports::{FlowStore, StoreResult};
use sqlx::SqliteConnection;

/// How long a code send counts towards the send limit before `purge_expired_flows` drops it
/// (the longest window the core may ask about), in seconds.
const CODE_SEND_RETENTION: i64 = 86_400;

#[async_trait]
impl FlowStore for SqliteStore {
    async fn create_flow(&self, flow: &FlowRecord, token: &ContinuationRecord) -> StoreResult<()> {
        // The first token belongs to this flow at its initial generation (?7).
        let batch = sqlx::query(
            "BEGIN IMMEDIATE; \
             INSERT INTO flows (id, tenant_id, client_id, kind, user_id, state, generation, \
             challenge_types, capabilities, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11); \
             INSERT INTO continuation_tokens (token_hash, flow_id, step, generation, issued_at, expires_at) \
             VALUES (?12, ?1, ?13, ?7, ?14, ?15); \
             COMMIT",
        )
        .bind(uuid_text(flow.id.0))
        .bind(uuid_text(flow.tenant_id.0))
        .bind(flow.client_id.as_str().to_owned())
        .bind(flow.kind.as_str().to_owned())
        .bind(flow.user_id.map(|id| uuid_text(id.0)))
        .bind(flow.state.to_string())
        .bind(flow.generation)
        .bind(encode_list(&flow.challenge_types)?)
        .bind(encode_list(&flow.capabilities)?)
        .bind(flow.created_at)
        .bind(flow.expires_at)
        .bind(token.token_hash.clone())
        .bind(token.step.clone())
        .bind(token.issued_at)
        .bind(token.expires_at);
        self.write_batch(batch).await?;
        Ok(())
    }

    async fn token_with_flow(
        &self,
        token_hash: &[u8],
    ) -> StoreResult<Option<(ContinuationRecord, FlowRecord)>> {
        let row = sqlx::query(
            "SELECT t.token_hash, t.flow_id, t.step, t.generation AS token_generation, \
             t.issued_at AS token_issued_at, t.expires_at AS token_expires_at, \
             f.id, f.tenant_id, f.client_id, f.kind, f.user_id, f.state, f.generation, \
             f.challenge_types, f.capabilities, f.created_at, f.expires_at \
             FROM continuation_tokens t JOIN flows f ON f.id = t.flow_id \
             WHERE t.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let token: ContinuationRow = sqlx::FromRow::from_row(&row).map_err(map_sqlx)?;
        let flow: FlowRow = sqlx::FromRow::from_row(&row).map_err(map_sqlx)?;
        Ok(Some((token.into_record()?, flow.into_record()?)))
    }

    async fn add_token(&self, token: &ContinuationRecord, state: &serde_json::Value) -> StoreResult<bool> {
        // The state update is the generation check; the token goes in only when it matched, in
        // the same transaction. A duplicate hash is `Conflict`, and the state is rolled back.
        let batch = sqlx::query(
            "BEGIN IMMEDIATE; \
             UPDATE flows SET state = ?1 WHERE id = ?2 AND generation = ?3; \
             INSERT INTO continuation_tokens (token_hash, flow_id, step, generation, issued_at, expires_at) \
             SELECT ?4, ?2, ?5, ?3, ?6, ?7 WHERE changes() = 1 RETURNING 1; \
             COMMIT",
        )
        .bind(state.to_string())
        .bind(uuid_text(token.flow_id.0))
        .bind(token.generation)
        .bind(token.token_hash.clone())
        .bind(token.step.clone())
        .bind(token.issued_at)
        .bind(token.expires_at);
        Ok(self.write_batch(batch).await?.len() == 1)
    }

    async fn advance_flow(
        &self,
        flow_id: FlowId,
        expected_generation: i64,
        state: &serde_json::Value,
        user_id: Option<UserId>,
        next: Option<&ContinuationRecord>,
    ) -> StoreResult<bool> {
        // The compare-and-swap of `bump_generation`; the next token (if any) goes in only when
        // it matched, at the generation it created, whatever the caller put in the record.
        let batch = sqlx::query(
            "BEGIN IMMEDIATE; \
             UPDATE flows SET state = ?1, user_id = COALESCE(?2, user_id), generation = generation + 1 \
             WHERE id = ?3 AND generation = ?4 RETURNING 1; \
             INSERT INTO continuation_tokens (token_hash, flow_id, step, generation, issued_at, expires_at) \
             SELECT ?5, ?3, ?6, ?4 + 1, ?7, ?8 WHERE ?9 AND changes() = 1; \
             COMMIT",
        )
        .bind(state.to_string())
        .bind(user_id.map(|id| uuid_text(id.0)))
        .bind(uuid_text(flow_id.0))
        .bind(expected_generation)
        .bind(next.map(|t| t.token_hash.clone()))
        .bind(next.map(|t| t.step.clone()))
        .bind(next.map(|t| t.issued_at))
        .bind(next.map(|t| t.expires_at))
        .bind(next.is_some());
        Ok(!self.write_batch(batch).await?.is_empty())
    }

    /// The flow's `user_id` becomes the new user's id. The generation is checked first, so a
    /// lost race answers false even when the winner created the same username.
    async fn advance_flow_creating_user(
        &self,
        flow_id: FlowId,
        expected_generation: i64,
        state: &serde_json::Value,
        user: &User,
        next: Option<&ContinuationRecord>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if bump_generation(&mut tx, flow_id, expected_generation, state, Some(user.id))
            .await?
            .is_none()
        {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(false);
        }
        // On `Conflict` (or any error) the transaction is dropped, which rolls the advance back.
        insert_user(&mut tx, user).await?;
        if let Some(next) = next {
            insert_token(&mut tx, next, flow_id, expected_generation + 1).await?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    /// The flow names `user_id` afterwards. The user is looked up in the flow's tenant only.
    async fn advance_flow_resetting_password(
        &self,
        flow_id: FlowId,
        expected_generation: i64,
        state: &serde_json::Value,
        user_id: UserId,
        hash: &str,
        now: i64,
        next: Option<&ContinuationRecord>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let Some(tenant) =
            bump_generation(&mut tx, flow_id, expected_generation, state, Some(user_id)).await?
        else {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(false);
        };
        if !update_password(&mut tx, tenant, user_id, hash, now).await? {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(false);
        }
        revoke_user_families_in(&mut tx, tenant, user_id, now, REASON_PASSWORD_RESET).await?;
        delete_user_flows(&mut tx, tenant, user_id, Some(flow_id)).await?;
        if let Some(next) = next {
            insert_token(&mut tx, next, flow_id, expected_generation + 1).await?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    async fn purge_expired_flows(&self, now: i64) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        // Tokens and codes go with their flows through ON DELETE CASCADE.
        let done = sqlx::query("DELETE FROM flows WHERE expires_at < ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        sqlx::query("DELETE FROM code_sends WHERE sent_at < ?")
            .bind(now - CODE_SEND_RETENTION)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }
}

/// The compare-and-swap at the heart of an advance: when the flow is at `expected_generation`,
/// stores `state` (and `user_id` when given) and bumps the generation. Returns the flow's tenant,
/// or `None` when the flow was not at that generation (or is gone).
async fn bump_generation(
    conn: &mut SqliteConnection,
    flow_id: FlowId,
    expected_generation: i64,
    state: &serde_json::Value,
    user_id: Option<UserId>,
) -> StoreResult<Option<TenantId>> {
    let tenant: Option<(String,)> = sqlx::query_as(
        "UPDATE flows SET state = ?, user_id = COALESCE(?, user_id), \
         generation = generation + 1 \
         WHERE id = ? AND generation = ? \
         RETURNING tenant_id",
    )
    .bind(state.to_string())
    .bind(user_id.map(|id| uuid_text(id.0)))
    .bind(uuid_text(flow_id.0))
    .bind(expected_generation)
    .fetch_optional(conn)
    .await
    .map_err(map_sqlx)?;
    tenant
        .map(|(text,)| parse_tenant_id("flows.tenant_id", &text))
        .transpose()
}

/// Deletes the user's flows (their tokens and codes go by cascade) on `conn`, except `keep`.
pub(super) async fn delete_user_flows(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    user: UserId,
    keep: Option<FlowId>,
) -> StoreResult<u64> {
    let done =
        sqlx::query("DELETE FROM flows WHERE tenant_id = ? AND user_id = ? AND (? IS NULL OR id <> ?)")
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(user.0))
            .bind(keep.map(|id| uuid_text(id.0)))
            .bind(keep.map(|id| uuid_text(id.0)))
            .execute(conn)
            .await
            .map_err(map_sqlx)?;
    Ok(done.rows_affected())
}

async fn insert_token(
    conn: &mut SqliteConnection,
    token: &ContinuationRecord,
    flow_id: FlowId,
    generation: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO continuation_tokens \
         (token_hash, flow_id, step, generation, issued_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&token.token_hash)
    .bind(uuid_text(flow_id.0))
    .bind(&token.step)
    .bind(generation)
    .bind(token.issued_at)
    .bind(token.expires_at)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}
