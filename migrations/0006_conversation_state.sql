-- Conversation state (open or ended, an outcome label) in the index, for listing and
-- analytics; the conversation object holds it too and writes it through when it changes.
ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
ALTER TABLE conversations ADD COLUMN outcome TEXT;
ALTER TABLE conversations ADD COLUMN ended_at TEXT;
CREATE INDEX conversations_by_participant_status ON conversations (participant_id, status, id);

-- Whether visitor messages get the stand-in summary reply (a team's own bot answers instead).
ALTER TABLE chatbots ADD COLUMN stand_in_replies INTEGER NOT NULL DEFAULT 1;
