-- Scale to zero (issue 13): per environment, its last measured wake, from the order to launch
-- or start an instance to that instance's first passing health check, in milliseconds. An
-- environment at zero holds requests for that plus a margin; kept here so that a restarted
-- server holds them for as long as a wake really takes, not for an unmeasured default.
CREATE TABLE wake_times (
    app          TEXT    NOT NULL,
    env          TEXT    NOT NULL,
    wake_ms      INTEGER NOT NULL,
    measured_at  INTEGER NOT NULL,
    PRIMARY KEY (app, env)
) STRICT;
