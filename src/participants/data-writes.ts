import { newId } from "../shared/ids";
import { notFound, problem } from "../shared/problem";
import { assertMatchesSchema } from "./data-schema";
import { checkIfMatch, type IfMatch } from "./if-match";
import {
  deleteExpiredKey,
  findRecordedResponse,
  isIdempotencyConflict,
  recordResponse,
  type IdempotencyRequest,
  type StoredResponse,
} from "./idempotency";
import { jsonEqual, serializeData, type JsonObject } from "./json-data";
import { participantColumns, presentParticipant, type Participant, type ParticipantRow } from "./storage";

export type WriteTarget = { participantId: string } | { chatbotId: string; channel: string; identifier: string; createIfMissing: true };

export type WriteOutcome = { participant: Participant; created: boolean; changed: boolean };

export type DataWrite = {
  db: D1Database;
  teamId: string;
  target: WriteTarget;
  /** The new data from the current data. Runs again on every retry; may throw a problem. */
  mutate: (current: JsonObject) => JsonObject;
  ifMatch?: IfMatch;
  idempotency?: IdempotencyRequest | null;
  /** The response to send (and to record for replays). */
  respond: (outcome: WriteOutcome) => StoredResponse;
};

export type DataWriteResult = StoredResponse & { replayed: boolean };

type Loaded = { chatbotId: string; schema: string | null; row: ParticipantRow | null };

// D1 has no interactive transactions, so every write is one conditional statement
// (`... WHERE version = ?`) computed from a read; a lost race reads again and retries.
// Each attempt re-validates, so what is written always matches the schema.
const MAX_ATTEMPTS = 60;

async function load(db: D1Database, teamId: string, target: WriteTarget): Promise<Loaded> {
  if ("participantId" in target) {
    const row = await db
      .prepare(
        `SELECT ${participantColumns("p")}, c.participant_data_schema AS schema
         FROM participants p JOIN chatbots c ON c.id = p.chatbot_id
         WHERE p.id = ? AND p.team_id = ?`,
      )
      .bind(target.participantId, teamId)
      .first<ParticipantRow & { schema: string | null }>();
    if (!row) throw notFound("No participant with that id.");
    const { schema, ...participant } = row;
    return { chatbotId: row.chatbot_id, schema, row: participant };
  }
  const row = await db
    .prepare(
      `SELECT c.id AS bot_id, c.participant_data_schema AS schema, ${participantColumns("p")}
       FROM chatbots c LEFT JOIN participants p ON p.chatbot_id = c.id AND p.channel = ? AND p.identifier = ?
       WHERE c.id = ? AND c.team_id = ?`,
    )
    .bind(target.channel, target.identifier, target.chatbotId, teamId)
    .first<ParticipantRow & { bot_id: string; schema: string | null }>();
  if (!row) throw notFound("No chatbot with that id.");
  const { bot_id, schema, ...participant } = row;
  return { chatbotId: bot_id, schema, row: participant.id ? participant : null };
}

const pause = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 40)));

/**
 * Applies `mutate` to a participant's data atomically: validated against the chatbot's
 * schema and the size limit, guarded by If-Match, recorded under an Idempotency-Key in
 * the same D1 batch as the write. Nothing is written where any check fails.
 */
export async function writeParticipantData(write: DataWrite): Promise<DataWriteResult> {
  const { db, idempotency } = write;
  if (idempotency) {
    const recorded = await findRecordedResponse(db, idempotency, new Date().toISOString());
    if (recorded) return { ...recorded, replayed: true };
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await pause(attempt);
    const { chatbotId, schema, row } = await load(db, write.teamId, write.target);
    checkIfMatch(write.ifMatch ?? null, row ? row.version : null);
    const current = row ? (JSON.parse(row.data) as JsonObject) : {};
    const next = write.mutate(current);
    const text = serializeData(next);
    assertMatchesSchema(schema, next);

    const now = new Date();
    const nowIso = now.toISOString();
    const writeId = newId("wr");
    let outcome: WriteOutcome;
    let statement: D1PreparedStatement | null;
    if (row && jsonEqual(current, next)) {
      // Nothing changes: no write, no new version.
      outcome = { participant: presentParticipant(row), created: false, changed: false };
      statement = null;
    } else if (row) {
      outcome = {
        participant: presentParticipant({ ...row, data: text, version: row.version + 1, updated_at: nowIso }),
        created: false,
        changed: true,
      };
      statement = db
        .prepare("UPDATE participants SET data = ?, version = version + 1, updated_at = ?, write_id = ? WHERE id = ? AND version = ?")
        .bind(text, nowIso, writeId, row.id, row.version);
    } else {
      const target = write.target as Extract<WriteTarget, { createIfMissing: true }>;
      const created: ParticipantRow = {
        id: newId("part"),
        team_id: write.teamId,
        chatbot_id: chatbotId,
        channel: target.channel,
        identifier: target.identifier,
        name: null,
        email: null,
        phone: null,
        timezone: null,
        data: text,
        version: 1,
        created_at: nowIso,
        updated_at: nowIso,
      };
      outcome = { participant: presentParticipant(created), created: true, changed: true };
      statement = db
        .prepare(
          `INSERT INTO participants (id, team_id, chatbot_id, channel, identifier, data, version, created_at, updated_at, write_id)
           VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (chatbot_id, channel, identifier) DO NOTHING`,
        )
        .bind(created.id, created.team_id, chatbotId, created.channel, created.identifier, text, nowIso, nowIso, writeId);
    }
    const response = write.respond(outcome);

    if (!idempotency) {
      if (!statement) return { ...response, replayed: false };
      const result = await statement.run();
      if ((result.meta.changes ?? 0) > 0) return { ...response, replayed: false };
      continue; // lost the race: read again
    }

    const batch = [deleteExpiredKey(db, idempotency, nowIso)];
    if (statement) batch.push(statement);
    batch.push(
      recordResponse(db, idempotency, response, now, statement ? { participantId: outcome.participant.id, writeId } : undefined),
    );
    try {
      const results = await db.batch(batch);
      if (!statement || (results[1]!.meta.changes ?? 0) > 0) return { ...response, replayed: false };
      continue;
    } catch (error) {
      // The same key committed first (a concurrent duplicate): the batch rolled back, replay it.
      if (!isIdempotencyConflict(error)) throw error;
      const recorded = await findRecordedResponse(db, idempotency, nowIso);
      if (recorded) return { ...recorded, replayed: true };
    }
  }
  const busy = problem(
    "write-contention",
    503,
    "The participant's data is being changed by many writers at once and this write kept losing the race. Nothing was written; retry.",
  );
  busy.headers["Retry-After"] = "1";
  throw busy;
}
