-- The ledger: entry lines with the columns that index them, the perfect Merkle subtree hashes
-- that make proofs O(log n) reads, and signed checkpoints. Rows are only ever inserted.
CREATE TABLE ledger_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE entries (
    seq         INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 0),
    hash        BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    stream      TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    type        TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    occurred_at INTEGER NOT NULL,
    line        TEXT NOT NULL,
    UNIQUE (stream, version)
);

CREATE TABLE tree_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY NOT NULL,
    note TEXT NOT NULL
);
