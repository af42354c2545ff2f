-- Scoped tokens, the audit trail and environment secrets (issue 14).
-- A token may be limited to one application and/or one environment name, and may expire;
-- last_used_at is written at most once a minute per token (see the server's auth).
ALTER TABLE tokens ADD COLUMN limit_app TEXT;
ALTER TABLE tokens ADD COLUMN limit_env TEXT;
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
CREATE UNIQUE INDEX tokens_by_name ON tokens (name);

-- Every mutating API call: who (the token's name and scope), what (method, path, the
-- application and environment it concerns), how it ended (HTTP status), when.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    token   TEXT    NOT NULL,
    scope   TEXT    NOT NULL,
    method  TEXT    NOT NULL,
    path    TEXT    NOT NULL,
    app     TEXT,
    env     TEXT,
    status  INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_by_app_env ON audit (app, env, id);

-- Environment secrets: sealed by the server (XChaCha20-Poly1305, the key of registry
-- credentials); the database never holds a value in the clear. version counts the sets.
CREATE TABLE secrets (
    app      TEXT    NOT NULL,
    env      TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    sealed   BLOB    NOT NULL,
    set_at   INTEGER NOT NULL,
    PRIMARY KEY (app, env, name)
) STRICT;
