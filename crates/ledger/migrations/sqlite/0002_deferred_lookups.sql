-- Lookups by entry hash and by (stream, version) move out of the entries table into tables
-- filled in bulk, a few thousand entries at a time, by the store's maintenance task. Kept as
-- UNIQUE indexes of `entries`, each append dirtied two random index pages per entry, which
-- made them most of a commit's cost. Entries not yet indexed (seq >= indexed_size) are found
-- by scanning that short tail. Nothing is lost: the entry lines stay the record, and these
-- tables can be rebuilt from them.
CREATE TABLE entries_v2 (
    seq         INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 0),
    hash        BLOB NOT NULL CHECK (length(hash) = 32),
    stream      TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    type        TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    occurred_at INTEGER NOT NULL,
    line        TEXT NOT NULL
);
INSERT INTO entries_v2 (seq, hash, stream, version, type, recorded_at, occurred_at, line)
    SELECT seq, hash, stream, version, type, recorded_at, occurred_at, line FROM entries;
DROP TABLE entries;
ALTER TABLE entries_v2 RENAME TO entries;

CREATE TABLE entry_hashes (
    hash BLOB PRIMARY KEY NOT NULL,
    seq  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE stream_versions (
    stream  TEXT NOT NULL,
    version INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (stream, version)
) WITHOUT ROWID;

-- Entries with seq below this are in both lookup tables.
CREATE TABLE lookup_state (
    id           INTEGER PRIMARY KEY NOT NULL CHECK (id = 0),
    indexed_size INTEGER NOT NULL
);

INSERT INTO entry_hashes (hash, seq) SELECT hash, seq FROM entries ORDER BY hash;
INSERT INTO stream_versions (stream, version, seq)
    SELECT stream, version, seq FROM entries ORDER BY stream, version;
INSERT INTO lookup_state (id, indexed_size) VALUES (0, (SELECT COALESCE(MAX(seq) + 1, 0) FROM entries));
