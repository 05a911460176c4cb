//! [`FlowStore`] on PostgreSQL.
//!
//! A flow's `generation` is its version: every advance is one guarded `UPDATE … WHERE
//! generation = $n`, so of two racing advances the second waits for the first's row lock,
//! re-checks the generation against the committed row and matches nothing. A continuation
//! token is live only while its `generation` equals the flow's; older tokens are kept (so a
//! replayed token is recognised as stale, not unknown) and go with their flow when it is
//! deleted (`ON DELETE CASCADE`), as does the flow's one-time code.

use super::PostgresStore;
use super::refresh::revoke_user_families_in;
use super::users::{insert_user, update_password};
use crate::error::map_sqlx;
use crate::rows::{ContinuationRow, FlowRow, REASON_PASSWORD_RESET, encode_list, parse_tenant_id, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{FlowId, TenantId, UserId};
use openciam_core::model::{ContinuationRecord, FlowRecord, User};
use openciam_core::ports::{FlowStore, StoreResult};
use sqlx::PgConnection;

/// How long a code send counts towards the send limit before `purge_expired_flows` drops it
/// (the longest window the core may ask about), in seconds.
const CODE_SEND_RETENTION: i64 = 86_400;

#[async_trait]
impl FlowStore for PostgresStore {
    async fn create_flow(&self, flow: &FlowRecord, token: &ContinuationRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_flow(&mut tx, flow).await?;
        // The first token belongs to this flow at its initial generation.
        insert_token(&mut tx, token, flow.id, flow.generation).await?;
        tx.commit().await.map_err(map_sqlx)
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
             WHERE t.token_hash = $1",
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
        let mut tx = self.begin().await?;
        // The state update is the generation check, and its row lock keeps any advance out
        // until the token is in.
        let done = sqlx::query("UPDATE flows SET state = $1 WHERE id = $2 AND generation = $3")
            .bind(state.to_string())
            .bind(uuid_text(token.flow_id.0))
            .bind(token.generation)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if done.rows_affected() == 0 {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(false);
        }
        // A duplicate hash is `Conflict`; dropping the transaction undoes the state too.
        insert_token(&mut tx, token, token.flow_id, token.generation).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    async fn advance_flow(
        &self,
        flow_id: FlowId,
        expected_generation: i64,
        state: &serde_json::Value,
        user_id: Option<UserId>,
        next: Option<&ContinuationRecord>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        if bump_generation(&mut tx, flow_id, expected_generation, state, user_id)
            .await?
            .is_none()
        {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(false);
        }
        if let Some(next) = next {
            // The new token belongs to this flow at the generation this transaction created,
            // whatever the caller put in the record.
            insert_token(&mut tx, next, flow_id, expected_generation + 1).await?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
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
        let mut tx = self.begin().await?;
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

    /// The flow names `user_id` afterwards. The user is locked first (the order every password
    /// change uses), then must belong to the flow's tenant.
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
        let mut tx = self.begin().await?;
        let user_tenant = lock_user(&mut tx, user_id).await?;
        let flow_tenant = match user_tenant {
            Some(_) => bump_generation(&mut tx, flow_id, expected_generation, state, Some(user_id)).await?,
            None => None,
        };
        let tenant = match (user_tenant, flow_tenant) {
            (Some(user), Some(flow)) if user == flow => flow,
            _ => {
                tx.rollback().await.map_err(map_sqlx)?;
                return Ok(false);
            }
        };
        update_password(&mut tx, tenant, user_id, hash, now).await?;
        revoke_user_families_in(&mut tx, tenant, user_id, now, REASON_PASSWORD_RESET).await?;
        delete_user_flows(&mut tx, tenant, user_id, Some(flow_id)).await?;
        if let Some(next) = next {
            insert_token(&mut tx, next, flow_id, expected_generation + 1).await?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    async fn purge_expired_flows(&self, now: i64) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        // Tokens and codes go with their flows through ON DELETE CASCADE.
        let done = sqlx::query("DELETE FROM flows WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        sqlx::query("DELETE FROM code_sends WHERE sent_at < $1")
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
    conn: &mut PgConnection,
    flow_id: FlowId,
    expected_generation: i64,
    state: &serde_json::Value,
    user_id: Option<UserId>,
) -> StoreResult<Option<TenantId>> {
    let tenant: Option<(String,)> = sqlx::query_as(
        "UPDATE flows SET state = $1, user_id = COALESCE($2, user_id), \
         generation = generation + 1 \
         WHERE id = $3 AND generation = $4 \
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

/// Locks the user's row until the transaction ends; returns their tenant, or `None` when no
/// such user.
async fn lock_user(conn: &mut PgConnection, user_id: UserId) -> StoreResult<Option<TenantId>> {
    let tenant: Option<(String,)> = sqlx::query_as("SELECT tenant_id FROM users WHERE id = $1 FOR UPDATE")
        .bind(uuid_text(user_id.0))
        .fetch_optional(conn)
        .await
        .map_err(map_sqlx)?;
    tenant
        .map(|(text,)| parse_tenant_id("users.tenant_id", &text))
        .transpose()
}

/// Deletes the user's flows (their tokens and codes go by cascade) on `conn`, except `keep`.
pub(super) async fn delete_user_flows(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    keep: Option<FlowId>,
) -> StoreResult<u64> {
    let done =
        sqlx::query("DELETE FROM flows WHERE tenant_id = $1 AND user_id = $2 AND id IS DISTINCT FROM $3")
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(user.0))
            .bind(keep.map(|id| uuid_text(id.0)))
            .execute(conn)
            .await
            .map_err(map_sqlx)?;
    Ok(done.rows_affected())
}

async fn insert_flow(conn: &mut PgConnection, flow: &FlowRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO flows (id, tenant_id, client_id, kind, user_id, state, generation, \
         challenge_types, capabilities, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(uuid_text(flow.id.0))
    .bind(uuid_text(flow.tenant_id.0))
    .bind(flow.client_id.as_str())
    .bind(flow.kind.as_str())
    .bind(flow.user_id.map(|id| uuid_text(id.0)))
    .bind(flow.state.to_string())
    .bind(flow.generation)
    .bind(encode_list(&flow.challenge_types)?)
    .bind(encode_list(&flow.capabilities)?)
    .bind(flow.created_at)
    .bind(flow.expires_at)
    .execute(conn)
    .await
    .map_err(map_sqlx)?;
    Ok(())
}

async fn insert_token(
    conn: &mut PgConnection,
    token: &ContinuationRecord,
    flow_id: FlowId,
    generation: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO continuation_tokens \
         (token_hash, flow_id, step, generation, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
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
