-- The search index is filled off the commit path: a run is indexed by the writer thread after
-- it committed, when the thread has nothing else waiting, in batches that need no fsync (the
-- index can always be rebuilt from the runs). So the insert trigger goes; search_state says up
-- to which row the index is filled, and the search reads the runs past it directly.
DROP TRIGGER runs_search_insert;
CREATE TABLE search_state (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  last_rowid   INTEGER NOT NULL
) STRICT;
INSERT INTO search_state (id, last_rowid) VALUES (1, coalesce((SELECT max(rowid) FROM runs), 0));
