-- Verified identity: a participant proven by an identity token signed with its
-- chatbot's identity secret, and the chatbot settings that govern it.
ALTER TABLE participants ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;

ALTER TABLE chatbots ADD COLUMN identity_verification TEXT NOT NULL DEFAULT 'off';
-- The identity secret, sealed with a key derived from TOKEN_SECRET (AES-GCM), and the
-- previous one, still accepted for a grace period after a rotation.
ALTER TABLE chatbots ADD COLUMN identity_secret TEXT;
ALTER TABLE chatbots ADD COLUMN identity_secret_previous TEXT;
ALTER TABLE chatbots ADD COLUMN identity_secret_rotated_at TEXT;
