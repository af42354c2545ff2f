-- ACME (issue 15): the account of each directory (its credentials sealed by the server) and the
-- order attempts of each name (last attempt, failures in a row, last error), by key.
CREATE TABLE acme (
    key     TEXT    NOT NULL PRIMARY KEY,
    meta    TEXT    NOT NULL,
    sealed  BLOB    NOT NULL
) STRICT;
