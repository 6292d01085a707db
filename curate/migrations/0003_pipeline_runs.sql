-- One row per run of the JQL-style pipeline (judge, train-annotator, annotate, filter): what went in, where the
-- output is, with which settings. The outputs themselves are files (parquet, annotator folders, shards).
CREATE SEQUENCE IF NOT EXISTS pipeline_run_id_seq START 1;

CREATE TABLE pipeline_runs (
    id          INTEGER PRIMARY KEY DEFAULT nextval('pipeline_run_id_seq'),
    created_at  TIMESTAMPTZ NOT NULL,
    kind        VARCHAR NOT NULL,       -- judge | train-annotator | annotate | filter
    inputs      VARCHAR[] NOT NULL,
    output      VARCHAR NOT NULL,       -- absolute path of the file or folder written
    settings    JSON NOT NULL,
    n_docs      BIGINT,
    seconds     DOUBLE
);
