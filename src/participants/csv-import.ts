/**
 * Applying a CSV import: rows grouped per participant; 500 participants at a time looked
 * up, their rows folded in file order (each row's resulting data checked for size and
 * schema, a refused row skipped) and written in batches; a participant changed by someone
 * else meanwhile goes through the single write path, which retries races. Every batch's
 * `participant.created` and `participant.data.updated` events go to `publish` once the batch
 * is written, as the other writers' do.
 */
import type { Chatbot } from "../chatbots/storage";
import { type Cost, tallyD1 } from "../shared/cost";
import { newId } from "../shared/ids";
import { ProblemError } from "../shared/problem";
import type { DomainEvent } from "../webhooks/events";
import { type ImportRow, type RowError, YIELD_EVERY_ROWS, yieldToOtherRequests } from "./csv-format";
import { validateData } from "./data-schema";
import { participantWriteEvents, writeParticipantData } from "./data-writes";
import { copyObject, type JsonObject, type JsonValue, jsonEqual, serializeData, setOwn } from "./json-data";
import {
  findParticipantsByNaturalKeys,
  insertParticipant,
  type ParticipantRow,
  presentParticipant,
  updateCustomerFields,
  updateParticipantData,
} from "./storage";

// Keys per lookup: one JSON parameter, at most about 530 KB at the identifier cap (255
// characters of up to 4 bytes), under D1's 1 MB value limit; 20 lookups at 10,000 rows.
const LOOKUP_CHUNK = 500;
const BATCH_CHUNK = 50;

type ImportReport = { created: number; updated: number; unchanged: number; errors: RowError[] };

/** One participant's write: its rows, its statement, and the row as the statement writes it. */
type Plan = {
  key: string;
  rows: ImportRow[];
  statement: D1PreparedStatement;
  created: boolean;
  dataChanged: boolean;
  written: ParticipantRow;
};

/**
 * Hands a written batch's events to the webhooks; `make` is called only where the team may
 * have a webhook, so an import for a team without one builds no events.
 */
export type EventSink = (make: () => DomainEvent[]) => Promise<void>;

/** What the written plans tell the webhooks, by the rule of every participant write (a name alone is no event). */
function eventsOf(teamId: string, plans: Plan[]): DomainEvent[] {
  return plans.flatMap((plan) => {
    const changed = plan.created || plan.dataChanged;
    // Presented (its data parsed) only where there is an event to carry it.
    return changed ? participantWriteEvents(teamId, { created: plan.created, changed, participant: presentParticipant(plan.written) }) : [];
  });
}

const naturalKey = (channel: string, identifier: string) => JSON.stringify([channel, identifier]);

function applyPatch(data: JsonObject, patch: [string, JsonValue][]): JsonObject {
  const next = copyObject(data);
  for (const [key, value] of patch) setOwn(next, key, value);
  return next;
}

/** Why a row's resulting data is refused (schema or size), or null. */
function refusal(schema: string | null, data: JsonObject): string | null {
  try {
    serializeData(data);
  } catch (error) {
    return (error as ProblemError).problem.detail;
  }
  const errors = validateData(schema, data);
  return errors.length ? `participant_data_schema: ${errors.map((e) => `${e.pointer || "(root)"} ${e.message}`).join("; ")}` : null;
}

/** The existing participants among these keys: one statement, one index probe per key. */
async function findExisting(db: D1Database, chatbotId: string, keys: string[], cost: Cost): Promise<Map<string, ParticipantRow>> {
  const pairs = keys.map((key) => JSON.parse(key) as [string, string]);
  const existing = new Map<string, ParticipantRow>();
  for (const row of await findParticipantsByNaturalKeys(db, chatbotId, pairs, cost))
    existing.set(naturalKey(row.channel, row.identifier), row);
  return existing;
}

export async function importParticipants(
  db: D1Database,
  teamId: string,
  chatbot: Chatbot,
  file: { rows: ImportRow[]; errors: RowError[] },
  now: string,
  cost: Cost,
  publish: EventSink,
): Promise<ImportReport> {
  const errors = [...file.errors];
  const groups = new Map<string, ImportRow[]>();
  for (const row of file.rows) {
    const key = naturalKey(row.channel, row.identifier);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  const schema = chatbot.participant_data_schema ? JSON.stringify(chatbot.participant_data_schema) : null;
  const keys = [...groups.keys()];

  let created = 0;
  let updated = 0;
  let unchanged = 0;
  const raced: Plan[] = [];
  let folded = 0;
  // Chunk by chunk: look up, fold, write. The CPU work comes in slices between D1 calls, so
  // other requests of this isolate are served while a large file is imported.
  for (let start = 0; start < keys.length; start += LOOKUP_CHUNK) {
    const chunk = keys.slice(start, start + LOOKUP_CHUNK);
    await yieldToOtherRequests();
    const existing = await findExisting(db, chatbot.id, chunk, cost);

    // Fold each participant's rows in file order; a refused row is reported and skipped.
    const plans: Plan[] = [];
    for (const key of chunk) {
      const rows = groups.get(key)!;
      const row = existing.get(key);
      const original = row ? (JSON.parse(row.data) as JsonObject) : {};
      let data = original;
      let name = row?.name ?? null;
      const applied: ImportRow[] = [];
      for (const importRow of rows) {
        // Each row is checked against the whole data (up to 64 KiB): many rows for one
        // participant are CPU work of their own.
        if (++folded % YIELD_EVERY_ROWS === 0) await yieldToOtherRequests();
        const next = applyPatch(data, importRow.patch);
        const refused = refusal(schema, next);
        if (refused) {
          errors.push({ row: importRow.row, message: refused });
          continue;
        }
        data = next;
        if (importRow.name !== null) name = importRow.name;
        applied.push(importRow);
      }
      if (applied.length === 0) continue;
      const dataChanged = !jsonEqual(original, data);
      if (row && !dataChanged && name === row.name) {
        unchanged++;
        continue;
      }
      const [channel, identifier] = JSON.parse(key) as [string, string];
      const text = JSON.stringify(data);
      const written: ParticipantRow = row
        ? { ...row, data: text, name, version: row.version + (dataChanged ? 1 : 0), updated_at: now }
        : {
            id: newId("part"),
            team_id: teamId,
            chatbot_id: chatbot.id,
            channel,
            identifier,
            name,
            email: null,
            phone: null,
            timezone: null,
            data: text,
            version: 1,
            created_at: now,
            updated_at: now,
          };
      const statement = row
        ? updateParticipantData(db, {
            id: row.id,
            expectedVersion: row.version,
            data: text,
            name,
            bumpVersion: dataChanged,
            now,
            writeId: newId("wr"),
          })
        : insertParticipant(db, written);
      plans.push({ key, rows: applied, statement, created: !row, dataChanged, written });
    }

    for (let at = 0; at < plans.length; at += BATCH_CHUNK) {
      const batch = plans.slice(at, at + BATCH_CHUNK);
      await yieldToOtherRequests();
      const results = await db.batch(batch.map((plan) => plan.statement));
      for (const result of results) tallyD1(cost, result);
      const landed: Plan[] = [];
      batch.forEach((plan, index) => {
        if ((results[index]!.meta.changes ?? 0) === 0) {
          raced.push(plan);
          return;
        }
        landed.push(plan);
        if (plan.created) created++;
        else updated++;
      });
      await publish(() => eventsOf(teamId, landed));
    }
  }

  // A participant changed (or was created) by someone else since it was read: apply
  // its rows again one by one through the single-write path, which retries races.
  for (const plan of raced) {
    const [channel, identifier] = JSON.parse(plan.key) as [string, string];
    let touched: "created" | "updated" | null = null;
    for (const importRow of plan.rows) {
      try {
        const result = await writeParticipantData({
          db,
          teamId,
          target: { chatbotId: chatbot.id, channel, identifier, createIfMissing: true },
          mutate: (current) => applyPatch(current, importRow.patch),
          respond: (outcome) => ({ status: outcome.created ? 201 : 200, body: { id: outcome.participant.id } }),
        });
        await publish(() => result.events);
        touched ??= result.status === 201 ? "created" : "updated";
        if (importRow.name !== null) {
          await updateCustomerFields(db, { participantId: String(result.body.id), teamId }, { name: importRow.name }, now).run();
        }
      } catch (error) {
        if (!(error instanceof ProblemError)) throw error;
        errors.push({ row: importRow.row, message: error.problem.detail });
      }
    }
    if (touched === "created") created++;
    else if (touched === "updated") updated++;
  }

  errors.sort((a, b) => a.row - b.row);
  return { created, updated, unchanged, errors };
}
