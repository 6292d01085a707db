-- Contamination checks: one row per `curate contamination` run, one row per benchmark item checked.
CREATE SEQUENCE IF NOT EXISTS contamination_run_id_seq START 1;

CREATE TABLE contamination_runs (
    id          INTEGER PRIMARY KEY DEFAULT nextval('contamination_run_id_seq'),
    created_at  TIMESTAMPTZ NOT NULL,
    benchmarks  VARCHAR[] NOT NULL,
    corpora     VARCHAR[] NOT NULL,
    settings    JSON NOT NULL,          -- {"word_n", "char_n", "min_tokens", "threshold"}
    n_docs      BIGINT NOT NULL,
    n_bytes     BIGINT NOT NULL,
    seconds     DOUBLE NOT NULL,
    n_errors    INTEGER NOT NULL
);

CREATE TABLE contamination_items (
    run_id              INTEGER NOT NULL,
    benchmark           VARCHAR NOT NULL,
    item_id             VARCHAR NOT NULL,
    checked             BOOLEAN NOT NULL,   -- false: too short to check
    contaminated        BOOLEAN NOT NULL,
    match               VARCHAR NOT NULL,   -- exact | ngram | none
    overlap             DOUBLE NOT NULL,    -- best share of the item's n-grams found in one document
    longest_match_chars INTEGER NOT NULL,
    n_docs              BIGINT NOT NULL,
    doc_ids             VARCHAR[] NOT NULL  -- at most 100; the full list goes to --save-doc-ids
);

-- Hub-level check: datasets of a snapshot whose id or card names a benchmark (derived or translated copies).
CREATE TABLE contamination_mentions (
    run_id      INTEGER NOT NULL,
    benchmark   VARCHAR NOT NULL,
    snapshot_id INTEGER NOT NULL,
    repo_id     VARCHAR NOT NULL,
    in_id       BOOLEAN NOT NULL,
    in_card     BOOLEAN NOT NULL
);
