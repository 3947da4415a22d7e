-- The Parquet export reads a day's conversations of one chatbot in `seq` order
-- (src/analytics/export-storage.ts): with this index it reads that chatbot's rows of the
-- day's `seq` span and no other chatbot's, where `conversations_by_seq` walked every
-- conversation started meanwhile. About 40 bytes per conversation.
CREATE INDEX conversations_by_chatbot_seq ON conversations (chatbot_id, seq);
