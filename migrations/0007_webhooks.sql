-- Webhooks: a team's endpoints with the events each takes, and one delivery per event
-- and endpoint (docs/webhooks.md). A deleted webhook is kept (deleted_at) so its
-- deliveries still in the queue can be closed as failed.
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams (id),
  -- One chatbot's events, or null for every chatbot of the team.
  chatbot_id TEXT REFERENCES chatbots (id),
  url TEXT NOT NULL,
  -- A JSON array of event types.
  events TEXT NOT NULL,
  -- Signing needs the secret itself: sealed with a key derived from TOKEN_SECRET (AES-GCM).
  secret TEXT NOT NULL,
  created_at TEXT NOT NULL,
  deleted_at TEXT
);
CREATE INDEX webhooks_by_team ON webhooks (team_id, id);

-- The id is the Standard Webhooks `webhook-id`, derived from the event and the webhook
-- (time-ordered by the event), so one event never reaches one endpoint under two ids.
-- `payload` is the exact body sent on every attempt.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES webhooks (id),
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status_code INTEGER,
  last_error TEXT,
  created_at TEXT NOT NULL,
  delivered_at TEXT
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
