-- Snapshots read from a published dump of dataset cards (`curate snapshot --from-dump`) rather than crawled: the
-- dump's repo, the commit read, and that commit's date, which is the date the data describes (a past revision
-- describes the past Hub; a crawl describes the Hub at its taken_at). A snapshot without a row here was crawled.
CREATE TABLE dump_snapshots (
    snapshot_id INTEGER PRIMARY KEY,
    repo        VARCHAR NOT NULL,
    revision    VARCHAR NOT NULL,     -- the commit id
    data_date   TIMESTAMPTZ
);

-- The parquet files a dump snapshot reads and how many of their rows are stored. A batch of rows and the new
-- count are committed together, so an interrupted import resumes after the last batch it stored.
CREATE TABLE dump_files (
    snapshot_id INTEGER NOT NULL,
    path        VARCHAR NOT NULL,     -- in the dump repo, e.g. data/train-00000-of-00002.parquet
    size        BIGINT,               -- bytes, as the Hub lists the file
    rows        BIGINT,               -- rows in the file; NULL until it is downloaded
    rows_done   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (snapshot_id, path)
);
