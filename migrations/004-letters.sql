-- Failure letters to the operator. A failed or interrupted run first waits in `failures`;
-- the notifier turns what waits for a pipeline into one letter (a digest under a burst) in
-- `letters`, which is the outbox: a letter stays until the SMTP server accepted it.
CREATE TABLE failures (
  run_id    TEXT PRIMARY KEY,
  pipeline  TEXT NOT NULL,
  summary   TEXT NOT NULL,             -- JSON: what the letter says about the run (masked)
  failed_at TEXT NOT NULL
) STRICT;
CREATE INDEX failures_by_pipeline ON failures (pipeline, failed_at);

CREATE TABLE letters (
  id         INTEGER PRIMARY KEY,
  pipeline   TEXT NOT NULL,
  subject    TEXT NOT NULL,
  body       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  due_at     TEXT NOT NULL,            -- next attempt
  attempts   INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  sent_at    TEXT
) STRICT;
CREATE INDEX letters_unsent ON letters (due_at) WHERE sent_at IS NULL;
CREATE INDEX letters_by_pipeline ON letters (pipeline, created_at);
