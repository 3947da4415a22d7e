/**
 * The analytics projection exported to R2 as Parquet (docs/analytics.md "Export to R2
 * (Parquet)"): per team, two tables, each partitioned Hive-style by chatbot and UTC day of
 * `started_at`, one file per partition:
 *
 *   analytics/<team_id>/conversations/chatbot_id=<chatbot_id>/day=<YYYY-MM-DD>/part-0.parquet
 *   analytics/<team_id>/metadata/chatbot_id=<chatbot_id>/day=<YYYY-MM-DD>/part-0.parquet
 *
 * A day is read from D1 in pages and written as row groups through a multipart upload, so
 * memory stays bounded whatever its size. Exporting a day again replaces its files.
 */
import { type ColumnSource, ParquetWriter, type SchemaElement } from "hyparquet-writer";
import type { Cost } from "../shared/cost";
import {
  type ExportConversation,
  type ExportDay,
  type ExportMetadata,
  listExportDays,
  type MetadataCursor,
  readConversationPage,
  readMetadataPage,
} from "./export-storage";
import { R2ObjectWriter } from "./r2-writer";

export const EXPORT_TABLES = ["conversations", "metadata"] as const;
export type ExportTable = (typeof EXPORT_TABLES)[number];

export const EXPORT_LIMITS = {
  /** Days one call may name (`to` - `from`). */
  days: 31,
  /**
   * Conversations one call writes before it stops at a day's boundary and answers `next_from`
   * (a single day is always written whole). Encoding 100,000 conversations with 10 keys each
   * takes hyparquet-writer about 3.5 s of CPU, so a call stays near 10 s.
   */
  conversationsPerCall: 250_000,
  /** Conversations read from D1 per page, and per row group of a conversations file. */
  conversationPage: 1_000,
  conversationRowGroup: 10_000,
  /** Metadata pairs per row group of a metadata file, or fewer where their values are long. */
  metadataRowGroup: 50_000,
  /** Characters of metadata keys and values held before a row group is written, and per D1 page. */
  metadataGroupChars: 4_000_000,
  metadataPageChars: 1_000_000,
  /** Metadata pairs per D1 page: it starts small, then follows the values' length. */
  metadataPageMin: 16,
  metadataPageStart: 256,
  metadataPageMax: 4_096,
};

/** The layout's version, in each object's custom metadata (`format`): a change of columns makes it 2. */
export const EXPORT_FORMAT = "1";

/** The media type of Parquet (IANA, 2024). */
export const PARQUET_TYPE = "application/vnd.apache.parquet";

const ROOT = "analytics";
const DAY = String.raw`\d{4}-\d{2}-\d{2}`;
const ID = "[a-z]{2,5}_[0-9a-z]{26}";
/** Every key an export writes; nothing else is ever read back through the API. */
const KEY_PATTERN = new RegExp(`^${ROOT}/(${ID})/(${EXPORT_TABLES.join("|")})/chatbot_id=(${ID})/day=(${DAY})/part-(\\d{1,4})\\.parquet$`);

export type ExportKey = { key: string; teamId: string; table: ExportTable; chatbotId: string; day: string; part: number };

/** The prefix of one team's exports: what its listing and downloads are confined to. */
export const teamPrefix = (teamId: string) => `${ROOT}/${teamId}/`;
/** The prefix of one table of one chatbot: its days follow, in order. */
export const chatbotPrefix = (teamId: string, table: ExportTable, chatbotId: string) =>
  `${teamPrefix(teamId)}${table}/chatbot_id=${chatbotId}/`;
export const dayPrefix = (teamId: string, table: ExportTable, chatbotId: string, day: string) =>
  `${chatbotPrefix(teamId, table, chatbotId)}day=${day}/`;
export const objectKey = (teamId: string, table: ExportTable, chatbotId: string, day: string) =>
  `${dayPrefix(teamId, table, chatbotId, day)}part-0.parquet`;

/** A key in the export layout, or null for anything else (another layout, `..`, junk). */
export function parseExportKey(key: string): ExportKey | null {
  const match = KEY_PATTERN.exec(key);
  if (!match) return null;
  const [, teamId, table, chatbotId, day, part] = match as unknown as [string, string, ExportTable, string, string, string];
  if (!isDay(day)) return null;
  return { key, teamId, table, chatbotId, day, part: Number(part) };
}

/** A calendar day written YYYY-MM-DD (2026-02-30 is not one). */
export function isDay(text: string): boolean {
  if (!new RegExp(`^${DAY}$`).test(text)) return false;
  const time = Date.parse(`${text}T00:00:00.000Z`);
  return Number.isFinite(time) && new Date(time).toISOString().slice(0, 10) === text;
}

/** Days from `from` to `to`, `to` exclusive. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

const text = (name: string, optional = false): SchemaElement => ({
  name,
  type: "BYTE_ARRAY",
  converted_type: "UTF8",
  repetition_type: optional ? "OPTIONAL" : "REQUIRED",
});
const timestamp = (name: string, optional = false): SchemaElement => ({
  name,
  type: "INT64",
  converted_type: "TIMESTAMP_MILLIS",
  logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
  repetition_type: optional ? "OPTIONAL" : "REQUIRED",
});
const root = (children: SchemaElement[]): SchemaElement[] => [{ name: "schema", num_children: children.length }, ...children];

/**
 * The columns of each table. `chatbot_id` and `day` are not in the files: engines read them
 * from the path (Hive partitioning). Timestamps are UTC instants in milliseconds.
 */
export const EXPORT_SCHEMAS: Record<ExportTable, SchemaElement[]> = {
  conversations: root([
    text("conversation_id"),
    timestamp("started_at"),
    text("status"),
    text("outcome", true),
    timestamp("ended_at", true),
    timestamp("last_message_at", true),
    { name: "message_count", type: "INT64", repetition_type: "REQUIRED" },
    text("channel"),
    text("participant_id"),
  ]),
  metadata: root([text("conversation_id"), text("key"), text("value"), { name: "num", type: "DOUBLE", repetition_type: "OPTIONAL" }]),
};

const instant = (iso: string | null) => (iso === null ? null : BigInt(Date.parse(iso)));

/** One row group of the conversations table, column by column in the schema's order. */
function conversationColumns(rows: ExportConversation[]): ColumnSource[] {
  return [
    { name: "conversation_id", data: rows.map((row) => row.id) },
    { name: "started_at", data: rows.map((row) => instant(row.started_at)) },
    { name: "status", data: rows.map((row) => row.status) },
    { name: "outcome", data: rows.map((row) => row.outcome) },
    { name: "ended_at", data: rows.map((row) => instant(row.ended_at)) },
    { name: "last_message_at", data: rows.map((row) => instant(row.last_message_at)) },
    { name: "message_count", data: rows.map((row) => BigInt(row.message_count)) },
    { name: "channel", data: rows.map((row) => row.channel) },
    { name: "participant_id", data: rows.map((row) => row.participant_id) },
  ];
}

function metadataColumns(rows: ExportMetadata[]): ColumnSource[] {
  return [
    { name: "conversation_id", data: rows.map((row) => row.conversation_id) },
    { name: "key", data: rows.map((row) => row.key) },
    { name: "value", data: rows.map((row) => row.value) },
    { name: "num", data: rows.map((row) => row.num) },
  ];
}

/** An object the export wrote. */
export type WrittenObject = { key: string; table: ExportTable; day: string; rows: number; bytes: number };

type Target = { bucket: R2Bucket; db: D1Database; teamId: string; chatbotId: string; exportedAt: string; cost?: Cost };

/** A Parquet file of one table and day, written row group by row group into R2. */
async function writeTable<Row>(
  target: Target,
  table: ExportTable,
  day: string,
  groups: AsyncIterable<Row[]>,
  columns: (rows: Row[]) => ColumnSource[],
): Promise<WrittenObject> {
  const key = objectKey(target.teamId, table, target.chatbotId, day);
  let rows = 0;
  const sink = new R2ObjectWriter(target.bucket, key, {
    httpMetadata: { contentType: PARQUET_TYPE },
    customMetadata: { exported_at: target.exportedAt, format: EXPORT_FORMAT },
  });
  try {
    const writer = new ParquetWriter({ writer: sink, schema: EXPORT_SCHEMAS[table], createdBy: "chat-context analytics export" });
    for await (const group of groups) {
      if (group.length === 0) continue;
      rows += group.length;
      await writer.write({ columnData: columns(group), rowGroupSize: group.length });
    }
    await writer.finish();
  } catch (error) {
    await sink.abort();
    throw error;
  }
  return { key, table, day, rows, bytes: sink.offset };
}

/** The day's conversations in row groups, read page by page in `seq` order. */
async function* conversationGroups(target: Target, day: ExportDay): AsyncGenerator<ExportConversation[]> {
  let group: ExportConversation[] = [];
  let after = 0;
  for (;;) {
    const page = await readConversationPage(
      target.db,
      { chatbotId: target.chatbotId, day, afterSeq: after, limit: EXPORT_LIMITS.conversationPage },
      target.cost,
    );
    group.push(...page);
    if (group.length >= EXPORT_LIMITS.conversationRowGroup) {
      yield group;
      group = [];
    }
    if (page.length < EXPORT_LIMITS.conversationPage) break;
    after = page.at(-1)!.seq;
  }
  yield group;
}

/**
 * The day's metadata pairs in row groups, ordered by key then conversation (so a reader
 * looking for one key skips the row groups whose key range misses it). Pages grow while
 * values are short and shrink where they are long, holding about `metadataPageChars`.
 */
async function* metadataGroups(target: Target, day: ExportDay): AsyncGenerator<ExportMetadata[]> {
  const limits = EXPORT_LIMITS;
  let group: ExportMetadata[] = [];
  let groupChars = 0;
  let after: MetadataCursor | null = null;
  let limit = limits.metadataPageStart;
  for (;;) {
    const page = await readMetadataPage(target.db, { chatbotId: target.chatbotId, day, after, limit }, target.cost);
    let chars = 0;
    for (const row of page) {
      chars += row.size + row.key.length;
      group.push(row);
    }
    groupChars += chars;
    if (group.length >= limits.metadataRowGroup || groupChars >= limits.metadataGroupChars) {
      yield group;
      group = [];
      groupChars = 0;
    }
    if (page.length < limit) break;
    const last = page.at(-1)!;
    after = { key: last.key, conv: last.conv };
    const perRow = Math.max(1, chars / page.length);
    limit = Math.min(limits.metadataPageMax, Math.max(limits.metadataPageMin, Math.floor(limits.metadataPageChars / perRow)));
  }
  yield group;
}

export type ExportResult = {
  chatbot_id: string;
  from: string;
  /** The end (exclusive) of the days written: the `to` asked, or where the call stopped. */
  to: string;
  /** Where to continue when the call stopped early (too many conversations for one call), else null. */
  next_from: string | null;
  conversations: number;
  objects: WrittenObject[];
  /** Objects of the days written that this export did not write again (older parts, emptied days). */
  deleted: string[];
};

/**
 * Exports the chatbot's days [from, to): for each day with conversations its two files,
 * replacing what an earlier export wrote for it; objects left from an earlier export of
 * the days written are deleted. Stops early, at a day's boundary, past
 * `conversationsPerCall` conversations, and says where to go on.
 */
export async function exportChatbotDays(
  env: { DB: D1Database; ANALYTICS_BUCKET: R2Bucket },
  input: { teamId: string; chatbotId: string; from: string; to: string; exportedAt?: string },
  cost?: Cost,
): Promise<ExportResult> {
  const target: Target = {
    bucket: env.ANALYTICS_BUCKET,
    db: env.DB,
    teamId: input.teamId,
    chatbotId: input.chatbotId,
    exportedAt: input.exportedAt ?? new Date().toISOString(),
    cost,
  };
  const days = await listExportDays(env.DB, input.chatbotId, input.from, input.to, cost);
  const objects: WrittenObject[] = [];
  let conversations = 0;
  let end = input.to;
  for (const day of days) {
    if (conversations > 0 && conversations + day.conversations > EXPORT_LIMITS.conversationsPerCall) {
      end = day.day;
      break;
    }
    objects.push(await writeTable(target, "conversations", day.day, conversationGroups(target, day), conversationColumns));
    objects.push(await writeTable(target, "metadata", day.day, metadataGroups(target, day), metadataColumns));
    conversations += day.conversations;
  }
  const deleted = await deleteStale(target, input.from, end, new Set(objects.map((object) => object.key)));
  return {
    chatbot_id: input.chatbotId,
    from: input.from,
    to: end,
    next_from: end === input.to ? null : end,
    conversations,
    objects,
    deleted,
  };
}

/**
 * Deletes the chatbot's objects of the export layout in the days [from, to) that are not in
 * `kept`. Other objects under its prefix are left alone.
 */
async function deleteStale(target: Target, from: string, to: string, kept: Set<string>): Promise<string[]> {
  const stale: string[] = [];
  for (const table of EXPORT_TABLES) {
    const prefix = chatbotPrefix(target.teamId, table, target.chatbotId);
    // `…/day=<from>` sorts just before the first key of that day; keys go on in day order.
    let startAfter: string | undefined = `${prefix}day=${from}`;
    while (startAfter !== undefined) {
      const page: R2Objects = await target.bucket.list({ prefix, startAfter, limit: 1000 });
      startAfter = page.truncated ? page.objects.at(-1)?.key : undefined;
      for (const object of page.objects) {
        const day = /^day=([^/]*)\//.exec(object.key.slice(prefix.length))?.[1];
        if (day !== undefined && day >= to) {
          startAfter = undefined;
          break;
        }
        if (parseExportKey(object.key) && !kept.has(object.key)) stale.push(object.key);
      }
    }
  }
  for (let i = 0; i < stale.length; i += 1000) await target.bucket.delete(stale.slice(i, i + 1000));
  return stale;
}

/** An object of a listing. */
export type ListedObject = {
  key: string;
  table: ExportTable;
  chatbot_id: string;
  day: string;
  bytes: number;
  uploaded: string;
  etag: string;
};

/**
 * A page of one chatbot's exported objects: its conversations files by day, then its
 * metadata files by day. `cursor` is the last key of the page before.
 */
export async function listChatbotExports(
  bucket: R2Bucket,
  input: { teamId: string; chatbotId: string; cursor?: ExportKey; limit: number },
): Promise<{ objects: ListedObject[]; nextCursor: string | null }> {
  const found: ListedObject[] = [];
  const first = input.cursor ? EXPORT_TABLES.indexOf(input.cursor.table) : 0;
  // One more than asked tells whether there is a next page.
  for (let t = first; t < EXPORT_TABLES.length && found.length <= input.limit; t++) {
    const prefix = chatbotPrefix(input.teamId, EXPORT_TABLES[t]!, input.chatbotId);
    let startAfter = t === first ? input.cursor?.key : undefined;
    do {
      const page = await bucket.list({ prefix, startAfter, limit: Math.min(1000, input.limit + 1 - found.length) });
      for (const object of page.objects) {
        const parsed = parseExportKey(object.key);
        if (!parsed) continue;
        found.push({
          key: object.key,
          table: parsed.table,
          chatbot_id: parsed.chatbotId,
          day: parsed.day,
          bytes: object.size,
          uploaded: object.uploaded.toISOString(),
          etag: object.httpEtag,
        });
      }
      startAfter = page.truncated ? page.objects.at(-1)?.key : undefined;
    } while (startAfter !== undefined && found.length <= input.limit);
  }
  const objects = found.slice(0, input.limit);
  return { objects, nextCursor: found.length > input.limit ? objects.at(-1)!.key : null };
}
