-- runs has no AUTOINCREMENT: once retention has deleted every run, new runs start again at
-- rowid 1. search_state must start again with them, or they would count as indexed already.
CREATE TRIGGER runs_search_reset AFTER DELETE ON runs WHEN NOT EXISTS (SELECT 1 FROM runs) BEGIN
  UPDATE search_state SET last_rowid = 0 WHERE id = 1;
END;
