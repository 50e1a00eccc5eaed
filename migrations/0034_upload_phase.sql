-- When an upload's current phase (checking, importing) began: the progress screen's rows per
-- second and time left are reckoned from it.
ALTER TABLE inventory_uploads ADD COLUMN phase_started_at timestamptz;
