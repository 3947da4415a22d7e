import { tallyD1, type StorageCost } from "./cost";
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
};

export type Participant = Omit<ParticipantRow, "data" | "team_id"> & { data: JsonObject };

/** Columns of the public representation plus team_id, qualified by `alias`. */
export function participantColumns(alias = ""): string {
  const prefix = alias ? `${alias}.` : "";
  return ["id", "team_id", "chatbot_id", "channel", "identifier", "name", "email", "phone", "timezone", "data", "version", "created_at", "updated_at"]
    .map((column) => prefix + column)
    .join(", ");
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
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** A participant of this team, or null: another team's participant is as absent as a missing one. */
export async function findTeamParticipant(db: D1Database, teamId: string, id: string, cost?: StorageCost): Promise<ParticipantRow | null> {
  const result = await db
    .prepare(`SELECT ${participantColumns()} FROM participants WHERE id = ? AND team_id = ?`)
    .bind(id, teamId)
    .run<ParticipantRow>();
  tallyD1(cost, result);
  return result.results[0] ?? null;
}

export async function findParticipantIdByNaturalKey(db: D1Database, chatbotId: string, channel: string, identifier: string): Promise<string | null> {
  const row = await db
    .prepare("SELECT id FROM participants WHERE chatbot_id = ? AND channel = ? AND identifier = ?")
    .bind(chatbotId, channel, identifier)
    .first<{ id: string }>();
  return row?.id ?? null;
}

/** Inserts unless (chatbot, channel, identifier) exists; false where it did. */
export async function insertParticipant(db: D1Database, row: ParticipantRow): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO participants (id, team_id, chatbot_id, channel, identifier, name, email, phone, timezone, data, version, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (chatbot_id, channel, identifier) DO NOTHING`,
    )
    .bind(row.id, row.team_id, row.chatbot_id, row.channel, row.identifier, row.name, row.email, row.phone, row.timezone, row.data, row.version, row.created_at, row.updated_at)
    .run();
  return (result.meta.changes ?? 0) > 0;
}

export type ListFilter = { teamId: string; chatbotId?: string; channel?: string; identifier?: string; cursor?: string; limit: number };

/** One page in creation order (ids are time-ordered); `next_cursor` is the last id where more follow. */
export async function listParticipants(db: D1Database, filter: ListFilter): Promise<{ rows: ParticipantRow[]; nextCursor: string | null }> {
  const where = ["team_id = ?"];
  const params: unknown[] = [filter.teamId];
  for (const [column, value] of [["chatbot_id", filter.chatbotId], ["channel", filter.channel], ["identifier", filter.identifier]] as const) {
    if (value !== undefined) {
      where.push(`${column} = ?`);
      params.push(value);
    }
  }
  if (filter.cursor) {
    where.push("id > ?");
    params.push(filter.cursor);
  }
  const { results } = await db
    .prepare(`SELECT ${participantColumns()} FROM participants WHERE ${where.join(" AND ")} ORDER BY id LIMIT ?`)
    .bind(...params, filter.limit + 1)
    .run<ParticipantRow>();
  const more = results.length > filter.limit;
  const rows = more ? results.slice(0, filter.limit) : results;
  return { rows, nextCursor: more ? rows.at(-1)!.id : null };
}

export type CustomerFields = Partial<Record<"name" | "email" | "phone" | "timezone", string | null>>;

/**
 * Writes customer fields. They are not participant data, so `version` (the data
 * version and ETag) does not move; renders key on name and timezone themselves.
 */
export async function updateCustomerFields(db: D1Database, teamId: string, id: string, fields: CustomerFields, now: string): Promise<boolean> {
  const columns = Object.keys(fields) as (keyof CustomerFields)[];
  if (columns.length === 0) return true;
  const result = await db
    .prepare(`UPDATE participants SET ${columns.map((column) => `${column} = ?`).join(", ")}, updated_at = ? WHERE id = ? AND team_id = ?`)
    .bind(...columns.map((column) => fields[column] ?? null), now, id, teamId)
    .run();
  return (result.meta.changes ?? 0) > 0;
}

export type CustomerRecord = { name: string | null; email: string | null; phone: string | null; timezone: string | null };

/** The customer record of one participant, read by id alone: the caller has proven its right to it. */
export async function findCustomerRecord(db: D1Database, participantId: string): Promise<CustomerRecord | null> {
  return db.prepare("SELECT name, email, phone, timezone FROM participants WHERE id = ?").bind(participantId).first<CustomerRecord>();
}
