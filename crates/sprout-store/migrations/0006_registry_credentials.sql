-- Registry credentials (issue 12). One row per registry host, scope and source:
--   app     '' for every application, else the one application it is limited to;
--   source  '' for `sprout registry login`, else the name of the imported Docker config
--           (what a Dockerrun `authentication.key` names).
-- The empty string stands for "none" because a primary key column cannot usefully be NULL.
-- sealed_secret is the password sealed by the server (XChaCha20-Poly1305, see
-- docs/registries.md); the database never holds it in the clear.
CREATE TABLE registry_credentials (
    host                  TEXT    NOT NULL,
    app                   TEXT    NOT NULL,
    source                TEXT    NOT NULL,
    username              TEXT    NOT NULL,
    sealed_secret         BLOB    NOT NULL,
    updated_at            INTEGER NOT NULL,
    last_success          INTEGER,
    last_failure          INTEGER,
    last_failure_message  TEXT,
    PRIMARY KEY (host, app, source)
) STRICT;
