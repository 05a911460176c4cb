-- openciam schema, version 8 (SQLite): second factor. Strong-auth methods registered on users
-- (where second-factor codes go), and an app's own MFA policy (JSON; NULL follows the tenant's,
-- which lives in tenants.security).

CREATE TABLE auth_methods (
    id            TEXT    NOT NULL PRIMARY KEY,
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id),
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('email', 'sms')),
    target        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    -- Also serves auth_methods (a user's methods).
    CONSTRAINT auth_methods_user_id_kind_target_key UNIQUE (user_id, kind, target)
);

ALTER TABLE apps ADD COLUMN mfa_policy TEXT;
