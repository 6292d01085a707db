-- Every contaminated document of a contamination run (contamination_items keeps at most 100 per item), so
-- `curate filter --decontaminate` can drop them without an ids file.
CREATE TABLE contamination_docs (
    run_id  INTEGER NOT NULL,
    doc_id  VARCHAR NOT NULL
);
