-- openciam schema, version 4 (PostgreSQL): smart-lockout state per account, and the audit log.

-- One row per account with failure state (absent = no failures). `recent_macs` holds the keyed
-- hashes of the last distinct wrong passwords, 32 bytes each, oldest first. No foreign key: a
-- row outliving its user is harmless, and store copies may replace users freely.
CREATE TABLE lockouts (
    tenant_id     TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    failures      BIGINT  NOT NULL,
    lockouts      BIGINT  NOT NULL,
    locked_until  BIGINT  NOT NULL,
    recent_macs   BYTEA   NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

-- Append-only security events. Never updated; only the retention purge deletes (oldest first).
CREATE TABLE audit_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              BIGINT NOT NULL,
    tenant_id       TEXT,
    user_id         TEXT,
    username        TEXT COLLATE "C",
    event           TEXT   NOT NULL,
    details         TEXT   NOT NULL,
    ip              TEXT,
    user_agent      TEXT,
    correlation_id  TEXT
);

CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_username_at_idx ON audit_events (username, at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
