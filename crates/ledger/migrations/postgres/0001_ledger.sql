-- The ledger on PostgreSQL: the same tables as on SQLite. Rows are only ever inserted; appends
-- from every node serialize on a transaction-scoped advisory lock.
CREATE TABLE ledger_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE entries (
    seq         BIGINT PRIMARY KEY CHECK (seq >= 0),
    hash        BYTEA NOT NULL UNIQUE CHECK (length(hash) = 32),
    stream      TEXT NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    type        TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    line        TEXT NOT NULL,
    UNIQUE (stream, version)
);

CREATE TABLE tree_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL
);
