import { newId } from "../shared/ids";
import { notFound, problem } from "../shared/problem";
import { type DomainEvent, participantEvent } from "../webhooks/events";
import { assertMatchesSchema } from "./data-schema";
import type { IdempotencyRequest, StoredResponse } from "./idempotency";
import { deleteExpiredKey, findRecordedResponse, isIdempotencyConflict, recordResponse } from "./idempotency-storage";
import { checkIfMatch, type IfMatch } from "./if-match";
import { type JsonObject, jsonEqual, serializeData } from "./json-data";
import {
  findParticipantByNaturalKeyForWrite,
  findParticipantForWrite,
  insertParticipant,
  type Participant,
  type ParticipantRow,
  presentParticipant,
  updateParticipantData,
} from "./storage";

export type WriteTarget = { participantId: string } | { chatbotId: string; channel: string; identifier: string; createIfMissing: true };

export type WriteOutcome = { participant: Participant; created: boolean; changed: boolean };

type DataWrite = {
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

/**
 * `events` are what the write did (`participant.created`, `participant.data.updated`), for
 * the caller to publish; none for a replay or a write that changed nothing.
 */
export type DataWriteResult = StoredResponse & { replayed: boolean; events: DomainEvent[] };

/** What a participant write tells the webhooks: a new participant, or changed data; else nothing. */
export function participantWriteEvents(teamId: string, outcome: WriteOutcome): DomainEvent[] {
  if (!outcome.changed) return [];
  return [participantEvent(outcome.created ? "participant.created" : "participant.data.updated", teamId, outcome.participant)];
}

type Loaded = { chatbotId: string; schema: string | null; row: ParticipantRow | null };

// D1 has no interactive transactions, so every write is one conditional statement
// (`... WHERE version = ?`) computed from a read; a lost race reads again and retries.
// Each attempt re-validates, so what is written always matches the schema.
const MAX_ATTEMPTS = 60;

async function load(db: D1Database, teamId: string, target: WriteTarget): Promise<Loaded> {
  if ("participantId" in target) {
    const found = await findParticipantForWrite(db, teamId, target.participantId);
    if (!found) throw notFound("No participant with that id.");
    return { chatbotId: found.row.chatbot_id, schema: found.schema, row: found.row };
  }
  const found = await findParticipantByNaturalKeyForWrite(db, teamId, target);
  if (!found) throw notFound("No chatbot with that id.");
  return found;
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
    if (recorded) return { ...recorded, replayed: true, events: [] };
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
      statement = updateParticipantData(db, { id: row.id, expectedVersion: row.version, data: text, now: nowIso, writeId });
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
      statement = insertParticipant(db, created, writeId);
    }
    const response = write.respond(outcome);

    if (!idempotency) {
      if (!statement) return { ...response, replayed: false, events: [] };
      const result = await statement.run();
      if ((result.meta.changes ?? 0) > 0) return { ...response, replayed: false, events: participantWriteEvents(write.teamId, outcome) };
      continue; // lost the race: read again
    }

    const batch = [deleteExpiredKey(db, idempotency, nowIso)];
    if (statement) batch.push(statement);
    batch.push(recordResponse(db, idempotency, response, now, statement ? { participantId: outcome.participant.id, writeId } : undefined));
    try {
      const results = await db.batch(batch);
      if (!statement || (results[1]!.meta.changes ?? 0) > 0)
        return { ...response, replayed: false, events: participantWriteEvents(write.teamId, outcome) };
    } catch (error) {
      // The same key committed first (a concurrent duplicate): the batch rolled back, replay it.
      if (!isIdempotencyConflict(error)) throw error;
      const recorded = await findRecordedResponse(db, idempotency, nowIso);
      if (recorded) return { ...recorded, replayed: true, events: [] };
    }
  }
  throw problem(
    "write-contention",
    "The participant's data is being changed by many writers at once and this write kept losing the race. Nothing was written; retry.",
    {},
    { "Retry-After": "1" },
  );
}
