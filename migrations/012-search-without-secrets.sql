-- The search index leaves out values under secret names and reads the body as it is shown
-- (runs.shown), so that neither a search's hits nor its time tell anything about a hidden value
-- (src/journal/search-text.mjs). The index of the runs kept before is emptied and filled again
-- by the writer thread when it is idle, by the new rule; until then the search reads those runs
-- directly (journal/runs.ts), as it does any run the index has not caught up with.
INSERT INTO runs_search (runs_search) VALUES ('delete-all');
UPDATE search_state SET last_rowid = 0 WHERE id = 1;
