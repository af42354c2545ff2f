-- A counter every update of an environment raises by one. Writers send the revision they read,
-- and the update applies only if it is still the stored one, so a controller's pass that read
-- the environment before a user's `sprout deploy` cannot write the old version back.
ALTER TABLE environments ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
