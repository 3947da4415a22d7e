/**
 * The `participants` table: every statement that reads or writes it. Functions return
 * values, or prepared statements for the caller to batch with others.
 */
import { type Cost, tallyD1 } from "../shared/cost";
import type { JsonObject } from "./json-data";

export type ParticipantRow = {
  id: string;
  team_id: string;
  chatbot_id: string;
  channel: string;
  identifier: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  timezone: string | null;
  data: string;
  version: number;
  created_at: string;
  updated_at: string;
  /** 1 where an identity token proved who this participant is. */
  verified?: number;
};

export type Participant = Omit<ParticipantRow, "data" | "team_id" | "verified"> & { data: JsonObject; verified: boolean };

const COLUMNS = [
  "id",
  "team_id",
  "chatbot_id",
  "channel",
  "identifier",
  "name",
  "email",
  "phone",
  "timezone",
  "data",
  "version",
  "created_at",
  "updated_at",
];
/** What is read: the written columns and `verified`, which only the widget's identity path sets. */
const READ_COLUMNS = [...COLUMNS, "verified"];

/** Columns of the public representation plus team_id, qualified by `alias`. */
function participantColumns(alias = "", columns = READ_COLUMNS): string {
  const prefix = alias ? `${alias}.` : "";
  return columns.map((column) => prefix + column).join(", ");
}

/** The public representation: the owning team is implied by the key that reads it. */
export function presentParticipant(row: ParticipantRow): Participant {
  return {
    id: row.id,
    chatbot_id: row.chatbot_id,
    channel: row.channel,
    identifier: row.identifier,
    name: row.name,
    email: row.email,
    phone: row.phone,
    timezone: row.timezone,
    data: JSON.parse(row.data) as JsonObject,
    version: row.version,
    verified: row.verified === 1,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

// ---- reads ---------------------------------------------------------------------

/** A participant of this team, or null: another team's participant is as absent as a missing one. */
export async function findTeamParticipant(db: D1Database, teamId: string, id: string): Promise<ParticipantRow | null> {
  return db
    .prepare(`SELECT ${participantColumns()} FROM participants WHERE id = ? AND team_id = ?`)
    .bind(id, teamId)
    .first<ParticipantRow>();
}

export async function findParticipantIdByNaturalKey(
  db: D1Database,
  chatbotId: string,
  channel: string,
  identifier: string,
): Promise<string | null> {
  const row = await db
    .prepare("SELECT id FROM participants WHERE chatbot_id = ? AND channel = ? AND identifier = ?")
    .bind(chatbotId, channel, identifier)
    .first<{ id: string }>();
  return row?.id ?? null;
}

type ListFilter = {
  teamId: string;
  chatbotId?: string;
  channel?: string;
  identifier?: string;
  cursor?: string;
  limit: number;
  /** Newest first (the dashboard), paging below the cursor; otherwise creation order (the API). */
  newestFirst?: boolean;
};

/** One page in creation order (ids are time-ordered); `nextCursor` is the last id where more follow. */
export async function listParticipants(db: D1Database, filter: ListFilter): Promise<{ rows: ParticipantRow[]; nextCursor: string | null }> {
  const where = ["team_id = ?"];
  const params: unknown[] = [filter.teamId];
  for (const [column, value] of [
    ["chatbot_id", filter.chatbotId],
    ["channel", filter.channel],
    ["identifier", filter.identifier],
  ] as const) {
    if (value !== undefined) {
      where.push(`${column} = ?`);
      params.push(value);
    }
  }
  if (filter.cursor) {
    where.push(filter.newestFirst ? "id < ?" : "id > ?");
    params.push(filter.cursor);
  }
  const { results } = await db
    .prepare(
      `SELECT ${participantColumns()} FROM participants WHERE ${where.join(" AND ")} ORDER BY id${filter.newestFirst ? " DESC" : ""} LIMIT ?`,
    )
    .bind(...params, filter.limit + 1)
    .run<ParticipantRow>();
  const more = results.length > filter.limit;
  const rows = more ? results.slice(0, filter.limit) : results;
  return { rows, nextCursor: more ? rows.at(-1)!.id : null };
}

export type CustomerRecord = { name: string | null; email: string | null; phone: string | null; timezone: string | null };

/** The customer record of one participant, read by id alone: the caller has proven its right to it. */
export async function findCustomerRecord(db: D1Database, participantId: string): Promise<CustomerRecord | null> {
  return db.prepare("SELECT name, email, phone, timezone FROM participants WHERE id = ?").bind(participantId).first<CustomerRecord>();
}

/** Customer records of many participants by id, in one statement (a page of a list; at most 100 ids). */
export async function findCustomersByIds(db: D1Database, ids: string[]): Promise<Map<string, CustomerRecord>> {
  if (ids.length === 0) return new Map();
  const { results } = await db
    .prepare(`SELECT id, name, email, phone, timezone FROM participants WHERE id IN (${ids.map(() => "?").join(", ")})`)
    .bind(...ids)
    .all<CustomerRecord & { id: string }>();
  return new Map(results.map(({ id, ...customer }) => [id, customer]));
}

/** A participant with its chatbot's data schema, for a data write; null where it is not this team's. */
export async function findParticipantForWrite(
  db: D1Database,
  teamId: string,
  participantId: string,
): Promise<{ row: ParticipantRow; schema: string | null } | null> {
  const found = await db
    .prepare(
      `SELECT ${participantColumns("p")}, c.participant_data_schema AS schema
       FROM participants p JOIN chatbots c ON c.id = p.chatbot_id
       WHERE p.id = ? AND p.team_id = ?`,
    )
    .bind(participantId, teamId)
    .first<ParticipantRow & { schema: string | null }>();
  if (!found) return null;
  const { schema, ...row } = found;
  return { row, schema };
}

/**
 * A chatbot of this team with its data schema and, where it exists, the participant
 * (chatbot, channel, identifier): the webhook upsert's read. Null where the chatbot is
 * not this team's.
 */
export async function findParticipantByNaturalKeyForWrite(
  db: D1Database,
  teamId: string,
  key: { chatbotId: string; channel: string; identifier: string },
): Promise<{ chatbotId: string; schema: string | null; row: ParticipantRow | null } | null> {
  const found = await db
    .prepare(
      `SELECT c.id AS bot_id, c.participant_data_schema AS schema, ${participantColumns("p")}
       FROM chatbots c LEFT JOIN participants p ON p.chatbot_id = c.id AND p.channel = ? AND p.identifier = ?
       WHERE c.id = ? AND c.team_id = ?`,
    )
    .bind(key.channel, key.identifier, key.chatbotId, teamId)
    .first<ParticipantRow & { bot_id: string; schema: string | null }>();
  if (!found) return null;
  const { bot_id, schema, ...row } = found;
  return { chatbotId: bot_id, schema, row: row.id ? row : null };
}

/**
 * The participants of a chatbot among these (channel, identifier) pairs, in one statement.
 * CROSS JOIN makes SQLite loop over the pairs outside: each pair is one probe of the unique
 * index (chatbot_id, channel, identifier). With a plain JOIN the planner scanned the
 * chatbot's participants once per pair, so rows read grew with the chatbot times the file.
 */
export async function findParticipantsByNaturalKeys(
  db: D1Database,
  chatbotId: string,
  pairs: [string, string][],
  cost?: Cost,
): Promise<ParticipantRow[]> {
  const result = await db
    .prepare(
      `SELECT ${participantColumns("p")} FROM json_each(?) j CROSS JOIN participants p
       ON p.chatbot_id = ? AND p.channel = json_extract(j.value, '$[0]') AND p.identifier = json_extract(j.value, '$[1]')`,
    )
    .bind(JSON.stringify(pairs), chatbotId)
    .run<ParticipantRow>();
  tallyD1(cost, result);
  return result.results;
}

/**
 * Every top-level key of a chatbot's participant data, sorted: the CSV export's columns. One
 * statement per page of participants (in id order, by `participants_by_chatbot`), so no
 * statement grows with the chatbot: D1 runs one statement at a time for every caller.
 */
export async function listDataKeys(db: D1Database, chatbotId: string): Promise<string[]> {
  const page = 1_000;
  const keys = new Set<string>();
  for (let cursor = ""; ; ) {
    // One row tells the page's size and last id, the others its distinct keys (rows, not one
    // aggregated value, which D1 would refuse past its value size limit).
    const { results } = await db
      .prepare(
        `WITH page AS MATERIALIZED (SELECT id, data FROM participants WHERE chatbot_id = ? AND id > ? ORDER BY id LIMIT ?)
         SELECT NULL AS key, count(*) AS n, max(id) AS last FROM page
         UNION ALL SELECT DISTINCT j.key, NULL, NULL FROM page, json_each(page.data) j`,
      )
      .bind(chatbotId, cursor, page)
      .run<{ key: string | null; n: number | null; last: string | null }>();
    const head = results.find((row) => row.n !== null)!;
    for (const row of results) if (typeof row.key === "string") keys.add(row.key);
    if (head.n! < page || head.last === null) break;
    cursor = head.last;
  }
  // By code point, as SQLite's BINARY collation orders text (UTF-16 order differs past U+FFFF).
  const codePoints = (key: string) => Array.from(key, (char) => char.codePointAt(0)!);
  const ordered = [...keys].map((key) => [key, codePoints(key)] as const);
  ordered.sort(([, a], [, b]) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  });
  return ordered.map(([key]) => key);
}

type ExportRow = { id: string; identifier: string; channel: string; name: string | null; data: string };

/** A page of a chatbot's participants after `cursor`, in id order. */
export async function listExportPage(db: D1Database, chatbotId: string, cursor: string, limit: number): Promise<ExportRow[]> {
  const { results } = await db
    .prepare("SELECT id, identifier, channel, name, data FROM participants WHERE chatbot_id = ? AND id > ? ORDER BY id LIMIT ?")
    .bind(chatbotId, cursor, limit)
    .run<ExportRow>();
  return results;
}

export type RenderHead = { version: number; name: string | null; timezone: string | null };

/** What a render's cache key needs: one small row. */
export async function findRenderHead(db: D1Database, teamId: string, participantId: string, cost: Cost): Promise<RenderHead | null> {
  const result = await db
    .prepare("SELECT version, name, timezone FROM participants WHERE id = ? AND team_id = ?")
    .bind(participantId, teamId)
    .run<RenderHead>();
  tallyD1(cost, result);
  return result.results[0] ?? null;
}

/** What a render needs on a cache miss: the head and the data. */
export async function findRenderSource(
  db: D1Database,
  teamId: string,
  participantId: string,
  cost: Cost,
): Promise<(RenderHead & { data: string }) | null> {
  const result = await db
    .prepare("SELECT data, version, name, timezone FROM participants WHERE id = ? AND team_id = ?")
    .bind(participantId, teamId)
    .run<RenderHead & { data: string }>();
  tallyD1(cost, result);
  return result.results[0] ?? null;
}

// ---- writes --------------------------------------------------------------------

/**
 * Inserts a participant unless (chatbot, channel, identifier) exists: `meta.changes`
 * is 0 where it did. `writeId` ties an idempotency record to this exact write.
 */
export function insertParticipant(db: D1Database, row: ParticipantRow, writeId: string | null = null): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO participants (${participantColumns("", COLUMNS)}, write_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (chatbot_id, channel, identifier) DO NOTHING`,
    )
    .bind(
      row.id,
      row.team_id,
      row.chatbot_id,
      row.channel,
      row.identifier,
      row.name,
      row.email,
      row.phone,
      row.timezone,
      row.data,
      row.version,
      row.created_at,
      row.updated_at,
      writeId,
    );
}

/**
 * The web widget's participant (chatbot, `web`, identifier), created where missing;
 * customer fields it brings fill in, and never blank, what is stored. A verified one
 * (its identifier is an identity token's subject) is marked so for good. Returns its id,
 * and `created` 1 where this statement made it (only then are both its times now).
 */
export function upsertWebParticipant(
  db: D1Database,
  input: { id: string; teamId: string; chatbotId: string; identifier: string; verified: boolean; customer: CustomerRecord; now: string },
): D1PreparedStatement {
  const { customer } = input;
  return db
    .prepare(
      `INSERT INTO participants (id, team_id, chatbot_id, channel, identifier, name, email, phone, timezone, verified, created_at, updated_at)
       VALUES (?1, ?2, ?3, 'web', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
       ON CONFLICT (chatbot_id, channel, identifier) DO UPDATE SET
         name = coalesce(excluded.name, name), email = coalesce(excluded.email, email),
         phone = coalesce(excluded.phone, phone), timezone = coalesce(excluded.timezone, timezone),
         verified = max(verified, excluded.verified), updated_at = excluded.updated_at
       RETURNING id, created_at = updated_at AS created`,
    )
    .bind(
      input.id,
      input.teamId,
      input.chatbotId,
      input.identifier,
      customer.name,
      customer.email,
      customer.phone,
      customer.timezone,
      input.verified ? 1 : 0,
      input.now,
    );
}

/**
 * Replaces a participant's data where its version is still `expectedVersion` (a lost
 * race changes nothing: `meta.changes` is 0). `name`, where given, is written too;
 * `bumpVersion: false` keeps the version where only the name changes.
 */
export function updateParticipantData(
  db: D1Database,
  input: { id: string; expectedVersion: number; data: string; now: string; writeId: string; name?: string | null; bumpVersion?: boolean },
): D1PreparedStatement {
  const bump = input.bumpVersion === false ? 0 : 1;
  if (input.name === undefined) {
    return db
      .prepare("UPDATE participants SET data = ?, version = version + ?, updated_at = ?, write_id = ? WHERE id = ? AND version = ?")
      .bind(input.data, bump, input.now, input.writeId, input.id, input.expectedVersion);
  }
  return db
    .prepare("UPDATE participants SET data = ?, name = ?, version = version + ?, updated_at = ?, write_id = ? WHERE id = ? AND version = ?")
    .bind(input.data, input.name, bump, input.now, input.writeId, input.id, input.expectedVersion);
}

type CustomerFields = Partial<CustomerRecord>;

/**
 * Writes only the given customer fields, so fields set elsewhere are not overwritten
 * with stale ones. They are not participant data, so `version` (the data version and
 * ETag) does not move; renders key on name and timezone themselves. With `teamId`, a
 * participant of another team is left alone (`meta.changes` is 0).
 */
export function updateCustomerFields(
  db: D1Database,
  target: { participantId: string; teamId?: string },
  fields: CustomerFields,
  now: string,
): D1PreparedStatement {
  const columns = (Object.keys(fields) as (keyof CustomerFields)[]).filter((column) => fields[column] !== undefined);
  const set = [...columns.map((column) => `${column} = ?`), "updated_at = ?"].join(", ");
  const values = [...columns.map((column) => fields[column] ?? null), now, target.participantId];
  return target.teamId === undefined
    ? db.prepare(`UPDATE participants SET ${set} WHERE id = ?`).bind(...values)
    : db.prepare(`UPDATE participants SET ${set} WHERE id = ? AND team_id = ?`).bind(...values, target.teamId);
}

/** The idempotency record's guard: true in SQL where this participant's last write is `writeId`. */
export const LAST_WRITE_GUARD = "EXISTS (SELECT 1 FROM participants WHERE id = ? AND write_id = ?)";
