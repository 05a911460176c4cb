-- openciam schema, version 4 (SQLite): per-tenant security settings (lockout, rate limits,
-- enumeration protection) as one JSON document; '{}' means every default.

ALTER TABLE tenants ADD COLUMN security TEXT NOT NULL DEFAULT '{}';
