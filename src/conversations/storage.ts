/**
 * The `conversations` index and its metadata projection (`metadata_keys`, `metadata_values`) in D1. Each
 * conversation object holds the truth and copies counters and metadata here (its alarm),
 * for listing and analytics; reads of one conversation go to the object.
 */
import { type Condition, DRIVEN_FROM, type Driver, drivingCondition, filterConditions } from "../analytics/storage";
import type { CustomerRecord } from "../participants/storage";
import { type Cost, tallyD1 } from "../shared/cost";

export type ConversationRow = {
  id: string;
  chatbot_id: string;
  channel: string;
  participant_id: string;
  started_at: string;
  last_message_at: string | null;
  message_count: number;
};

const COLUMNS = "c.id, c.chatbot_id, c.channel, c.participant_id, c.started_at, c.last_message_at, c.message_count";

/** The team's conversation with its participant's customer fields, or null (another team's too). */
export async function findTeamConversation(
  db: D1Database,
  teamId: string,
  id: string,
): Promise<(ConversationRow & Omit<CustomerRecord, "timezone">) | null> {
  return db
    .prepare(
      `SELECT ${COLUMNS}, p.name, p.email, p.phone
       FROM conversations c JOIN participants p ON p.id = c.participant_id
       WHERE c.id = ? AND c.team_id = ?`,
    )
    .bind(id, teamId)
    .first<ConversationRow & Omit<CustomerRecord, "timezone">>();
}

/** The dashboard's view of one conversation: its row, its chatbot's name, its participant's customer record. */
export type ConversationView = ConversationRow &
  CustomerRecord & {
    chatbot_name: string;
    /** 1 where an identity token proved who the participant is. */
    verified: number;
    /** The participant's data (JSON text), read only where asked: it can be 64 KiB. */
    data?: string;
  };

/** The team's conversation as the dashboard shows it, in one statement; null for another team's. */
export async function findConversationView(
  db: D1Database,
  teamId: string,
  id: string,
  options: { withData: boolean },
): Promise<ConversationView | null> {
  return db
    .prepare(
      `SELECT ${COLUMNS}, b.name AS chatbot_name, p.name, p.email, p.phone, p.timezone, p.verified${options.withData ? ", p.data" : ""}
       FROM conversations c JOIN participants p ON p.id = c.participant_id JOIN chatbots b ON b.id = c.chatbot_id
       WHERE c.id = ? AND c.team_id = ?`,
    )
    .bind(id, teamId)
    .first<ConversationView>();
}

/**
 * The participant's most recently started open conversation of this team, or null: where a
 * schedule posts its message. One probe of `conversations_by_participant_status`.
 */
export async function findLatestOpenConversation(db: D1Database, teamId: string, participantId: string): Promise<{ id: string } | null> {
  return db
    .prepare("SELECT id FROM conversations WHERE participant_id = ? AND status = 'open' AND team_id = ? ORDER BY id DESC LIMIT 1")
    .bind(participantId, teamId)
    .first<{ id: string }>();
}

export type ConversationFilter = {
  teamId: string;
  chatbotId?: string;
  /** Only this participant's conversations (read by `conversations_by_participant`). */
  participantId?: string;
  cursor?: string;
  limit: number;
  /** Only conversations holding this metadata key (with this value, where given). */
  metadata?: { key: string; value?: string };
  /** Only conversations matching every one of these (the analytics engine's filters). */
  filters?: Condition[];
};

/** A filter with at most this many matches is read from its key's index and sorted; more are found walking newest first. */
const DRIVEN_MATCHES_MAX = 1000;

/**
 * The filter on a key's value to read first, where its index lists few matches (one customer's
 * `user_id`): counting them reads at most DRIVEN_MATCHES_MAX + 1 index entries. Null where
 * walking the chatbot newest first finds a page sooner (a common value) or no index serves.
 */
async function rareDriver(
  db: D1Database,
  conditions: Condition[],
  chatbot: { sql: string; params: unknown[] },
  cost?: Cost,
): Promise<Driver | null> {
  const driver = drivingCondition(conditions, chatbot);
  if (!driver || driver.rank > 2) return null;
  const counted = await db
    .prepare(
      `SELECT COUNT(*) AS n FROM (SELECT 1 FROM metadata_values d WHERE ${driver.where.join(" AND ")} LIMIT ${DRIVEN_MATCHES_MAX + 1})`,
    )
    .bind(...driver.params)
    .all<{ n: number }>();
  tallyD1(cost, counted);
  return counted.results[0]!.n <= DRIVEN_MATCHES_MAX ? driver : null;
}

/**
 * One page, newest first (ids are time-ordered); `nextCursor` is the last id where more follow.
 * A rare value of a key is read from its index; anything else walks the conversations newest first.
 */
export async function listConversations(
  db: D1Database,
  filter: ConversationFilter,
  cost?: Cost,
): Promise<{ rows: ConversationRow[]; nextCursor: string | null }> {
  const where = ["c.team_id = ?"];
  const params: unknown[] = [filter.teamId];
  if (filter.chatbotId) {
    where.push("c.chatbot_id = ?");
    params.push(filter.chatbotId);
  }
  if (filter.participantId) {
    where.push("c.participant_id = ?");
    params.push(filter.participantId);
  }
  if (filter.cursor) {
    where.push("c.id < ?");
    params.push(filter.cursor);
  }
  const conditions: Condition[] = [...(filter.filters ?? [])];
  if (filter.metadata) {
    const { key, value } = filter.metadata;
    conditions.push(value === undefined ? { field: { key }, op: "exists" } : { field: { key }, op: "eq", value });
  }
  let from = "conversations c";
  if (conditions.length > 0) {
    // Keys are interned per chatbot: the named chatbot's, else each conversation's own.
    const chatbot = filter.chatbotId ? { sql: "?", params: [filter.chatbotId] } : { sql: "c.chatbot_id", params: [] };
    const driver = filter.chatbotId ? await rareDriver(db, conditions, chatbot, cost) : null;
    const sql = filterConditions(driver ? driver.rest : conditions, chatbot);
    if (driver) {
      from = DRIVEN_FROM;
      where.unshift(...driver.where);
      params.unshift(...driver.params);
    }
    where.push(...sql.where);
    params.push(...sql.params);
  }
  const answer = await db
    .prepare(`SELECT ${COLUMNS} FROM ${from} WHERE ${where.join(" AND ")} ORDER BY c.id DESC LIMIT ?`)
    .bind(...params, filter.limit + 1)
    .all<ConversationRow>();
  tallyD1(cost, answer);
  const results = answer.results;
  const rows = results.slice(0, filter.limit);
  return { rows, nextCursor: results.length > filter.limit ? rows.at(-1)!.id : null };
}

/**
 * Indexes a new conversation of the web participant (chatbot, `web`, identifier). Its
 * participant id is read in the same statement, so it can share a batch with the
 * statement that creates that participant.
 */
export function insertWebConversation(
  db: D1Database,
  input: { id: string; teamId: string; chatbotId: string; identifier: string; startedAt: string },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO conversations (id, team_id, chatbot_id, channel, participant_id, started_at)
       SELECT ?1, ?2, ?3, 'web', id, ?4 FROM participants WHERE chatbot_id = ?3 AND channel = 'web' AND identifier = ?5`,
    )
    .bind(input.id, input.teamId, input.chatbotId, input.startedAt, input.identifier);
}

/** Moves a conversation to the web participant (chatbot, `web`, identifier): batched after its upsert. */
export function moveWebConversation(db: D1Database, input: { id: string; chatbotId: string; identifier: string }): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE conversations SET participant_id = (SELECT id FROM participants WHERE chatbot_id = ?2 AND channel = 'web' AND identifier = ?3)
       WHERE id = ?1`,
    )
    .bind(input.id, input.chatbotId, input.identifier);
}

/** The conversation's state, written through by its object when the API or a trigger changes it. */
export function updateConversationState(
  db: D1Database,
  input: { id: string; status: "open" | "ended"; outcome: string | null; endedAt: string | null },
): D1PreparedStatement {
  return db
    .prepare("UPDATE conversations SET status = ?, outcome = ?, ended_at = ? WHERE id = ?")
    .bind(input.status, input.outcome, input.endedAt, input.id);
}

export function updateConversationCounters(
  db: D1Database,
  input: { id: string; messageCount: number; lastMessageAt: string | null },
): D1PreparedStatement {
  return db
    .prepare("UPDATE conversations SET message_count = ?, last_message_at = ? WHERE id = ?")
    .bind(input.messageCount, input.lastMessageAt, input.id);
}

/**
 * A value's number, parsed once when projected: JSON's number syntax, finite, no
 * surrounding space (as migrations/0011_analytics.sql parses existing rows); else null.
 */
export function numericValue(value: string): number | null {
  if (!/^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(value)) return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

/**
 * Projects one metadata pair: interns the key for the chatbot, then upserts the value under
 * the conversation's integer surrogate, with the conversation's start day and outcome label id
 * (kept current by the outcome trigger of migrations/0013). Two statements, in this order, for one batch.
 */
export function upsertProjectedMetadata(
  db: D1Database,
  input: { conversationId: string; chatbotId: string; key: string; value: string },
): D1PreparedStatement[] {
  return [
    db.prepare("INSERT INTO metadata_keys (chatbot_id, key) VALUES (?, ?) ON CONFLICT DO NOTHING").bind(input.chatbotId, input.key),
    db
      .prepare(
        `INSERT INTO metadata_values (key_id, conv, value, num, day, outcome)
         SELECT k.id, c.seq, ?3, ?4, unixepoch(c.started_at) / 86400, (SELECT id FROM outcome_labels WHERE label = c.outcome)
         FROM metadata_keys k, conversations c WHERE k.chatbot_id = ?1 AND k.key = ?2 AND c.id = ?5
         ON CONFLICT (key_id, conv) DO UPDATE SET value = excluded.value, num = excluded.num`,
      )
      .bind(input.chatbotId, input.key, input.value, numericValue(input.value), input.conversationId),
  ];
}

export function deleteProjectedMetadata(db: D1Database, conversationId: string, key: string): D1PreparedStatement {
  return db
    .prepare(
      `DELETE FROM metadata_values
       WHERE key_id = (SELECT k.id FROM conversations c JOIN metadata_keys k ON k.chatbot_id = c.chatbot_id WHERE c.id = ?1 AND k.key = ?2)
         AND conv = (SELECT seq FROM conversations WHERE id = ?1)`,
    )
    .bind(conversationId, key);
}
