-- Console sessions (issue 21), so that a restarted server keeps its signed-in browsers. Keyed by
-- the SHA-256 of the session id (the cookie's value itself is never stored); the token is named
-- by its hash (the tokens table's key), never stored itself, and is checked again on every
-- request, so a revoked or expired token still ends its sessions. A session ends 12 hours after
-- it started (the server decides; it removes older rows as it starts new sessions).
CREATE TABLE console_sessions (
    id_hash    TEXT    PRIMARY KEY,
    token_hash TEXT    NOT NULL,
    csrf       TEXT    NOT NULL,
    started_at INTEGER NOT NULL
) STRICT;
