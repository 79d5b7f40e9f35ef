-- /healthz proves the database is writable by updating this single row.
CREATE TABLE health (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at TEXT NOT NULL
) STRICT;
INSERT INTO health (id, checked_at) VALUES (1, '');
