//! [`RateLimitStore`] on SQLite.
//!
//! A hit is one upsert with `RETURNING`: SQLite runs it under its single write lock, so the
//! read of the old count and the write of the new one cannot interleave with another hit. Hits
//! of concurrent requests go to the database together (see [`super::writer`]).

use super::SqliteStore;
use crate::error::map_sqlx;
use async_trait::async_trait;
use openciam_core::ports::{RateHit, RateLimitStore, StoreError, StoreResult};
use sqlx::Row as _;

/// Parameters, each a plain `?` bound once (see [`super::writer`]): bucket, now, now, window
/// length, max. `excluded` is the row a first hit would insert (`window_start` = now,
/// `expires_at` = now + window). Every `SET` expression reads the row as it was before the
/// update. The count stops at `max + 1`: a request is allowed when the count it leaves is at most
/// `max`, and refused requests leave it unchanged.
pub(super) const HIT: &str = "INSERT INTO rate_limit_buckets (bucket, window_start, expires_at, hits) \
     VALUES (?, ?, ? + ?, 1) \
     ON CONFLICT (bucket) DO UPDATE SET \
       window_start = CASE WHEN expires_at <= excluded.window_start THEN excluded.window_start ELSE window_start END, \
       hits = CASE WHEN expires_at <= excluded.window_start THEN 1 WHEN hits <= ? THEN hits + 1 ELSE hits END, \
       expires_at = CASE WHEN expires_at <= excluded.window_start THEN excluded.expires_at ELSE expires_at END \
     RETURNING hits, expires_at";

#[async_trait]
impl RateLimitStore for SqliteStore {
    async fn hit_rate_limit(
        &self,
        bucket: &str,
        now: i64,
        window_seconds: i64,
        max: i64,
    ) -> StoreResult<RateHit> {
        let bucket = bucket.to_owned();
        let row = self
            .writer
            .call(
                super::writer::Statement::RateHit,
                Box::new(move |q| q.bind(bucket).bind(now).bind(now).bind(window_seconds).bind(max)),
            )
            .await?
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("a rate-limit count returned no row")))?;
        let hits: i64 = row.try_get(0).map_err(map_sqlx)?;
        let expires_at: i64 = row.try_get(1).map_err(map_sqlx)?;
        Ok(RateHit {
            allowed: hits <= max,
            window_ends_at: expires_at,
        })
    }

    async fn purge_rate_limits(&self, now: i64) -> StoreResult<u64> {
        let _turn = self.write_turn().await?;
        let done = sqlx::query("DELETE FROM rate_limit_buckets WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }
}
