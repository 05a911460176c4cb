-- openciam schema, version 6 (SQLite): smart-lockout state per account, and the audit log.

-- One row per account with failure state (absent = no failures). `recent_macs` holds the keyed
-- hashes of the last distinct wrong passwords, 32 bytes each, oldest first. No foreign key: a
-- row outliving its user is harmless, and store copies may replace users freely.
CREATE TABLE lockouts (
    tenant_id     TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    failures      INTEGER NOT NULL,
    lockouts      INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL,
    recent_macs   BLOB    NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

-- Append-only security events. Never updated; only the retention purge deletes (oldest first).
CREATE TABLE audit_events (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    tenant_id       TEXT,
    user_id         TEXT,
    username        TEXT,
    event           TEXT    NOT NULL,
    details         TEXT    NOT NULL,
    ip              TEXT,
    user_agent      TEXT,
    correlation_id  TEXT
);

CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_username_at_idx ON audit_events (username, at);

CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
