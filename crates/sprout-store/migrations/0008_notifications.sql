-- Notifications (issue 20): webhooks, the queue of deliveries to them, and what the alert
-- planner remembers of each environment's open incidents.
--   notify_targets.env      '' for every environment of the application;
--   notify_targets.sealed_secret  the HMAC secret sealed by the server (XChaCha20-Poly1305), or NULL;
--   notify_deliveries.body  the notice as JSON (rendered for the target's format when sent);
--   notify_deliveries.status 'pending', 'delivered' or 'failed' (given up after its retries).
-- Deliveries are sent in id order per (target, environment): the queue is the order.
CREATE TABLE notify_targets (
    id             TEXT    NOT NULL PRIMARY KEY,
    app            TEXT    NOT NULL,
    env            TEXT    NOT NULL,
    url            TEXT    NOT NULL,
    format         TEXT    NOT NULL,
    events         TEXT    NOT NULL,
    sealed_secret  BLOB,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX notify_targets_app ON notify_targets (app);

CREATE TABLE notify_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    target_id   TEXT    NOT NULL,
    app         TEXT    NOT NULL,
    env         TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    severity    TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    last_error  TEXT,
    done_at     INTEGER
) STRICT;
CREATE INDEX notify_deliveries_pending ON notify_deliveries (status, id);
CREATE INDEX notify_deliveries_app ON notify_deliveries (app, id);

CREATE TABLE alert_memory (
    app    TEXT NOT NULL,
    env    TEXT NOT NULL,
    state  TEXT NOT NULL,
    PRIMARY KEY (app, env)
) STRICT;
