-- Where a contamination run read its benchmarks and corpora (name, location, fields), so the dashboard can show
-- a contaminated item next to the document that holds it, reading only what the store says the run read.
ALTER TABLE contamination_runs ADD COLUMN sources JSON;
