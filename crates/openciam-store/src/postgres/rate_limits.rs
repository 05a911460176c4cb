//! [`RateLimitStore`] on PostgreSQL.
//!
//! A hit is one `INSERT … ON CONFLICT DO UPDATE … RETURNING`. PostgreSQL either inserts the
//! bucket or locks its row and updates it from the latest committed version, so parallel hits
//! from any number of nodes are counted one after the other and never allow more than `max`.

use super::PostgresStore;
use crate::error::map_sqlx;
use async_trait::async_trait;
use openciam_core::ports::{RateHit, RateLimitStore, StoreResult};

/// `$2` = now, `$3` = window length, `$4` = max. `SET` expressions read the row as it was before
/// the update. The count stops at `max + 1`: a request is allowed when the count it leaves is
/// at most `max`, and refused requests leave it unchanged.
const HIT: &str = "INSERT INTO rate_limit_buckets AS b (bucket, window_start, expires_at, hits) \
     VALUES ($1, $2, $2 + $3, 1) \
     ON CONFLICT (bucket) DO UPDATE SET \
       window_start = CASE WHEN b.expires_at <= $2 THEN $2 ELSE b.window_start END, \
       hits = CASE WHEN b.expires_at <= $2 THEN 1 WHEN b.hits <= $4 THEN b.hits + 1 ELSE b.hits END, \
       expires_at = CASE WHEN b.expires_at <= $2 THEN $2 + $3 ELSE b.expires_at END \
     RETURNING b.hits, b.expires_at";

#[async_trait]
impl RateLimitStore for PostgresStore {
    async fn hit_rate_limit(
        &self,
        bucket: &str,
        now: i64,
        window_seconds: i64,
        max: i64,
    ) -> StoreResult<RateHit> {
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
        let done = sqlx::query("DELETE FROM rate_limit_buckets WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }
}
