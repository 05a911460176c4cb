-- openciam schema, version 5 (SQLite): the mail outbox. In enumeration-protection mode a request
-- only records its mail here and a background worker delivers it, so SMTP latency and failures
-- look the same whether or not an account exists. `sealed` is the message (with any one-time code)
-- encrypted under a key derived from the master key. A worker claims a row by moving
-- `next_attempt_at` past its lease and writing its own `lease`; it deletes the row once sent.

CREATE TABLE mail_outbox (
    id               TEXT    NOT NULL PRIMARY KEY,
    tenant_name      TEXT    NOT NULL,
    sealed           BLOB    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease            TEXT,
    created_at       INTEGER NOT NULL
);

CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);
