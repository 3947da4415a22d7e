/**
 * The D1 reads of the Parquet export (src/analytics/export.ts): the projection's
 * `conversations`, `metadata_keys` and `metadata_values` (written by src/conversations/storage.ts)
 * by chatbot and UTC day of `started_at`, in pages, so that a day of any size is read in
 * bounded memory. Reads only; every value is a bound parameter.
 */
import { type Cost, tallyD1 } from "../shared/cost";

/** A UTC day of `started_at` with conversations: how many, and the span of their `seq`. */
export type ExportDay = { day: string; conversations: number; firstSeq: number; lastSeq: number };

/** One conversation as exported: the index row's columns. */
export type ExportConversation = {
  seq: number;
  id: string;
  started_at: string;
  status: string;
  outcome: string | null;
  ended_at: string | null;
  last_message_at: string | null;
  message_count: number;
  channel: string;
  participant_id: string;
};

/** One metadata pair of a conversation as exported; `size` is the value's length in characters. */
export type ExportMetadata = { key: string; conv: number; conversation_id: string; value: string; num: number | null; size: number };

/** Where the metadata walk of a day stands: the last pair read (keys in order, then conversations). */
export type MetadataCursor = { key: string; conv: number };

/** The ISO bounds of `started_at` for the UTC days [from, to): midnight of each. */
export function dayBounds(from: string, to: string): { start: string; end: string } {
  return { start: `${from}T00:00:00.000Z`, end: `${to}T00:00:00.000Z` };
}

/**
 * The chatbot's days in [from, to) that have conversations, in order, with their counts and
 * the span of `seq` their conversations have. One walk of the chatbot's covering index
 * (conversations_for_analytics): it reads each of the chatbot's conversations once.
 */
export async function listExportDays(db: D1Database, chatbotId: string, from: string, to: string, cost?: Cost): Promise<ExportDay[]> {
  const { start, end } = dayBounds(from, to);
  const result = await db
    .prepare(
      `SELECT substr(started_at, 1, 10) AS day, COUNT(*) AS conversations, MIN(seq) AS firstSeq, MAX(seq) AS lastSeq
       FROM conversations INDEXED BY conversations_for_analytics
       WHERE chatbot_id = ? AND started_at >= ? AND started_at < ?
       GROUP BY 1 ORDER BY 1`,
    )
    .bind(chatbotId, start, end)
    .all<ExportDay>();
  tallyD1(cost, result);
  return result.results;
}

/**
 * The next page of a day's conversations after `afterSeq`, in `seq` order: a range of
 * `conversations_by_chatbot_seq` between the day's first and last `seq`. So a day costs its
 * span of the chatbot's own conversations (other days' inside it are left out by `started_at`),
 * whatever other chatbots started meanwhile.
 */
export async function readConversationPage(
  db: D1Database,
  input: { chatbotId: string; day: ExportDay; afterSeq: number; limit: number },
  cost?: Cost,
): Promise<ExportConversation[]> {
  const { start, end } = dayBounds(input.day.day, nextDay(input.day.day));
  const result = await db
    .prepare(
      `SELECT seq, id, started_at, status, outcome, ended_at, last_message_at, message_count, channel, participant_id
       FROM conversations INDEXED BY conversations_by_chatbot_seq
       WHERE chatbot_id = ?1 AND seq > ?2 AND seq <= ?3 AND started_at >= ?4 AND started_at < ?5
       ORDER BY seq LIMIT ?6`,
    )
    .bind(input.chatbotId, Math.max(input.afterSeq, input.day.firstSeq - 1), input.day.lastSeq, start, end, input.limit)
    .all<ExportConversation>();
  tallyD1(cost, result);
  return result.results;
}

/**
 * The next page of a day's metadata pairs after `after`, ordered by key name and then by
 * conversation: the chatbot's keys in the order of their unique index, each key's values of
 * the day's `seq` span by primary key, so no page sorts or rereads what an earlier one read.
 * Pairs of conversations of other days inside that span are left out by their `started_at`.
 */
export async function readMetadataPage(
  db: D1Database,
  input: { chatbotId: string; day: ExportDay; after: MetadataCursor | null; limit: number },
  cost?: Cost,
): Promise<ExportMetadata[]> {
  const { start, end } = dayBounds(input.day.day, nextDay(input.day.day));
  const after = input.after ?? { key: "", conv: -1 };
  const result = await db
    .prepare(
      `SELECT k.key AS key, v.conv AS conv, c.id AS conversation_id, v.value AS value, v.num AS num, length(v.value) AS size
       FROM metadata_keys k
       CROSS JOIN metadata_values v ON v.key_id = k.id AND v.conv BETWEEN ?4 AND ?5
       CROSS JOIN conversations c ON c.seq = v.conv
       WHERE k.chatbot_id = ?1 AND k.key >= ?2 AND (k.key > ?2 OR v.conv > ?3)
         AND c.chatbot_id = ?1 AND c.started_at >= ?6 AND c.started_at < ?7
       ORDER BY k.key, v.conv LIMIT ?8`,
    )
    .bind(input.chatbotId, after.key, after.conv, input.day.firstSeq, input.day.lastSeq, start, end, input.limit)
    .all<ExportMetadata>();
  tallyD1(cost, result);
  return result.results;
}

/**
 * The chatbots (with their teams) that have conversations started in the UTC days [from, to):
 * what the daily export walks. One walk of the conversations' covering index, all chatbots.
 */
export async function listChatbotsWithConversations(
  db: D1Database,
  from: string,
  to: string,
  cost?: Cost,
): Promise<{ team_id: string; chatbot_id: string }[]> {
  const { start, end } = dayBounds(from, to);
  const result = await db
    .prepare(
      `SELECT b.team_id AS team_id, d.chatbot_id AS chatbot_id
       FROM (SELECT DISTINCT chatbot_id FROM conversations INDEXED BY conversations_for_analytics WHERE started_at >= ? AND started_at < ?) d
       JOIN chatbots b ON b.id = d.chatbot_id
       ORDER BY b.team_id, d.chatbot_id`,
    )
    .bind(start, end)
    .all<{ team_id: string; chatbot_id: string }>();
  tallyD1(cost, result);
  return result.results;
}

/** The UTC day after `day` (YYYY-MM-DD). */
export function nextDay(day: string, days = 1): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
