//! [`OutboxStore`] on SQLite.
//!
//! A claim is one `UPDATE … RETURNING` over the due rows: SQLite runs it under its single write
//! lock, so two claims (from two connections or two processes) never take the same row.

use super::SqliteStore;
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
impl OutboxStore for SqliteStore {
    async fn enqueue_mail(&self, mail: &OutboxMail) -> StoreResult<()> {
        let _turn = self.write_turn().await?;
        sqlx::query(
            "INSERT INTO mail_outbox (id, tenant_name, sealed, attempts, next_attempt_at, lease, created_at) \
             VALUES (?, ?, ?, ?, ?, NULL, ?)",
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
        let _turn = self.write_turn().await?;
        let rows = sqlx::query_as::<_, MailRow>(
            "UPDATE mail_outbox SET lease = ?, next_attempt_at = ? \
             WHERE id IN (SELECT id FROM mail_outbox WHERE next_attempt_at <= ? \
                          ORDER BY next_attempt_at, created_at LIMIT ?) \
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
        let _turn = self.write_turn().await?;
        let done = sqlx::query("DELETE FROM mail_outbox WHERE id = ? AND lease = ?")
            .bind(id)
            .bind(lease)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn retry_mail(&self, id: &str, lease: &str, next_attempt_at: i64) -> StoreResult<bool> {
        let _turn = self.write_turn().await?;
        let done = sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, lease = NULL, next_attempt_at = ? \
             WHERE id = ? AND lease = ?",
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
