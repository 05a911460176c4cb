-- openciam schema, version 2 (SQLite): sign-up.
--
-- * tenants.password_policy and apps.signup_attributes are JSON text owned by the core
--   (`PolicyProfile`, `Vec<AttributeSpec>`). Existing tenants get NIST with the minimum of 8
--   (`PolicyProfile::SERVE_DEFAULT`), existing apps collect no attributes.
-- * otps: at most one live code per flow, stored only as a keyed hash; it goes with its flow.
-- * code_sends: one row per code sent, for the per-address send limit; purged after a day.

ALTER TABLE tenants ADD COLUMN password_policy TEXT NOT NULL DEFAULT '{"profile":"nist","min_length":8}';

ALTER TABLE apps ADD COLUMN signup_attributes TEXT NOT NULL DEFAULT '[]';

CREATE TABLE otps (
    flow_id     TEXT    NOT NULL PRIMARY KEY REFERENCES flows (id) ON DELETE CASCADE,
    code_hash   BLOB    NOT NULL,
    address     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    used_at     INTEGER
);

-- `id` is SQLite's rowid (PostgreSQL: an identity column); nothing refers to it.
CREATE TABLE code_sends (
    id         INTEGER NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
    address    TEXT    NOT NULL,
    sent_at    INTEGER NOT NULL
);

-- reserve_code_send: sends to one address since the window start.
CREATE INDEX code_sends_tenant_id_address_sent_at_idx ON code_sends (tenant_id, address, sent_at);

-- purge_expired_flows: sends older than a day.
CREATE INDEX code_sends_sent_at_idx ON code_sends (sent_at);
