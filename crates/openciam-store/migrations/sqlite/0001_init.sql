-- openciam schema, version 1 (SQLite).
--
-- Conventions (shared with the PostgreSQL schema, which must keep the same shape):
-- * uuids are TEXT, lower-case hyphenated; client ids likewise.
-- * `*_at` columns are INTEGER Unix seconds (UTC).
-- * token hashes are BLOB `*_hash` (SHA-256); password hashes are PHC TEXT.
-- * lists (challenge types, capabilities, CORS origins, scopes), attributes and flow state are
--   JSON text, owned by the core; SQL never looks inside them.
-- * booleans are BOOLEAN (0/1 in SQLite).

CREATE TABLE tenants (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    domain      TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE apps (
    client_id       TEXT    NOT NULL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id),
    display_name    TEXT    NOT NULL,
    public_client   BOOLEAN NOT NULL,
    native_auth     BOOLEAN NOT NULL,
    method          TEXT    NOT NULL CHECK (method IN ('email_password', 'email_otp')),
    cors_origins    TEXT    NOT NULL,
    identifier_uri  TEXT,
    scopes          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

-- apps_of_tenant (ordered by display name).
CREATE INDEX apps_tenant_id_display_name_idx ON apps (tenant_id, display_name);

CREATE TABLE users (
    id                   TEXT    NOT NULL PRIMARY KEY,
    tenant_id            TEXT    NOT NULL REFERENCES tenants (id),
    username             TEXT    NOT NULL,
    username_normalized  TEXT    NOT NULL,
    password_hash        TEXT,
    disabled             BOOLEAN NOT NULL,
    attributes           TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    -- Also serves user_by_username and list_users (ordered by normalised name).
    CONSTRAINT users_tenant_id_username_normalized_key UNIQUE (tenant_id, username_normalized)
);

-- `user_id` has no foreign key: a flow may name its user before the account row exists
-- (sign-up completes by creating it).
CREATE TABLE flows (
    id               TEXT    NOT NULL PRIMARY KEY,
    tenant_id        TEXT    NOT NULL REFERENCES tenants (id),
    client_id        TEXT    NOT NULL REFERENCES apps (client_id),
    kind             TEXT    NOT NULL CHECK (kind IN ('sign_in', 'sign_up', 'reset_password')),
    user_id          TEXT,
    state            TEXT    NOT NULL,
    generation       INTEGER NOT NULL,
    challenge_types  TEXT    NOT NULL,
    capabilities     TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);

-- purge_expired_flows.
CREATE INDEX flows_expires_at_idx ON flows (expires_at);

CREATE TABLE continuation_tokens (
    token_hash  BLOB    NOT NULL PRIMARY KEY,
    flow_id     TEXT    NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    step        TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- The cascade from flows (purge) looks tokens up by flow.
CREATE INDEX continuation_tokens_flow_id_idx ON continuation_tokens (flow_id);

CREATE TABLE refresh_families (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id),
    client_id      TEXT    NOT NULL REFERENCES apps (client_id),
    user_id        TEXT    NOT NULL REFERENCES users (id),
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoke_reason  TEXT
);

-- revoke_user_families and the revocations in set_user_password / set_user_disabled.
CREATE INDEX refresh_families_tenant_id_user_id_idx ON refresh_families (tenant_id, user_id);

CREATE TABLE refresh_tokens (
    token_hash  BLOB    NOT NULL PRIMARY KEY,
    family_id   TEXT    NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    scopes      TEXT    NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    rotated_at  INTEGER
);

-- Foreign-key checks and cascades from refresh_families.
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);

CREATE TABLE signing_keys (
    kid              TEXT    NOT NULL PRIMARY KEY,
    alg              TEXT    NOT NULL,
    private_key_enc  BLOB    NOT NULL,
    created_at       INTEGER NOT NULL,
    activate_at      INTEGER NOT NULL,
    retired_at       INTEGER
);

-- signing_keys (newest first).
CREATE INDEX signing_keys_created_at_idx ON signing_keys (created_at);
