-- openciam schema, version 2 (PostgreSQL): per-tenant security settings (lockout, rate limits,
-- enumeration protection) as one JSON document; '{}' means every default.

ALTER TABLE tenants ADD COLUMN security TEXT NOT NULL DEFAULT '{}';
