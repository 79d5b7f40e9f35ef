-- Duplicate deliveries: a run whose dedupe key was kept before runs nothing; it is kept with
-- status 'duplicate' and points at the first run. SQLite cannot change a CHECK constraint in
-- place, so the table is rebuilt (foreign keys are off while migrations run, so the steps of
-- every run stay).
CREATE TABLE runs_new (
  id           TEXT PRIMARY KEY,
  pipeline     TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'rejected', 'skipped', 'interrupted', 'duplicate')),
  received_at  TEXT NOT NULL,           -- ISO 8601, UTC
  finished_at  TEXT,
  duration_ms  INTEGER,
  error        TEXT,                    -- why the run failed or was rejected (masked)
  request      TEXT NOT NULL,           -- JSON: method, path, query, headers, raw body (masked)
  response     TEXT,                    -- JSON: the answer sent to the caller
  replay_of    TEXT,                    -- the run this one replays
  warnings     TEXT,                    -- JSON array of strings
  dedupe_key   TEXT,                    -- SHA-256 of the pipeline and its rendered `dedupe` template
  duplicate_of TEXT,                    -- for a duplicate: the first run with the same key
  shown        TEXT                     -- the kept body masked with all the run learned, when that hides more
) STRICT;

INSERT INTO runs_new (id, pipeline, status, received_at, finished_at, duration_ms, error, request, response, replay_of, warnings)
  SELECT id, pipeline, status, received_at, finished_at, duration_ms, error, request, response, replay_of, warnings FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;

CREATE INDEX runs_by_pipeline ON runs (pipeline, id);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_replay ON runs (replay_of) WHERE replay_of IS NOT NULL;
-- The dedupe lookup: the first run with a key, newest first (ids sort by time).
CREATE INDEX runs_by_dedupe_key ON runs (dedupe_key, id) WHERE dedupe_key IS NOT NULL;
CREATE INDEX runs_by_duplicate ON runs (duplicate_of) WHERE duplicate_of IS NOT NULL;
