//! [`OutboxStore`] on PostgreSQL.
//!
//! A claim is one `UPDATE … RETURNING` over due rows selected `FOR UPDATE SKIP LOCKED`: two
//! nodes claiming at once take disjoint rows, and neither waits for the other.

use super::PostgresStore;
use crate::error::map_sqlx;
use async_trait::async_trait;
use openciam_core::ports::{OutboxMail, OutboxStore, StoreResult};

type MailRow = (String, String, Vec<u8>, i64, i64);

fn record((id, tenant_name, sealed, attempts, created_at): MailRow) -> OutboxMail {
    OutboxMail {
        id,
        tenant_name,
        sealed,
        attempts,
        created_at,
    }
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn enqueue_mail(&self, mail: &OutboxMail) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mail_outbox (id, tenant_name, sealed, attempts, next_attempt_at, lease, created_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        )
        .bind(&mail.id)
        .bind(&mail.tenant_name)
        .bind(&mail.sealed)
        .bind(mail.attempts)
        .bind(mail.created_at)
        .bind(mail.created_at)
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn claim_mail(
        &self,
        now: i64,
        lease_until: i64,
        lease: &str,
        limit: i64,
    ) -> StoreResult<Vec<OutboxMail>> {
        let rows = sqlx::query_as::<_, MailRow>(
            "UPDATE mail_outbox SET lease = $1, next_attempt_at = $2 \
             WHERE id IN (SELECT id FROM mail_outbox WHERE next_attempt_at <= $3 \
                          ORDER BY next_attempt_at, created_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING id, tenant_name, sealed, attempts, created_at",
        )
        .bind(lease)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(record).collect())
    }

    async fn delete_mail(&self, id: &str, lease: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM mail_outbox WHERE id = $1 AND lease = $2")
            .bind(id)
            .bind(lease)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retry_mail(&self, id: &str, lease: &str, next_attempt_at: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, lease = NULL, next_attempt_at = $1 \
             WHERE id = $2 AND lease = $3",
        )
        .bind(next_attempt_at)
        .bind(id)
        .bind(lease)
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}
