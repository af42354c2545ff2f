-- Periodic jobs (issue 16): per environment and job of the deployed version's cron.yaml, the
-- last scheduled instant claimed and how its run went. The instant is claimed before the job is
-- sent (compare-and-set on `instant`), so one instant never runs twice, even across a restart.
CREATE TABLE cron_runs (
    app         TEXT    NOT NULL,
    env         TEXT    NOT NULL,
    job         TEXT    NOT NULL,
    instant     INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    instance    TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (app, env, job)
) STRICT;
