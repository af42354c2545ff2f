-- The application's host access policy as JSON {"allow_host_paths": [...], "allow_privileged": b};
-- NULL means the default: no host path outside the bundle, nothing privileged.
ALTER TABLE applications ADD COLUMN host_access TEXT;
