-- Participant data: idempotency keys for data writes, the write token that
-- ties an idempotency record to the exact write it answers, and listing by chatbot.

-- A successful data write made with an `Idempotency-Key` answers every replay of the
-- same key (per team) with its first response. Kept at least 24 hours (expires_at).
CREATE TABLE idempotency_keys (
  team_id TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status INTEGER NOT NULL,
  response TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  PRIMARY KEY (team_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);

-- Random id of the write that last changed a participant's data. The idempotency
-- record is inserted in the same batch only where this write won its version race.
ALTER TABLE participants ADD COLUMN write_id TEXT;

CREATE INDEX participants_by_chatbot ON participants (chatbot_id, id);
