-- An application's saved configurations as JSON {name: {options, variables, scheduled_actions,
-- instances, ...}} (sprout_model::config::SavedConfigurations); NULL means none.
ALTER TABLE applications ADD COLUMN saved_configurations TEXT;
