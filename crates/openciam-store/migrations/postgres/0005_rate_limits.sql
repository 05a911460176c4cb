-- openciam schema, version 5 (PostgreSQL): request-rate counters shared by every node. One row per
-- bucket (tenant, limit, subject); a window starts at the first request after the last one ended.

CREATE TABLE rate_limit_buckets (
    bucket       TEXT   NOT NULL PRIMARY KEY,
    window_start BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);

CREATE INDEX rate_limit_buckets_expires ON rate_limit_buckets (expires_at);
