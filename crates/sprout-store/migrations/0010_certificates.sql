-- TLS certificates the load balancer serves (issue 15): uploaded or obtained by ACME. The
-- private key is sealed by the server (the key of secrets); `meta` is the rest as JSON
-- (names, issuer, validity, source, the PEM chain, the last renewal attempt and its error).
CREATE TABLE certificates (
    id          TEXT    NOT NULL PRIMARY KEY,
    meta        TEXT    NOT NULL,
    sealed_key  BLOB    NOT NULL
) STRICT;
