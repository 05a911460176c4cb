//! [`RateLimitStore`] on SQLite.
//!
//! A hit is one upsert with `RETURNING`: SQLite runs it under its single write lock, so the
//! read of the old count and the write of the new one cannot interleave with another hit.

use super::SqliteStore;
use crate::error::map_sqlx;
use async_trait::async_trait;
use openciam_core::ports::{RateHit, RateLimitStore, StoreResult};

/// `?2` = now, `?3` = window length, `?4` = max. Every `SET` expression reads the row as it was
/// before the update. The count stops at `max + 1`: a request is allowed when the count it
/// leaves is at most `max`, and refused requests leave it unchanged.
const HIT: &str = "INSERT INTO rate_limit_buckets (bucket, window_start, expires_at, hits) \
     VALUES (?1, ?2, ?2 + ?3, 1) \
     ON CONFLICT (bucket) DO UPDATE SET \
       window_start = CASE WHEN expires_at <= ?2 THEN ?2 ELSE window_start END, \
       hits = CASE WHEN expires_at <= ?2 THEN 1 WHEN hits <= ?4 THEN hits + 1 ELSE hits END, \
       expires_at = CASE WHEN expires_at <= ?2 THEN ?2 + ?3 ELSE expires_at END \
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
        let _turn = self.write_turn().await?;
        let (hits, expires_at): (i64, i64) = sqlx::query_as(HIT)
            .bind(bucket)
            .bind(now)
            .bind(window_seconds)
            .bind(max)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
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
