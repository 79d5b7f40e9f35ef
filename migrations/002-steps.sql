-- One row per action of a run, written when it starts and completed when it ends,
-- so a crash mid-call still shows what was being sent.
CREATE TABLE steps (
  run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq         INTEGER NOT NULL,         -- position of the action in the pipeline, from 0
  id          TEXT NOT NULL,            -- the action id
  type        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
  started_at  TEXT NOT NULL,
  duration_ms INTEGER,
  request     TEXT,                     -- JSON: the rendered request (masked)
  response    TEXT,                     -- JSON: status, headers, capped body (masked)
  output      TEXT,                     -- JSON: what a non-HTTP action produced (masked)
  error       TEXT,
  PRIMARY KEY (run_id, seq)
) STRICT;
