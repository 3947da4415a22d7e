-- The last runs of each custom action (API, dashboard and trigger runs alike), for the
-- dashboard's "last runs" list. Bounded twice: each text column is cut before it is
-- written, and a run's insert deletes all but the newest 20 of its action in the same batch.
CREATE TABLE action_runs (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams (id),
  action_id TEXT NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  conversation_id TEXT,
  status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
  -- The result's JSON text where ok, the error where failed; both cut to a bound.
  result TEXT,
  error TEXT,
  -- A JSON array of log lines, cut to a bound.
  logs TEXT NOT NULL DEFAULT '[]',
  duration_ms INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX action_runs_by_action ON action_runs (action_id, id);
