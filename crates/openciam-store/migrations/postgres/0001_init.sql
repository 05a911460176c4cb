-- openciam schema, version 1 (PostgreSQL): the whole schema of SQLite migrations 0001–0003.
--
-- Same tables, columns, constraints and indexes as the SQLite schema, so the adapters share
-- their row mapping (`src/rows.rs`). Conventions:
-- * uuids are TEXT, lower-case hyphenated; client ids likewise.
-- * `*_at` columns (and counters) are BIGINT: Unix seconds (UTC).
-- * token hashes are BYTEA `*_hash` (SHA-256); password hashes are PHC TEXT.
-- * lists, attributes, policies and flow state are JSON *text*, owned by the core; SQL never
--   looks inside them (TEXT keeps the core's exact serialisation and the shared mapping).
-- * columns the adapter sorts by are COLLATE "C": byte order, as in SQLite, whatever the
--   database's default collation.

CREATE TABLE tenants (
    id               TEXT   NOT NULL PRIMARY KEY,
    name             TEXT   COLLATE "C" NOT NULL UNIQUE,
    domain           TEXT   COLLATE "C" NOT NULL UNIQUE,
    password_policy  TEXT   NOT NULL DEFAULT '{"profile":"nist","min_length":8}',
    created_at       BIGINT NOT NULL
);

CREATE TABLE apps (
    client_id          TEXT    NOT NULL PRIMARY KEY,
    tenant_id          TEXT    NOT NULL REFERENCES tenants (id),
    display_name       TEXT    COLLATE "C" NOT NULL,
    public_client      BOOLEAN NOT NULL,
    native_auth        BOOLEAN NOT NULL,
    method             TEXT    NOT NULL CHECK (method IN ('email_password', 'email_otp')),
    cors_origins       TEXT    NOT NULL,
    identifier_uri     TEXT,
    scopes             TEXT    NOT NULL,
    signup_attributes  TEXT    NOT NULL DEFAULT '[]',
    created_at         BIGINT  NOT NULL
);

-- apps_of_tenant (ordered by display name).
CREATE INDEX apps_tenant_id_display_name_idx ON apps (tenant_id, display_name);

CREATE TABLE users (
    id                   TEXT    NOT NULL PRIMARY KEY,
    tenant_id            TEXT    NOT NULL REFERENCES tenants (id),
    username             TEXT    NOT NULL,
    username_normalized  TEXT    COLLATE "C" NOT NULL,
    password_hash        TEXT,
    disabled             BOOLEAN NOT NULL,
    attributes           TEXT    NOT NULL,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    -- Also serves user_by_username and list_users (ordered by normalised name).
    CONSTRAINT users_tenant_id_username_normalized_key UNIQUE (tenant_id, username_normalized)
);

-- `user_id` has no foreign key: a flow may name its user before the account row exists
-- (sign-up completes by creating it).
CREATE TABLE flows (
    id               TEXT   NOT NULL PRIMARY KEY,
    tenant_id        TEXT   NOT NULL REFERENCES tenants (id),
    client_id        TEXT   NOT NULL REFERENCES apps (client_id),
    kind             TEXT   NOT NULL CHECK (kind IN ('sign_in', 'sign_up', 'reset_password')),
    user_id          TEXT,
    state            TEXT   NOT NULL,
    generation       BIGINT NOT NULL,
    challenge_types  TEXT   NOT NULL,
    capabilities     TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);

-- purge_expired_flows.
CREATE INDEX flows_expires_at_idx ON flows (expires_at);

-- set_user_password and advance_flow_resetting_password delete the user's flows.
CREATE INDEX flows_tenant_id_user_id_idx ON flows (tenant_id, user_id);

CREATE TABLE continuation_tokens (
    token_hash  BYTEA  NOT NULL PRIMARY KEY,
    flow_id     TEXT   NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    step        TEXT   NOT NULL,
    generation  BIGINT NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- The cascade from flows (purge) looks tokens up by flow.
CREATE INDEX continuation_tokens_flow_id_idx ON continuation_tokens (flow_id);

-- At most one live code per flow, stored only as a keyed hash; it goes with its flow.
CREATE TABLE otps (
    flow_id     TEXT   NOT NULL PRIMARY KEY REFERENCES flows (id) ON DELETE CASCADE,
    code_hash   BYTEA  NOT NULL,
    address     TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    used_at     BIGINT
);

-- One row per code sent, for the per-address send limit; purged after a day. Nothing refers
-- to `id`.
CREATE TABLE code_sends (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  TEXT   NOT NULL REFERENCES tenants (id),
    address    TEXT   NOT NULL,
    sent_at    BIGINT NOT NULL
);

-- reserve_code_send: sends to one address since the window start.
CREATE INDEX code_sends_tenant_id_address_sent_at_idx ON code_sends (tenant_id, address, sent_at);

-- purge_expired_flows: sends older than a day.
CREATE INDEX code_sends_sent_at_idx ON code_sends (sent_at);

CREATE TABLE refresh_families (
    id             TEXT   NOT NULL PRIMARY KEY,
    tenant_id      TEXT   NOT NULL REFERENCES tenants (id),
    client_id      TEXT   NOT NULL REFERENCES apps (client_id),
    user_id        TEXT   NOT NULL REFERENCES users (id),
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoke_reason  TEXT
);

-- revoke_user_families and the revocations in set_user_password / set_user_disabled /
-- advance_flow_resetting_password.
CREATE INDEX refresh_families_tenant_id_user_id_idx ON refresh_families (tenant_id, user_id);

CREATE TABLE refresh_tokens (
    token_hash  BYTEA  NOT NULL PRIMARY KEY,
    family_id   TEXT   NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    scopes      TEXT   NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    rotated_at  BIGINT
);

-- Foreign-key checks and cascades from refresh_families.
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);

CREATE TABLE signing_keys (
    kid              TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    alg              TEXT   NOT NULL,
    private_key_enc  BYTEA  NOT NULL,
    created_at       BIGINT NOT NULL,
    activate_at      BIGINT NOT NULL,
    retired_at       BIGINT
);

-- signing_keys (newest first).
CREATE INDEX signing_keys_created_at_idx ON signing_keys (created_at);
