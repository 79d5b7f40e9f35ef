-- The search index leaves out values under secret names and reads the body as it is shown
-- (runs.shown), so that neither a search's hits nor its time tell anything about a hidden value
-- (src/journal/search-text.mjs). The index of the runs kept before is emptied and filled again
-- by the writer thread when it is idle, by the new rule; until then the search reads those runs
-- directly (journal/runs.ts), as it does any run the index has not caught up with.
INSERT INTO runs_search (runs_search) VALUES ('delete-all');
UPDATE search_state SET last_rowid = 0 WHERE id = 1;

-- A run whose shown body changes at its end (it learned a secret while it ran) and that the
-- writer thread indexed already is indexed again, from what is shown now: the index never holds
-- a value the journal hides. (A run not indexed yet is indexed later, from its final shown.)
CREATE TRIGGER runs_search_shown AFTER UPDATE OF shown ON runs
WHEN new.shown IS NOT old.shown AND old.rowid <= (SELECT last_rowid FROM search_state WHERE id = 1)
BEGIN
  DELETE FROM runs_search WHERE rowid = old.rowid;
  INSERT INTO runs_search (rowid, text) VALUES (new.rowid, hookrelay_search_text(new.request, new.shown));
END;
