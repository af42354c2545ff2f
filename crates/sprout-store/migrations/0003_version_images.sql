-- Images a version runs, resolved when it is first deployed: a JSON object mapping each image
-- reference in the definition to {"id": "sha256:...", "size_bytes": N}. NULL until resolved.
-- A rollback runs these ids, so a tag moved since then does not change what runs.
ALTER TABLE versions ADD COLUMN images TEXT;

-- The application's version lifecycle policy as JSON {"max_count": N, "max_age_days": D}
-- (either may be null); NULL means no policy: versions are kept.
ALTER TABLE applications ADD COLUMN lifecycle TEXT;
