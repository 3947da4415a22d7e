-- Triggers: what a chatbot's conversations do on their own (send a message, update the
-- participant's data, end the conversation, run a custom action) when something happens.
-- Conversation objects read them when they start and on each visitor message; what fired
-- is logged in each object.
CREATE TABLE triggers (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams (id),
  chatbot_id TEXT NOT NULL REFERENCES chatbots (id),
  on_event TEXT NOT NULL,
  delay_seconds INTEGER,
  max_fires INTEGER NOT NULL DEFAULT 1,
  action TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX triggers_by_chatbot ON triggers (chatbot_id, id);
