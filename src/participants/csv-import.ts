/**
 * Applying a CSV import: rows grouped per participant and folded in file order, each
 * resulting write checked (size, schema) before anything is written, then written in
 * batches; a participant changed by someone else meanwhile goes through the single
 * write path, which retries races.
 */
import type { Chatbot } from "../chatbots/storage";
import { newId } from "../shared/ids";
import { ProblemError } from "../shared/problem";
import type { ImportRow, RowError } from "./csv-format";
import { validateData } from "./data-schema";
import { writeParticipantData } from "./data-writes";
import { copyObject, type JsonObject, type JsonValue, jsonEqual, serializeData, setOwn } from "./json-data";
import {
  findParticipantsByNaturalKeys,
  insertParticipant,
  type ParticipantRow,
  updateCustomerFields,
  updateParticipantData,
} from "./storage";

const LOOKUP_CHUNK = 200;
const BATCH_CHUNK = 50;

type ImportReport = { created: number; updated: number; unchanged: number; errors: RowError[] };

type Plan = { key: string; rows: ImportRow[]; statement: D1PreparedStatement; created: boolean };

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

async function findExisting(db: D1Database, chatbotId: string, keys: string[]): Promise<Map<string, ParticipantRow>> {
  const existing = new Map<string, ParticipantRow>();
  for (let start = 0; start < keys.length; start += LOOKUP_CHUNK) {
    const pairs = keys.slice(start, start + LOOKUP_CHUNK).map((key) => JSON.parse(key) as [string, string]);
    for (const row of await findParticipantsByNaturalKeys(db, chatbotId, pairs)) existing.set(naturalKey(row.channel, row.identifier), row);
  }
  return existing;
}

export async function importParticipants(
  db: D1Database,
  teamId: string,
  chatbot: Chatbot,
  file: { rows: ImportRow[]; errors: RowError[] },
  now: string,
): Promise<ImportReport> {
  const errors = [...file.errors];
  const groups = new Map<string, ImportRow[]>();
  for (const row of file.rows) {
    const key = naturalKey(row.channel, row.identifier);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const schema = chatbot.participant_data_schema ? JSON.stringify(chatbot.participant_data_schema) : null;
  const existing = await findExisting(db, chatbot.id, [...groups.keys()]);

  // Fold each participant's rows in file order; a refused row is reported and skipped.
  const plans: Plan[] = [];
  let unchanged = 0;
  for (const [key, rows] of groups) {
    const row = existing.get(key);
    const original = row ? (JSON.parse(row.data) as JsonObject) : {};
    let data = original;
    let name = row?.name ?? null;
    const applied: ImportRow[] = [];
    for (const importRow of rows) {
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
      : insertParticipant(db, {
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
        });
    plans.push({ key, rows: applied, statement, created: !row });
  }

  let created = 0;
  let updated = 0;
  const raced: Plan[] = [];
  for (let start = 0; start < plans.length; start += BATCH_CHUNK) {
    const chunk = plans.slice(start, start + BATCH_CHUNK);
    const results = await db.batch(chunk.map((plan) => plan.statement));
    chunk.forEach((plan, index) => {
      if ((results[index]!.meta.changes ?? 0) === 0) raced.push(plan);
      else if (plan.created) created++;
      else updated++;
    });
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
