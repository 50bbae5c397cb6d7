-- Tree nodes keyed by where they end: `pos` is the seq of the last entry a node covers,
-- ((idx + 1) << level) - 1. Keyed by (level, idx), the nodes one append completes (one or two
-- per entry, on every level) fell on a different page for each level, about half of the pages
-- a commit wrote; keyed by position they are neighbours. `level` and `idx` stay, as before.
CREATE TABLE tree_nodes_v2 (
    pos   INTEGER NOT NULL,
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (pos, level)
) WITHOUT ROWID;
INSERT INTO tree_nodes_v2 (pos, level, idx, hash)
    SELECT ((idx + 1) << level) - 1, level, idx, hash FROM tree_nodes ORDER BY 1, 2;
DROP TABLE tree_nodes;
ALTER TABLE tree_nodes_v2 RENAME TO tree_nodes;
