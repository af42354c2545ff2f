-- Option settings (deployment policy, health check, capacity, scaling) as one JSON document,
-- and the progress of the deploy in flight, so a restarted server resumes it.
ALTER TABLE environments ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE environments ADD COLUMN deploy_state TEXT;
