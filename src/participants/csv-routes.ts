import { Hono } from "hono";
import Papa from "papaparse";
import type { ApiVariables } from "../shared/auth";
import { limitBody } from "../shared/json-body";
import { badRequest, problem, ProblemError } from "../shared/problem";
import { nowIso } from "../shared/time";
import { newId } from "../shared/ids";
import { validateData } from "./data-schema";
import { writeParticipantData } from "./data-writes";
import { Channel, Identifier, Name } from "./fields";
import { copyObject, jsonEqual, serializeData, setOwn, type JsonObject, type JsonValue } from "./json-data";
import { CSV_IMPORT_MAX_BYTES, CSV_IMPORT_MAX_ROWS } from "./limits";
import { requireTeamChatbot } from "./record-routes";
import { participantColumns, updateCustomerFields, type ParticipantRow } from "./storage";
import { decodeDataCell, encodeDataValue, protectCell, unprotectCell } from "./csv-cells";

/** GET /export and POST /import of a chatbot's participants as CSV. */
export const csvRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();

const EXPORT_PAGE = 500;
const LOOKUP_CHUNK = 200;
const BATCH_CHUNK = 50;
// Excel reads UTF-8 only with a byte order mark; the importer strips it again.
const BOM = "\uFEFF";

function chatbotIdParam(value: string | undefined): string {
  if (!value) throw badRequest("The chatbot_id query parameter is required.", [{ pointer: "/chatbot_id", message: "is required" }]);
  return value;
}

csvRoutes.get("/export", async (c) => {
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, chatbotIdParam(c.req.query("chatbot_id")));
  const db = c.env.DB;
  const { results: keyRows } = await db
    .prepare("SELECT DISTINCT j.key AS key FROM participants p, json_each(p.data) j WHERE p.chatbot_id = ? ORDER BY j.key")
    .bind(chatbot.id)
    .run<{ key: string }>();
  const keys = keyRows.map((row) => row.key);
  const header = ["identifier", "channel", "name", ...keys.map((key) => `data.${key}`)].map(protectCell);
  const unparse = (rows: string[][]) => Papa.unparse(rows, { newline: "\r\n" });

  // Pages are read as the stream is consumed, so a large export never sits in memory.
  let cursor = "";
  let done = false;
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(BOM + unparse([header]) + "\r\n"));
    },
    async pull(controller) {
      if (done) return controller.close();
      const { results } = await db
        .prepare(`SELECT identifier, channel, name, data, id FROM participants WHERE chatbot_id = ? AND id > ? ORDER BY id LIMIT ?`)
        .bind(chatbot.id, cursor, EXPORT_PAGE)
        .run<{ identifier: string; channel: string; name: string | null; data: string; id: string }>();
      if (results.length < EXPORT_PAGE) done = true;
      if (results.length === 0) return controller.close();
      cursor = results.at(-1)!.id;
      const rows = results.map((row) => {
        const data = JSON.parse(row.data) as JsonObject;
        return [
          row.identifier,
          row.channel,
          row.name ?? "",
          ...keys.map((key) => (Object.hasOwn(data, key) ? encodeDataValue(data[key]!) : "")),
        ].map(protectCell);
      });
      controller.enqueue(encoder.encode(unparse(rows) + "\r\n"));
    },
  });
  return c.body(stream, 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="participants-${chatbot.id}.csv"`,
    "Cache-Control": "no-store",
  });
});

type ImportRow = { row: number; channel: string; identifier: string; name: string | null; patch: [string, JsonValue][] };
type RowError = { row: number; message: string };

const ACCEPTED_TYPES = new Set(["", "text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"]);

/** Reads the header; 400 where it is not `identifier,channel[,name][,data.<key>...]`. */
function readHeader(cells: string[]): { identifier: number; channel: number; name: number; data: [number, string][] } {
  const columns = cells.map(unprotectCell);
  const seen = new Set<string>();
  const data: [number, string][] = [];
  let identifier = -1, channel = -1, name = -1;
  columns.forEach((column, index) => {
    if (seen.has(column)) throw problem("invalid-csv", 400, `Column ${JSON.stringify(column)} appears twice in the header (row 1).`);
    seen.add(column);
    if (column === "identifier") identifier = index;
    else if (column === "channel") channel = index;
    else if (column === "name") name = index;
    else if (column.startsWith("data.") && column.length > 5) data.push([index, column.slice(5)]);
    else throw problem("invalid-csv", 400, `Unknown column ${JSON.stringify(column)} in the header (row 1): columns are identifier, channel, name and data.<key>.`);
  });
  if (identifier < 0 || channel < 0) throw problem("invalid-csv", 400, "The header (row 1) must name the columns identifier and channel.");
  return { identifier, channel, name, data };
}

/** Parses one record into an import row, or a message saying why it is bad. */
function readRow(cells: string[], header: ReturnType<typeof readHeader>, width: number, row: number): ImportRow | string {
  if (cells.length > width) return `The row has ${cells.length} cells; the header has ${width}.`;
  const cell = (index: number) => (index >= 0 ? (cells[index] ?? "") : "");
  const identifier = Identifier.safeParse(unprotectCell(cell(header.identifier)));
  if (!identifier.success) return `identifier ${identifier.error.issues[0]!.message}.`;
  const channel = Channel.safeParse(unprotectCell(cell(header.channel)));
  if (!channel.success) return `channel ${channel.error.issues[0]!.message}.`;
  let name: string | null = null;
  if (cell(header.name) !== "") {
    const parsed = Name.safeParse(unprotectCell(cell(header.name)));
    if (!parsed.success) return `name ${parsed.error.issues[0]!.message}.`;
    name = parsed.data;
  }
  const patch: [string, JsonValue][] = [];
  for (const [index, key] of header.data) {
    const value = decodeDataCell(cell(index));
    if (value !== undefined) patch.push([key, value]);
  }
  return { row, channel: channel.data, identifier: identifier.data, name, patch };
}

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

csvRoutes.post("/import", limitBody(CSV_IMPORT_MAX_BYTES), async (c) => {
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, chatbotIdParam(c.req.query("chatbot_id")));
  const type = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (!ACCEPTED_TYPES.has(type)) throw problem("unsupported-media-type", 415, "Send the CSV as text/csv (UTF-8).");
  let text = await c.req.text();
  if (text.startsWith(BOM)) text = text.slice(1);
  const parsed = Papa.parse<string[]>(text, { header: false, skipEmptyLines: false });
  const records = parsed.data;
  // A trailing line break leaves one empty record at the end.
  while (records.length > 0 && records.at(-1)!.length === 1 && records.at(-1)![0] === "") records.pop();
  if (records.length === 0) throw problem("invalid-csv", 400, "The CSV is empty: row 1 must be the header.");
  if (records.length - 1 > CSV_IMPORT_MAX_ROWS) {
    throw problem("payload-too-large", 413, `A CSV import may hold at most ${CSV_IMPORT_MAX_ROWS} rows after the header; this one has ${records.length - 1}. Nothing was imported; split the file.`, {
      limit_rows: CSV_IMPORT_MAX_ROWS,
    });
  }
  const header = readHeader(records[0]!);
  const width = records[0]!.length;
  const broken = new Map<number, string>();
  for (const error of parsed.errors) if (error.row !== undefined && error.row > 0) broken.set(error.row, `${error.message}.`);

  // Rows are numbered as a spreadsheet shows them: the header is row 1, and a cell
  // with line breaks keeps its record on one row.
  const errors: RowError[] = [];
  const groups = new Map<string, ImportRow[]>();
  records.forEach((cells, index) => {
    if (index === 0) return;
    const row = index + 1;
    if (cells.length === 1 && cells[0] === "") return; // a blank line: nothing to do
    const bad = broken.get(index);
    const result = bad ?? readRow(cells, header, width, row);
    if (typeof result === "string") return void errors.push({ row, message: result });
    const key = JSON.stringify([result.channel, result.identifier]);
    groups.set(key, [...(groups.get(key) ?? []), result]);
  });

  const db = c.env.DB;
  const schema = chatbot.participant_data_schema ? JSON.stringify(chatbot.participant_data_schema) : null;
  const existing = new Map<string, ParticipantRow>();
  const keys = [...groups.keys()];
  for (let start = 0; start < keys.length; start += LOOKUP_CHUNK) {
    const pairs = keys.slice(start, start + LOOKUP_CHUNK).map((key) => JSON.parse(key) as [string, string]);
    const { results } = await db
      .prepare(
        `SELECT ${participantColumns("p")} FROM json_each(?) j JOIN participants p
         ON p.chatbot_id = ? AND p.channel = json_extract(j.value, '$[0]') AND p.identifier = json_extract(j.value, '$[1]')`,
      )
      .bind(JSON.stringify(pairs), chatbot.id)
      .run<ParticipantRow>();
    for (const row of results) existing.set(JSON.stringify([row.channel, row.identifier]), row);
  }

  // Fold each participant's rows in file order; a refused row is reported and skipped.
  const now = nowIso();
  type Plan = { key: string; rows: ImportRow[]; statement: D1PreparedStatement; created: boolean };
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
    const statement = row
      ? db
          .prepare(
            `UPDATE participants SET data = ?, name = ?, version = version + ?, updated_at = ?, write_id = ? WHERE id = ? AND version = ?`,
          )
          .bind(JSON.stringify(data), name, dataChanged ? 1 : 0, now, newId("wr"), row.id, row.version)
      : db
          .prepare(
            `INSERT INTO participants (id, team_id, chatbot_id, channel, identifier, name, data, version, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (chatbot_id, channel, identifier) DO NOTHING`,
          )
          .bind(newId("part"), c.var.teamId, chatbot.id, channel, identifier, name, JSON.stringify(data), now, now);
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
          teamId: c.var.teamId,
          target: { chatbotId: chatbot.id, channel, identifier, createIfMissing: true },
          mutate: (current) => applyPatch(current, importRow.patch),
          respond: (outcome) => ({ status: outcome.created ? 201 : 200, body: { id: outcome.participant.id } }),
        });
        touched ??= result.status === 201 ? "created" : "updated";
        if (importRow.name !== null) await updateCustomerFields(db, c.var.teamId, String(result.body.id), { name: importRow.name }, now);
      } catch (error) {
        if (!(error instanceof ProblemError)) throw error;
        errors.push({ row: importRow.row, message: error.problem.detail });
      }
    }
    if (touched === "created") created++;
    else if (touched === "updated") updated++;
  }

  errors.sort((a, b) => a.row - b.row);
  return c.json({ created, updated, unchanged, errors });
});
