-- Sprout's initial schema.
--
-- Timestamps are INTEGER unix microseconds (UTC): integers order exactly and compare cheaply,
-- where text timestamps would depend on formatting. Tables are STRICT so a value of the wrong
-- type is refused on write instead of surfacing as corruption on read.
-- Enumerations (status, level, scope) are plain TEXT without CHECK: SQLite cannot alter a CHECK
-- without rebuilding the table, and the store refuses unknown values when it reads them.

CREATE TABLE applications (
    name        TEXT    NOT NULL PRIMARY KEY,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE versions (
    app            TEXT    NOT NULL REFERENCES applications (name),
    label          TEXT    NOT NULL,
    description    TEXT    NOT NULL,
    bundle_digest  TEXT    NOT NULL,
    bundle_path    TEXT    NOT NULL,
    definition     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (app, label)
) STRICT;

CREATE TABLE environments (
    app                TEXT    NOT NULL REFERENCES applications (name),
    name               TEXT    NOT NULL,
    version_label      TEXT    NOT NULL,
    last_good_version  TEXT,
    desired_instances  INTEGER NOT NULL CHECK (desired_instances >= 0),
    status             TEXT    NOT NULL,
    -- JSON object of environment properties.
    variables          TEXT    NOT NULL,
    deploy_deadline    INTEGER,
    last_error         TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (app, name)
) STRICT;

-- Events are the history: they carry no foreign key so they outlive the environment they
-- describe. AUTOINCREMENT keeps ids increasing even after the newest rows are deleted, so a
-- reader polling with `id > after_id` never misses or repeats an event.
CREATE TABLE events (
    id       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    app      TEXT    NOT NULL,
    env      TEXT,
    at       INTEGER NOT NULL,
    level    TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    message  TEXT    NOT NULL
) STRICT;

CREATE INDEX events_by_app_env ON events (app, env, id);

CREATE TABLE tokens (
    hash        TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    scope       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
