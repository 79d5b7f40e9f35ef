-- Search by what a request held (GET /journal?q=, the journal page): a trigram index, so any
-- part of an email, a phone or an order number of three characters or more is found without
-- reading every run. It indexes hookrelay_search_text(request), the request's values decoded
-- (src/journal/search-text.mjs), a function each of hookrelay's connections registers; so the
-- index keeps no copy of the text (contentless) and rows are found by the runs' rowid.
CREATE VIRTUAL TABLE runs_search USING fts5(text, content = '', contentless_delete = 1, tokenize = 'trigram');

CREATE TRIGGER runs_search_insert AFTER INSERT ON runs BEGIN
  INSERT INTO runs_search (rowid, text) VALUES (new.rowid, hookrelay_search_text(new.request));
END;
CREATE TRIGGER runs_search_delete AFTER DELETE ON runs BEGIN
  DELETE FROM runs_search WHERE rowid = old.rowid;
END;

INSERT INTO runs_search (rowid, text) SELECT rowid, hookrelay_search_text(request) FROM runs;
