-- Tree nodes keyed so that one append's nodes are neighbours. Keyed by (level, idx), the
-- nodes one append completes (one or two per entry, on every level) fell on a different page
-- for each level, about half of the pages a commit wrote. Now the low levels (below 6, the
-- nodes of 64 entries or fewer) share band 0 and are ordered by `pos`, the seq of the last
-- entry a node covers, ((idx + 1) << level) - 1; each higher level keeps a band of its own, so
-- a proof's high nodes stay together on few pages. `level` and `idx` stay, as before.
CREATE TABLE tree_nodes_v2 (
    band  INTEGER NOT NULL,
    pos   INTEGER NOT NULL,
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (band, pos, level)
) WITHOUT ROWID;
INSERT INTO tree_nodes_v2 (band, pos, level, idx, hash)
    SELECT CASE WHEN level < 6 THEN 0 ELSE level END, ((idx + 1) << level) - 1, level, idx, hash
    FROM tree_nodes ORDER BY 1, 2, 3;
DROP TABLE tree_nodes;
ALTER TABLE tree_nodes_v2 RENAME TO tree_nodes;
