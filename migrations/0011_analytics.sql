-- The metadata projection rebuilt for analytics (docs/analytics.md): key names interned per
-- chatbot, conversations named by a small integer, each value stored with its number parsed
-- once, and indexes that answer an equality or range filter on one key by reading its matches.

-- A conversation's integer surrogate: the next one at insert, whoever inserts.
ALTER TABLE conversations ADD COLUMN seq INTEGER;
UPDATE conversations SET seq = rowid;
CREATE UNIQUE INDEX conversations_by_seq ON conversations (seq);
-- Whole-chatbot segments read this instead of the rows: no lookup per conversation.
CREATE INDEX conversations_for_analytics ON conversations (chatbot_id, seq, started_at, status, outcome);
CREATE TRIGGER conversations_seq AFTER INSERT ON conversations WHEN NEW.seq IS NULL
BEGIN
  UPDATE conversations SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM conversations) WHERE rowid = NEW.rowid;
END;

CREATE TABLE metadata_keys (
  id INTEGER PRIMARY KEY,
  chatbot_id TEXT NOT NULL,
  key TEXT NOT NULL,
  UNIQUE (chatbot_id, key)
);

-- `num` is the value as a number where it is one in JSON's syntax (finite), else NULL.
CREATE TABLE metadata_values (
  key_id INTEGER NOT NULL,
  conv INTEGER NOT NULL,
  value TEXT NOT NULL,
  num REAL,
  PRIMARY KEY (key_id, conv)
) WITHOUT ROWID;
-- Both hold the primary key's columns too: (key_id, value, conv) and (key_id, num, conv).
CREATE INDEX metadata_values_by_value ON metadata_values (key_id, value);
CREATE INDEX metadata_values_by_num ON metadata_values (key_id, num) WHERE num IS NOT NULL;

INSERT INTO metadata_keys (chatbot_id, key) SELECT DISTINCT chatbot_id, key FROM conversation_metadata ORDER BY chatbot_id, key;
INSERT INTO metadata_values (key_id, conv, value, num)
SELECT k.id, c.seq, m.value,
  CASE WHEN json_valid(m.value) AND json_type(m.value) IN ('integer', 'real') AND m.value = trim(m.value, ' ' || char(9, 10, 13))
    AND abs(CAST(m.value AS REAL)) <= 1.7976931348623157e308 THEN CAST(m.value AS REAL) END
FROM conversation_metadata m
JOIN conversations c ON c.id = m.conversation_id
JOIN metadata_keys k ON k.chatbot_id = m.chatbot_id AND k.key = m.key;
DROP TABLE conversation_metadata;

-- The old table's shape, read-only in spirit, for tools and scripts written against it;
-- the service itself reads and writes metadata_values.
CREATE VIEW conversation_metadata AS
SELECT c.id AS conversation_id, k.chatbot_id AS chatbot_id, k.key AS key, v.value AS value, NULL AS updated_at
FROM metadata_values v JOIN metadata_keys k ON k.id = v.key_id JOIN conversations c ON c.seq = v.conv;
CREATE TRIGGER conversation_metadata_insert INSTEAD OF INSERT ON conversation_metadata
BEGIN
  INSERT OR IGNORE INTO metadata_keys (chatbot_id, key) VALUES (NEW.chatbot_id, NEW.key);
  INSERT OR REPLACE INTO metadata_values (key_id, conv, value, num)
  SELECT k.id, c.seq, NEW.value,
    CASE WHEN json_valid(NEW.value) AND json_type(NEW.value) IN ('integer', 'real') AND NEW.value = trim(NEW.value, ' ' || char(9, 10, 13))
      AND abs(CAST(NEW.value AS REAL)) <= 1.7976931348623157e308 THEN CAST(NEW.value AS REAL) END
  FROM metadata_keys k, conversations c WHERE k.chatbot_id = NEW.chatbot_id AND k.key = NEW.key AND c.id = NEW.conversation_id;
END;
