-- One row per request that reached a pipeline's URL with the right key.
-- ids are UUIDv7: they sort by time, so "newest first" and the cursor are ORDER BY id.
CREATE TABLE runs (
  id          TEXT PRIMARY KEY,
  pipeline    TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'rejected', 'skipped', 'interrupted')),
  received_at TEXT NOT NULL,            -- ISO 8601, UTC
  finished_at TEXT,
  duration_ms INTEGER,
  error       TEXT,                     -- why the run failed or was rejected (masked)
  request     TEXT NOT NULL,            -- JSON: method, path, query, headers, raw body (masked)
  response    TEXT,                     -- JSON: the answer sent to the caller
  replay_of   TEXT,                     -- the run this one replays
  warnings    TEXT                      -- JSON array of strings
) STRICT;

CREATE INDEX runs_by_pipeline ON runs (pipeline, id);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_replay ON runs (replay_of) WHERE replay_of IS NOT NULL;
