-- Teams, their API keys (hashes only) and chatbots.
CREATE TABLE teams (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams (id),
  key_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX api_keys_by_team ON api_keys (team_id);

CREATE TABLE chatbots (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams (id),
  name TEXT NOT NULL,
  allowed_origins TEXT NOT NULL DEFAULT '[]',
  participant_data_schema TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX chatbots_by_team ON chatbots (team_id, id);

-- One participant per (chatbot, channel, identifier); a chatbot belongs to one team.
CREATE TABLE participants (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams (id),
  chatbot_id TEXT NOT NULL REFERENCES chatbots (id),
  channel TEXT NOT NULL,
  identifier TEXT NOT NULL,
  name TEXT,
  email TEXT,
  phone TEXT,
  timezone TEXT,
  data TEXT NOT NULL DEFAULT '{}',
  version INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (chatbot_id, channel, identifier)
);
CREATE INDEX participants_by_team ON participants (team_id, id);

-- The conversation index. Counters and the metadata projection are flushed from
-- each ConversationObject by its alarm, a few seconds behind the object itself.
CREATE TABLE conversations (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams (id),
  chatbot_id TEXT NOT NULL REFERENCES chatbots (id),
  channel TEXT NOT NULL,
  participant_id TEXT NOT NULL REFERENCES participants (id),
  started_at TEXT NOT NULL,
  last_message_at TEXT,
  message_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversations_by_team ON conversations (team_id, id);
CREATE INDEX conversations_by_chatbot ON conversations (chatbot_id, id);
CREATE INDEX conversations_by_participant ON conversations (participant_id, id);

-- Metadata projection for listing and analytics (the object holds the truth).
CREATE TABLE conversation_metadata (
  conversation_id TEXT NOT NULL REFERENCES conversations (id),
  chatbot_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (conversation_id, key)
) WITHOUT ROWID;
CREATE INDEX conversation_metadata_by_key ON conversation_metadata (chatbot_id, key);
