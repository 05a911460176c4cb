//! [`AuditStore`] on SQLite: single-statement appends, filtered reads, and the retention purge.

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::uuid_text;
use crate::security_rows::{AUDIT_COLUMNS, AuditRow, audit_record, details_text};
use async_trait::async_trait;
use openciam_core::audit::{AuditFilter, AuditRecord};
use openciam_core::ports::{AuditStore, StoreResult};

/// One audit event; appends of concurrent requests go to the database together (see
/// [`super::writer`]).
pub(super) const APPEND: &str = "INSERT INTO audit_events (at, tenant_id, user_id, username, event, details, ip, \
     user_agent, correlation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, r: &AuditRecord) -> StoreResult<()> {
        let values = (
            r.at,
            r.tenant_id.map(|t| uuid_text(t.0)),
            r.user_id.map(|u| uuid_text(u.0)),
            r.username.clone(),
            r.event.clone(),
            details_text(r),
            r.ip.clone(),
            r.user_agent.clone(),
            r.correlation_id.clone(),
        );
        self.writer
            .call(
                super::writer::Statement::AuditAppend,
                Box::new(move |q| {
                    let (at, tenant, user, username, event, details, ip, agent, correlation) = values;
                    q.bind(at)
                        .bind(tenant)
                        .bind(user)
                        .bind(username)
                        .bind(event)
                        .bind(details)
                        .bind(ip)
                        .bind(agent)
                        .bind(correlation)
                }),
            )
            .await?;
        Ok(())
    }

    async fn audit_events(&self, f: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        // The newest `limit` matches, then put back in time order.
        let rows: Vec<AuditRow> = sqlx::query_as(&format!(
            "SELECT * FROM (SELECT {AUDIT_COLUMNS} FROM audit_events \
             WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR tenant_id = ?2) \
             AND (?3 IS NULL OR username = ?3) AND (?4 IS NULL OR event = ?4) \
             ORDER BY at DESC, id DESC LIMIT ?5) ORDER BY at, id"
        ))
        .bind(f.since)
        .bind(f.tenant_id.map(|t| uuid_text(t.0)))
        .bind(&f.username)
        .bind(&f.event)
        .bind(f.limit.unwrap_or(-1))
        .fetch_all(&self.pool)
        .await
        .map_err(map_sqlx)?;
        rows.into_iter().map(audit_record).collect()
    }

    async fn purge_audit(&self, before: i64) -> StoreResult<u64> {
        let _turn = self.write_turn().await?;
        let done = sqlx::query("DELETE FROM audit_events WHERE at < ?")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }
}
