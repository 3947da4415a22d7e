-- Segments over a whole chatbot read the metadata index alone (docs/analytics.md, "How a
-- query runs"): each metadata row carries its conversation's start day and outcome, so a
-- segment by a key's value, or numeric buckets, never joins the conversation per row.

-- Outcome labels interned (a small integer per label, whatever team uses it): a metadata
-- row holds the integer, not the label.
CREATE TABLE outcome_labels (
  id INTEGER PRIMARY KEY,
  label TEXT NOT NULL UNIQUE
);
INSERT INTO outcome_labels (label) SELECT DISTINCT outcome FROM conversations WHERE outcome IS NOT NULL ORDER BY 1;

-- The table rebuilt in key order with the two new columns: `day` is the UTC day of the
-- conversation's started_at (days since 1970-01-01), `outcome` its outcome label's id or NULL.
DROP TRIGGER conversation_metadata_insert;
DROP VIEW conversation_metadata;
CREATE TABLE metadata_values_next (
  key_id INTEGER NOT NULL,
  conv INTEGER NOT NULL,
  value TEXT NOT NULL,
  num REAL,
  day INTEGER,
  outcome INTEGER,
  PRIMARY KEY (key_id, conv)
) WITHOUT ROWID;
INSERT INTO metadata_values_next (key_id, conv, value, num, day, outcome)
SELECT v.key_id, v.conv, v.value, v.num, unixepoch(c.started_at) / 86400, o.id
FROM metadata_values v
JOIN conversations c ON c.seq = v.conv
LEFT JOIN outcome_labels o ON o.label = c.outcome
ORDER BY v.key_id, v.conv;
DROP TABLE metadata_values;
ALTER TABLE metadata_values_next RENAME TO metadata_values;
-- A segment by value groups (value, outcome) in index order, filtering days on the entry;
-- both still answer an equality or range filter on the key by reading its matches only.
CREATE INDEX metadata_values_by_value ON metadata_values (key_id, value, outcome, day);
CREATE INDEX metadata_values_by_num ON metadata_values (key_id, num, outcome, day) WHERE num IS NOT NULL;

-- A chatbot's conversations by outcome, in index order: the per-outcome totals of a segment.
DROP INDEX conversations_for_analytics;
CREATE INDEX conversations_for_analytics ON conversations (chatbot_id, outcome, started_at, status, seq);

-- Every label a conversation takes is interned, and its metadata rows follow its outcome.
CREATE TRIGGER conversations_outcome_insert AFTER INSERT ON conversations WHEN NEW.outcome IS NOT NULL
BEGIN
  INSERT INTO outcome_labels (label) VALUES (NEW.outcome) ON CONFLICT DO NOTHING;
END;
CREATE TRIGGER conversations_outcome_update AFTER UPDATE OF outcome ON conversations WHEN NEW.outcome IS NOT OLD.outcome
BEGIN
  INSERT INTO outcome_labels (label) SELECT NEW.outcome WHERE NEW.outcome IS NOT NULL ON CONFLICT DO NOTHING;
  UPDATE metadata_values SET outcome = (SELECT id FROM outcome_labels WHERE label = NEW.outcome)
  WHERE key_id IN (SELECT id FROM metadata_keys WHERE chatbot_id = NEW.chatbot_id) AND conv = NEW.seq;
END;

-- The old table's shape again, as in 0011.
CREATE VIEW conversation_metadata AS
SELECT c.id AS conversation_id, k.chatbot_id AS chatbot_id, k.key AS key, v.value AS value, NULL AS updated_at
FROM metadata_values v JOIN metadata_keys k ON k.id = v.key_id JOIN conversations c ON c.seq = v.conv;
CREATE TRIGGER conversation_metadata_insert INSTEAD OF INSERT ON conversation_metadata
BEGIN
  INSERT OR IGNORE INTO metadata_keys (chatbot_id, key) VALUES (NEW.chatbot_id, NEW.key);
  INSERT OR REPLACE INTO metadata_values (key_id, conv, value, num, day, outcome)
  SELECT k.id, c.seq, NEW.value,
    CASE WHEN json_valid(NEW.value) AND json_type(NEW.value) IN ('integer', 'real') AND NEW.value = trim(NEW.value, ' ' || char(9, 10, 13))
      AND abs(CAST(NEW.value AS REAL)) <= 1.7976931348623157e308 THEN CAST(NEW.value AS REAL) END,
    unixepoch(c.started_at) / 86400, (SELECT id FROM outcome_labels WHERE label = c.outcome)
  FROM metadata_keys k, conversations c WHERE k.chatbot_id = NEW.chatbot_id AND k.key = NEW.key AND c.id = NEW.conversation_id;
END;
