-- Hub snapshots: one row per `curate snapshot` run; datasets, listings, cards and errors hang off it.
CREATE SEQUENCE IF NOT EXISTS snapshot_id_seq START 1;

CREATE TABLE snapshots (
    id          INTEGER PRIMARY KEY DEFAULT nextval('snapshot_id_seq'),
    taken_at    TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    endpoint    VARCHAR NOT NULL,
    query       JSON NOT NULL,          -- {"langs": [...], "top": N, "sort": "downloads"}
    status      VARCHAR NOT NULL        -- running | complete | failed
);

-- Which datasets the Hub listed for each language, in rank order (a dataset can be listed for several).
CREATE TABLE listings (
    snapshot_id INTEGER NOT NULL,
    lang        VARCHAR NOT NULL,
    rank        INTEGER NOT NULL,
    repo_id     VARCHAR NOT NULL,
    PRIMARY KEY (snapshot_id, lang, repo_id)
);

CREATE TABLE datasets (
    snapshot_id        INTEGER NOT NULL,
    repo_id            VARCHAR NOT NULL,
    author             VARCHAR,
    sha                VARCHAR,
    downloads          BIGINT,
    downloads_all_time BIGINT,
    likes              BIGINT,
    tags               VARCHAR[],
    card_data          JSON,
    created_at         TIMESTAMPTZ,
    last_modified      TIMESTAMPTZ,
    gated              VARCHAR,       -- 'false', 'auto' or 'manual'
    private            BOOLEAN,
    disabled           BOOLEAN,
    PRIMARY KEY (snapshot_id, repo_id)
);

CREATE TABLE cards (
    snapshot_id   INTEGER NOT NULL,
    repo_id       VARCHAR NOT NULL,
    sha           VARCHAR,
    text          VARCHAR,
    bytes         BIGINT,
    decode_errors BOOLEAN,            -- the file was not valid UTF-8 and was decoded with replacement
    fetched_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (snapshot_id, repo_id)
);

CREATE TABLE errors (
    snapshot_id INTEGER NOT NULL,
    repo_id     VARCHAR,
    stage       VARCHAR NOT NULL,     -- list | card | yaml
    status      INTEGER,              -- HTTP status when there was one
    message     VARCHAR NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);

-- Dataset authors as the Hub describes them (overview endpoints): user or organization.
CREATE TABLE authors (
    snapshot_id INTEGER NOT NULL,
    name        VARCHAR NOT NULL,
    kind        VARCHAR,              -- user | org | unknown
    fullname    VARCHAR,
    PRIMARY KEY (snapshot_id, name)
);
