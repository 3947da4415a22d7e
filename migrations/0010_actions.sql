-- Custom actions: a team's JavaScript modules, run in isolates of their own through the
-- Worker Loader. `version` grows with each edit of the code or the allowed hosts: the
-- isolate's id includes it, so a cached isolate never runs an older edit.
CREATE TABLE actions (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams (id),
  chatbot_id TEXT REFERENCES chatbots (id),
  name TEXT NOT NULL,
  code TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  allowed_hosts TEXT NOT NULL DEFAULT '[]',
  timeout_ms INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX actions_by_team ON actions (team_id, id);
