import { createScheduledController } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { beforeAll, describe, expect, it } from "vitest";
import { EXPORT_LIMITS, EXPORT_SCHEMAS, objectKey, PARQUET_TYPE, parseExportKey } from "../../src/analytics/export";
import { CRON_EXPORT_DAYS, cronExportDays, exportAnalyticsDaily } from "../../src/analytics/export-cron";
import { PART_BYTES, R2ObjectWriter } from "../../src/analytics/r2-writer";
import worker from "../../src/index";
import wranglerToml from "../../wrangler.toml?raw";
import { type ExportSeed, type SeededConversation, seedConversations } from "../support/analytics-seed";
import { BASE, call, countD1Statements, createChatbot, createTeam, expectFieldErrors, expectProblem } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { costOf } from "../support/cost";

const SEEDS: ExportSeed[] = [
  {
    startedAt: "2026-01-01T08:00:00.000Z",
    metadata: { plan: "pro", cart: "10", utm: "google" },
    outcome: "purchase",
    status: "ended",
    messages: 4,
  },
  { startedAt: "2026-01-01T23:59:59.999Z", metadata: { plan: "free", cart: "abc", utm: "google" }, outcome: "handoff" },
  { startedAt: "2026-01-02T00:00:00.000Z", metadata: { plan: "pro", cart: "150.5", utm: "fb" } },
  { startedAt: "2026-01-03T12:00:00.000Z", metadata: { plan: "enterprise" }, outcome: "purchase" },
  { startedAt: "2026-01-03T13:00:00.000Z", metadata: { plan: "pro plus", cart: "1e3", utm: "fb" }, outcome: "resolved", messages: 2 },
];
const DAYS = ["2026-01-01", "2026-01-02", "2026-01-03"];

let team: { id: string; apiKey: string };
let chatbotId: string;
let seeded: SeededConversation[];

beforeAll(async () => {
  team = await createTeam();
  chatbotId = (await createChatbot(team.apiKey)).id;
  seeded = await seedConversations(team.id, chatbotId, SEEDS);
});

function exportDays(body: Record<string, unknown>, apiKey = team.apiKey) {
  return call("POST", "/v1/analytics/exports", { token: apiKey, body: { chatbot_id: chatbotId, ...body } });
}

/** A download through the Worker, its body as bytes. */
async function download(key: string, options: { apiKey?: string; headers?: Record<string, string>; method?: string } = {}) {
  const response = await exports.default.fetch(
    new Request(`${BASE}/v1/analytics/exports/${key}`, {
      method: options.method ?? "GET",
      headers: { Authorization: `Bearer ${options.apiKey ?? team.apiKey}`, ...options.headers },
    }),
  );
  const bytes = new Uint8Array(await response.arrayBuffer());
  let json: any = null;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {}
  return { status: response.status, headers: response.headers, bytes, json };
}

async function stored(key: string): Promise<ArrayBuffer> {
  const object = await env.ANALYTICS_BUCKET.get(key);
  if (!object) throw new Error(`no object ${key}`);
  return object.arrayBuffer();
}

/** The rows of a Parquet file as hyparquet reads them. */
async function rowsOf(key: string): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: await stored(key) });
}

const magic = (bytes: ArrayBuffer) => [
  new TextDecoder().decode(bytes.slice(0, 4)),
  new TextDecoder().decode(bytes.slice(bytes.byteLength - 4)),
];

const conversationsKey = (day: string) => objectKey(team.id, "conversations", chatbotId, day);
const metadataKey = (day: string) => objectKey(team.id, "metadata", chatbotId, day);
const date = (iso: string | null) => (iso === null ? null : new Date(iso));

/** What the conversations file of a day must hold, in seq order. */
function expectedConversations(day: string) {
  return seeded
    .filter((seed) => seed.startedAt.startsWith(day))
    .map((seed) => ({
      conversation_id: seed.id,
      started_at: date(seed.startedAt),
      status: seed.status ?? "open",
      outcome: seed.outcome ?? null,
      ended_at: seed.status === "ended" ? date(seed.startedAt) : null,
      last_message_at: seed.messages ? date(seed.startedAt) : null,
      message_count: BigInt(seed.messages ?? 0),
      channel: "web",
      participant_id: seed.participantId,
    }));
}

/** What the metadata file of a day must hold: by key name, then conversation. */
function expectedMetadata(day: string) {
  return seeded
    .filter((seed) => seed.startedAt.startsWith(day))
    .flatMap((seed) =>
      Object.entries(seed.metadata ?? {}).map(([key, value]) => {
        const num = Number(value);
        return {
          conversation_id: seed.id,
          key: `chat-widget:${key}`,
          value,
          num: /^-?\d/.test(value) && Number.isFinite(num) ? num : null,
        };
      }),
    )
    .sort((a, b) => (a.key === b.key ? 0 : a.key < b.key ? -1 : 1));
}

describe("POST /v1/analytics/exports", () => {
  it("writes a conversations and a metadata file per day with conversations, laid out by team, chatbot and day", async () => {
    const response = await exportDays({ from: "2026-01-01", to: "2026-01-05" });
    expect(response.status, response.text).toBe(200);
    expect(response.json).toMatchObject({ chatbot_id: chatbotId, from: "2026-01-01", to: "2026-01-05", next_from: null, conversations: 5 });
    expect(response.json.deleted).toEqual([]);
    const expectedRows = { "2026-01-01": [2, 6], "2026-01-02": [1, 3], "2026-01-03": [2, 4] } as Record<string, [number, number]>;
    expect(response.json.objects.map(({ key, table, day, rows }: Record<string, unknown>) => ({ key, table, day, rows }))).toEqual(
      DAYS.flatMap((day) => [
        {
          key: `analytics/${team.id}/conversations/chatbot_id=${chatbotId}/day=${day}/part-0.parquet`,
          table: "conversations",
          day,
          rows: expectedRows[day]![0],
        },
        {
          key: `analytics/${team.id}/metadata/chatbot_id=${chatbotId}/day=${day}/part-0.parquet`,
          table: "metadata",
          day,
          rows: expectedRows[day]![1],
        },
      ]),
    );
    for (const object of response.json.objects) {
      const head = await env.ANALYTICS_BUCKET.head(object.key);
      expect(head?.size).toBe(object.bytes);
      expect(head?.httpMetadata?.contentType).toBe(PARQUET_TYPE);
      expect(head?.customMetadata).toMatchObject({ format: "1" });
    }
    // The empty day (January 4) has no files.
    const all = await env.ANALYTICS_BUCKET.list({ prefix: `analytics/${team.id}/` });
    expect(all.objects.map((object) => object.key).sort()).toEqual(
      response.json.objects.map((object: { key: string }) => object.key).sort(),
    );
    expect(costOf(response).d1RowsRead).toBeGreaterThan(0);
  });

  it("writes valid Parquet (PAR1 at both ends, the row counts in the footer) with every column as stored", async () => {
    await exportDays({ from: "2026-01-01", to: "2026-01-04" });
    for (const day of DAYS) {
      for (const key of [conversationsKey(day), metadataKey(day)]) {
        const bytes = await stored(key);
        expect(magic(bytes)).toEqual(["PAR1", "PAR1"]);
        const footer = parquetMetadata(bytes);
        expect(Number(footer.num_rows)).toBe(
          key.includes("/conversations/") ? expectedConversations(day).length : expectedMetadata(day).length,
        );
        expect(footer.created_by).toBe("chat-context analytics export");
      }
      expect(await rowsOf(conversationsKey(day))).toEqual(expectedConversations(day));
      expect(await rowsOf(metadataKey(day))).toEqual(expectedMetadata(day));
    }
    const schema = parquetMetadata(await stored(conversationsKey(DAYS[0]!))).schema;
    expect(schema.map((element) => element.name)).toEqual(EXPORT_SCHEMAS.conversations.map((element) => element.name));
    expect(schema.find((element) => element.name === "started_at")).toMatchObject({
      type: "INT64",
      logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
    });
  });

  it("is idempotent: exporting again writes the same bytes under the same keys, and nothing more", async () => {
    const first = await exportDays({ from: "2026-01-01", to: "2026-01-04" });
    const before = await Promise.all(first.json.objects.map((object: { key: string }) => stored(object.key)));
    const again = await exportDays({ from: "2026-01-01", to: "2026-01-04" });
    expect(again.status).toBe(200);
    expect(again.json.objects).toEqual(first.json.objects);
    expect(again.json.deleted).toEqual([]);
    const after = await Promise.all(again.json.objects.map((object: { key: string }) => stored(object.key)));
    expect(after.map((bytes) => new Uint8Array(bytes))).toEqual(before.map((bytes) => new Uint8Array(bytes)));
    const listed = await env.ANALYTICS_BUCKET.list({ prefix: `analytics/${team.id}/` });
    expect(listed.objects).toHaveLength(6);
  });

  it("exports one day when `to` is left out", async () => {
    const response = await exportDays({ from: "2026-01-02" });
    expect(response.status, response.text).toBe(200);
    expect(response.json.to).toBe("2026-01-03");
    expect(response.json.objects.map((object: { key: string }) => object.key)).toEqual([
      conversationsKey("2026-01-02"),
      metadataKey("2026-01-02"),
    ]);
  });

  it("deletes what an earlier export left in the days it writes (other parts, emptied days), and nothing outside them", async () => {
    const chatbot = (await createChatbot(team.apiKey)).id;
    await seedConversations(team.id, chatbot, [{ startedAt: "2026-02-01T10:00:00.000Z", metadata: { a: "1" } }]);
    const stray = [
      `analytics/${team.id}/conversations/chatbot_id=${chatbot}/day=2026-02-01/part-1.parquet`,
      objectKey(team.id, "metadata", chatbot, "2026-02-02"),
      objectKey(team.id, "conversations", chatbot, "2026-02-02"),
    ];
    const outside = [
      objectKey(team.id, "conversations", chatbot, "2026-01-31"),
      objectKey(team.id, "metadata", chatbot, "2026-02-03"),
      `analytics/${team.id}/metadata/chatbot_id=${chatbot}/day=2026-02-03/notes.txt`,
      `analytics/${team.id}/metadata/chatbot_id=${chatbot}/day=2026-02-01/_SUCCESS`,
    ];
    for (const key of [...stray, ...outside]) await env.ANALYTICS_BUCKET.put(key, "old");
    const response = await call("POST", "/v1/analytics/exports", {
      token: team.apiKey,
      body: { chatbot_id: chatbot, from: "2026-02-01", to: "2026-02-03" },
    });
    expect(response.status, response.text).toBe(200);
    expect([...response.json.deleted].sort()).toEqual([...stray].sort());
    for (const key of stray) expect(await env.ANALYTICS_BUCKET.head(key)).toBeNull();
    for (const key of outside) expect(await env.ANALYTICS_BUCKET.head(key)).not.toBeNull();
  });

  it("stops at a day's boundary past the conversations one call writes, and says where to go on", async () => {
    const limit = EXPORT_LIMITS.conversationsPerCall;
    EXPORT_LIMITS.conversationsPerCall = 2;
    try {
      const first = await exportDays({ from: "2026-01-01", to: "2026-01-05" });
      expect(first.json).toMatchObject({ to: "2026-01-02", next_from: "2026-01-02", conversations: 2 });
      expect(first.json.objects.map((object: { day: string }) => object.day)).toEqual(["2026-01-01", "2026-01-01"]);
      const second = await exportDays({ from: first.json.next_from, to: "2026-01-05" });
      expect(second.json).toMatchObject({ to: "2026-01-03", next_from: "2026-01-03", conversations: 1 });
      // A day over the limit by itself is still written whole.
      EXPORT_LIMITS.conversationsPerCall = 1;
      const third = await exportDays({ from: second.json.next_from, to: "2026-01-05" });
      expect(third.json).toMatchObject({ to: "2026-01-05", next_from: null, conversations: 2 });
      expect(third.json.objects).toHaveLength(2);
    } finally {
      EXPORT_LIMITS.conversationsPerCall = limit;
    }
  });

  it("writes the same rows in many small pages and row groups as in one", async () => {
    const saved = { ...EXPORT_LIMITS };
    Object.assign(EXPORT_LIMITS, {
      conversationPage: 1,
      conversationRowGroup: 1,
      metadataPageStart: 1,
      metadataPageMin: 1,
      metadataPageMax: 1,
      metadataRowGroup: 2,
    });
    try {
      const response = await exportDays({ from: "2026-01-01" });
      expect(response.status, response.text).toBe(200);
    } finally {
      Object.assign(EXPORT_LIMITS, saved);
    }
    expect(await rowsOf(conversationsKey("2026-01-01"))).toEqual(expectedConversations("2026-01-01"));
    expect(await rowsOf(metadataKey("2026-01-01"))).toEqual(expectedMetadata("2026-01-01"));
    expect(parquetMetadata(await stored(conversationsKey("2026-01-01"))).row_groups.map((group) => Number(group.num_rows))).toEqual([1, 1]);
    expect(parquetMetadata(await stored(metadataKey("2026-01-01"))).row_groups.map((group) => Number(group.num_rows))).toEqual([2, 2, 2]);
  });

  it("refuses days that are not days, a range backwards or over 31 days, and unknown fields, naming each", async () => {
    expectFieldErrors(await exportDays({ from: "2026-02-30" }), ["/from"]);
    expectFieldErrors(await exportDays({ from: "2026-1-1" }), ["/from"]);
    expectFieldErrors(await exportDays({ from: "2026-01-01T00:00:00Z" }), ["/from"]);
    expectFieldErrors(await exportDays({ from: "2026-01-01", to: 20260102 }), ["/to"]);
    expectFieldErrors(await exportDays({ from: "2026-01-02", to: "2026-01-02" }), ["/to"]);
    expectFieldErrors(await exportDays({ from: "2026-01-02", to: "2026-01-01" }), ["/to"]);
    expectFieldErrors(await exportDays({ from: "2026-01-01", to: "2026-02-02" }), ["/to"]);
    expectFieldErrors(await exportDays({ from: "2026-01-01", format: "csv" }), ["/format"]);
    expectFieldErrors(await call("POST", "/v1/analytics/exports", { token: team.apiKey, body: { from: "2026-01-01" } }), ["/chatbot_id"]);
    const malformed = await call("POST", "/v1/analytics/exports", {
      token: team.apiKey,
      rawBody: "{",
      headers: { "Content-Type": "application/json" },
    });
    expect(expectProblem(malformed, 400).type).toBe("/problems/malformed-json");
    // 31 days is the most one call names.
    expect((await exportDays({ from: "2026-01-01", to: "2026-02-01" })).status).toBe(200);
  });

  it("answers another team's chatbot with the 404 of a missing one, and a read key with 403, writing nothing", async () => {
    const other = await createTeam();
    const theirs = await exportDays({ from: "2026-01-01" }, other.apiKey);
    expect(expectProblem(theirs, 404)).toEqual(
      expectProblem(await exportDays({ chatbot_id: "cb_00000000000000000000000000", from: "2026-01-01" }, other.apiKey), 404),
    );
    expect((await env.ANALYTICS_BUCKET.list({ prefix: `analytics/${other.id}/` })).objects).toEqual([]);
    const readKey = await call("POST", "/v1/api-keys", { token: team.apiKey, body: { name: "reader", scope: "read" } });
    const refused = await exportDays({ from: "2026-01-01" }, readKey.json.key);
    expect(expectProblem(refused, 403).detail).toMatch(/read-only/);
  });
});

describe("GET /v1/analytics/exports", () => {
  beforeAll(async () => {
    await exportDays({ from: "2026-01-01", to: "2026-01-04" });
  });

  it("lists the chatbot's objects: its conversations files by day, then its metadata files", async () => {
    const response = await call("GET", `/v1/analytics/exports?chatbot_id=${chatbotId}`, { token: team.apiKey });
    expect(response.status, response.text).toBe(200);
    expect(response.json.next_cursor).toBeNull();
    expect(response.json.objects.map((object: { key: string }) => object.key)).toEqual([
      ...DAYS.map(conversationsKey),
      ...DAYS.map(metadataKey),
    ]);
    const [first] = response.json.objects;
    const head = await env.ANALYTICS_BUCKET.head(first.key);
    expect(first).toEqual({
      key: conversationsKey(DAYS[0]!),
      table: "conversations",
      chatbot_id: chatbotId,
      day: DAYS[0],
      bytes: head!.size,
      uploaded: head!.uploaded.toISOString(),
      etag: head!.httpEtag,
    });
  });

  it("pages with limit and next_cursor, across the two tables", async () => {
    const keys: string[] = [];
    const pages: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `chatbot_id=${chatbotId}&limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await call("GET", `/v1/analytics/exports?${query}`, { token: team.apiKey });
      expect(page.status, page.text).toBe(200);
      keys.push(...page.json.objects.map((object: { key: string }) => object.key));
      pages.push(page.json.objects.length);
      cursor = page.json.next_cursor;
    } while (cursor !== null);
    expect(pages).toEqual([4, 2]);
    expect(keys).toEqual([...DAYS.map(conversationsKey), ...DAYS.map(metadataKey)]);
    const three = await call("GET", `/v1/analytics/exports?chatbot_id=${chatbotId}&limit=3`, { token: team.apiKey });
    expect(three.json.next_cursor).toBe(conversationsKey(DAYS[2]!));
    const rest = await call(
      "GET",
      `/v1/analytics/exports?chatbot_id=${chatbotId}&limit=3&cursor=${encodeURIComponent(three.json.next_cursor)}`,
      {
        token: team.apiKey,
      },
    );
    expect(rest.json).toMatchObject({ next_cursor: null });
    expect(rest.json.objects.map((object: { key: string }) => object.key)).toEqual(DAYS.map(metadataKey));
  });

  it("checks the API key once per request, though /v1/analytics has its own check", async () => {
    const { queries } = await countD1Statements(async () => {
      expect((await call("GET", `/v1/analytics/exports?chatbot_id=${chatbotId}`, { token: team.apiKey })).status).toBe(200);
      expect((await download(conversationsKey("2026-01-01"))).status).toBe(200);
    });
    expect(queries.filter((query) => query.includes("FROM api_keys"))).toHaveLength(2);
  });

  it("refuses a cursor that is not a key of this chatbot's exports, a bad limit and no chatbot_id", async () => {
    const other = (await createChatbot(team.apiKey)).id;
    for (const cursor of ["junk", objectKey(team.id, "metadata", other, "2026-01-01"), `../${conversationsKey("2026-01-01")}`]) {
      expectFieldErrors(
        await call("GET", `/v1/analytics/exports?chatbot_id=${chatbotId}&cursor=${encodeURIComponent(cursor)}`, { token: team.apiKey }),
        ["/cursor"],
      );
    }
    expectFieldErrors(await call("GET", `/v1/analytics/exports?chatbot_id=${chatbotId}&limit=0`, { token: team.apiKey }), ["/limit"]);
    expectFieldErrors(await call("GET", "/v1/analytics/exports", { token: team.apiKey }), ["/chatbot_id"]);
    const empty = await call("GET", `/v1/analytics/exports?chatbot_id=${other}`, { token: team.apiKey });
    expect(empty.json).toEqual({ objects: [], next_cursor: null });
  });
});

describe("GET /v1/analytics/exports/<key>", () => {
  beforeAll(async () => {
    await exportDays({ from: "2026-01-01", to: "2026-01-04" });
  });

  it("downloads an object as Parquet; HEAD answers its headers; Range its bytes", async () => {
    const key = metadataKey("2026-01-01");
    const bytes = new Uint8Array(await stored(key));
    const whole = await download(key);
    expect(whole.status).toBe(200);
    expect(whole.bytes).toEqual(bytes);
    expect(whole.headers.get("Content-Type")).toBe(PARQUET_TYPE);
    expect(whole.headers.get("Content-Length")).toBe(String(bytes.length));
    expect(whole.headers.get("Content-Disposition")).toBe(`attachment; filename="metadata-${chatbotId}-2026-01-01.parquet"`);
    expect(whole.headers.get("ETag")).toBe((await env.ANALYTICS_BUCKET.head(key))!.httpEtag);
    expect(whole.headers.get("Cache-Control")).toBe("no-store");
    const head = await download(key, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.bytes.length).toBe(0);
    const start = await download(key, { headers: { Range: "bytes=0-3" } });
    expect(start.status).toBe(206);
    expect(new TextDecoder().decode(start.bytes)).toBe("PAR1");
    expect(start.headers.get("Content-Range")).toBe(`bytes 0-3/${bytes.length}`);
    const end = await download(key, { headers: { Range: "bytes=-8" } });
    expect(end.status).toBe(206);
    expect(end.bytes).toEqual(bytes.slice(-8));
    expect(end.headers.get("Content-Range")).toBe(`bytes ${bytes.length - 8}-${bytes.length - 1}/${bytes.length}`);
  });

  it("answers another team's object with the 404 of a missing one", async () => {
    const other = await createTeam();
    const theirChatbot = (await createChatbot(other.apiKey)).id;
    await seedConversations(other.id, theirChatbot, [{ startedAt: "2026-01-01T10:00:00.000Z", metadata: { secret: "x" } }]);
    const exported = await call("POST", "/v1/analytics/exports", {
      token: other.apiKey,
      body: { chatbot_id: theirChatbot, from: "2026-01-01" },
    });
    const theirKey = exported.json.objects[0].key as string;
    expect((await download(theirKey, { apiKey: other.apiKey })).status).toBe(200);
    const refused = await download(theirKey);
    expect(refused.status).toBe(404);
    const missing = await download(objectKey(team.id, "conversations", chatbotId, "1999-01-01"));
    expect(refused.json).toEqual(missing.json);
    expect(refused.json).toMatchObject({ type: "/problems/not-found", detail: "No export object with that key." });
  });

  it("reads no key outside the caller's own exports: traversal, encoded slashes, other layouts, junk", async () => {
    const other = await createTeam();
    const theirChatbot = (await createChatbot(other.apiKey)).id;
    await seedConversations(other.id, theirChatbot, [{ startedAt: "2026-01-01T10:00:00.000Z" }]);
    await call("POST", "/v1/analytics/exports", { token: other.apiKey, body: { chatbot_id: theirChatbot, from: "2026-01-01" } });
    const theirKey = objectKey(other.id, "conversations", theirChatbot, "2026-01-01");
    expect(await env.ANALYTICS_BUCKET.head(theirKey)).not.toBeNull();
    await env.ANALYTICS_BUCKET.put(`analytics/${team.id}/notes.txt`, "not an export");
    const ours = conversationsKey("2026-01-01");
    const attempts = [
      `${ours}/..%2F..%2F..%2F..%2F..%2F${encodeURIComponent(theirKey)}`,
      `analytics/${team.id}/..%2F${other.id}%2Fconversations%2Fchatbot_id=${theirChatbot}%2Fday=2026-01-01%2Fpart-0.parquet`,
      encodeURIComponent(theirKey),
      `analytics%2F${team.id}%2F..%2F${other.id}%2Fconversations%2Fchatbot_id=${theirChatbot}%2Fday=2026-01-01%2Fpart-0.parquet`,
      `analytics/${team.id}/%2e%2e/${other.id}/conversations/chatbot_id=${theirChatbot}/day=2026-01-01/part-0.parquet`,
      `analytics/${team.id}/notes.txt`,
      `${ours}%00`,
      `${ours}%E0%A4%A`,
      ours.replace("part-0", "part-x"),
      ours.toUpperCase(),
    ];
    for (const attempt of attempts) {
      const answer = await download(attempt);
      expect(answer.status, attempt).toBe(404);
      expect(answer.json?.detail ?? answer.json, attempt).not.toBeNull();
    }
    expect(parseExportKey(`${ours}/../x`)).toBeNull();
    expect(parseExportKey(ours)).toEqual({ key: ours, teamId: team.id, table: "conversations", chatbotId, day: "2026-01-01", part: 0 });
    expect(parseExportKey(objectKey(team.id, "metadata", chatbotId, "2026-02-30"))).toBeNull();
  });

  it("answers 405 with Allow to methods the export paths do not serve", async () => {
    const list = await call("PUT", "/v1/analytics/exports", { token: team.apiKey, body: {} });
    expect(expectProblem(list, 405).type).toBe("/problems/method-not-allowed");
    expect(list.headers.get("Allow")).toBe("GET, HEAD, POST");
    const object = await call("DELETE", `/v1/analytics/exports/${conversationsKey("2026-01-01")}`, { token: team.apiKey });
    expect(expectProblem(object, 405).type).toBe("/problems/method-not-allowed");
    expect(object.headers.get("Allow")).toBe("GET, HEAD");
    expect(await env.ANALYTICS_BUCKET.head(conversationsKey("2026-01-01"))).not.toBeNull();
  });
});

/** The bucket, with its multipart calls counted and `failPart` making that part's upload fail. */
function countingBucket(failPart?: number) {
  const counts = { creates: 0, parts: 0, completes: 0, aborts: 0, puts: 0 };
  const bucket = env.ANALYTICS_BUCKET;
  const counted = {
    put: (...args: Parameters<R2Bucket["put"]>) => {
      counts.puts++;
      return bucket.put(...args);
    },
    createMultipartUpload: async (...args: Parameters<R2Bucket["createMultipartUpload"]>) => {
      counts.creates++;
      const upload = await bucket.createMultipartUpload(...args);
      return {
        uploadPart: (number: number, value: ArrayBuffer) => {
          counts.parts++;
          if (number === failPart) return Promise.reject(new Error("injected part failure"));
          return upload.uploadPart(number, value);
        },
        complete: (parts: R2UploadedPart[]) => {
          counts.completes++;
          return upload.complete(parts);
        },
        abort: () => {
          counts.aborts++;
          return upload.abort();
        },
      };
    },
  } as unknown as R2Bucket;
  return { bucket: counted, counts };
}

describe("R2ObjectWriter", () => {
  it("puts a file under one part in one request", async () => {
    const { bucket, counts } = countingBucket();
    const writer = new R2ObjectWriter(bucket, "test/small.bin", {});
    writer.appendBytes(new Uint8Array([1, 2, 3]));
    await writer.flush();
    await writer.finish();
    expect(counts).toMatchObject({ puts: 1, creates: 0 });
    expect(new Uint8Array(await stored("test/small.bin"))).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("streams a larger file as 5 MiB parts and a last one, holding at most a part and what came since", async () => {
    const { bucket, counts } = countingBucket();
    const writer = new R2ObjectWriter(bucket, "test/large.bin", {});
    const chunk = new Uint8Array(3 * 1024 * 1024);
    const expected = new Uint8Array(4 * chunk.length);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < chunk.length; j += 65_536) crypto.getRandomValues(chunk.subarray(j, j + 65_536));
      writer.appendBytes(chunk);
      expected.set(chunk, i * chunk.length);
      await writer.flush();
      expect(writer.index).toBeLessThan(PART_BYTES);
    }
    await writer.finish();
    expect(counts).toMatchObject({ creates: 1, parts: 3, completes: 1, puts: 0, aborts: 0 });
    const written = new Uint8Array(await stored("test/large.bin"));
    expect(written.length).toBe(expected.length);
    expect(written.every((byte, i) => byte === expected[i])).toBe(true);
  });

  it("aborts the upload when a part fails, leaving no object", async () => {
    const { bucket, counts } = countingBucket(2);
    const writer = new R2ObjectWriter(bucket, "test/failed.bin", {});
    writer.appendBytes(new Uint8Array(PART_BYTES * 2 + 10));
    await expect(writer.finish()).rejects.toThrow(/injected/);
    expect(counts.aborts).toBe(1);
    expect(await env.ANALYTICS_BUCKET.head("test/failed.bin")).toBeNull();
  });

  it("carries a Parquet file of several row groups across parts, readable whole", async () => {
    const writer = new R2ObjectWriter(env.ANALYTICS_BUCKET, "test/large.parquet", {});
    const parquet = new ParquetWriter({ writer, schema: EXPORT_SCHEMAS.metadata });
    const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
    const rows: { conversation_id: string; key: string; value: string; num: number | null }[] = [];
    for (let group = 0; group < 3; group++) {
      const batch = Array.from({ length: 1500 }, (_, i) => ({
        conversation_id: `conv_${group}_${i}`,
        key: `chat-widget:k${group}`,
        value: hex(crypto.getRandomValues(new Uint8Array(1024))),
        num: i % 2 ? i : null,
      }));
      rows.push(...batch);
      await parquet.write({
        columnData: (["conversation_id", "key", "value", "num"] as const).map((name) => ({ name, data: batch.map((row) => row[name]) })),
        rowGroupSize: batch.length,
      });
    }
    await parquet.finish();
    expect(writer.offset).toBeGreaterThan(PART_BYTES);
    const bytes = await stored("test/large.parquet");
    expect(bytes.byteLength).toBe(writer.offset);
    expect(parquetMetadata(bytes).row_groups).toHaveLength(3);
    expect(await parquetReadObjects({ file: bytes })).toEqual(rows);
  });

  it("writes what a ByteWriter would, byte for byte", async () => {
    const columns = [
      { name: "conversation_id", data: ["a", "b"] },
      { name: "key", data: ["k", "k"] },
      { name: "value", data: ["1", "x"] },
      { name: "num", data: [1, null] },
    ];
    const inMemory = new ByteWriter();
    const a = new ParquetWriter({ writer: inMemory, schema: EXPORT_SCHEMAS.metadata });
    a.write({ columnData: columns });
    a.finish();
    const sink = new R2ObjectWriter(env.ANALYTICS_BUCKET, "test/same.parquet", {});
    const b = new ParquetWriter({ writer: sink, schema: EXPORT_SCHEMAS.metadata });
    await b.write({ columnData: columns });
    await b.finish();
    expect(new Uint8Array(await stored("test/same.parquet"))).toEqual(inMemory.getBytes());
  });
});

describe("the daily export (Cron Trigger)", () => {
  it("is the Worker's scheduled handler, on the schedule wrangler.toml gives", () => {
    expect(worker.scheduled).toBe(exportAnalyticsDaily);
    expect(wranglerToml).toMatch(/\[triggers\]\ncrons = \["30 0 \* \* \*"\]/);
    expect(cronExportDays(Date.parse("2026-01-03T00:30:00Z"))).toEqual({ from: "2026-01-01", to: "2026-01-03" });
    expect(CRON_EXPORT_DAYS).toBe(2);
  });

  it("exports the two days before the run for every chatbot with conversations then", async () => {
    const owner = await createTeam();
    const chatbots = [(await createChatbot(owner.apiKey)).id, (await createChatbot(owner.apiKey)).id];
    await seedConversations(owner.id, chatbots[0]!, [
      { startedAt: "2025-06-13T23:00:00.000Z" },
      { startedAt: "2025-06-14T10:00:00.000Z", metadata: { plan: "pro" } },
      { startedAt: "2025-06-15T23:59:59.999Z" },
      { startedAt: "2025-06-16T00:10:00.000Z" },
    ]);
    await seedConversations(owner.id, chatbots[1]!, [{ startedAt: "2025-06-15T08:00:00.000Z", outcome: "purchase" }]);
    await exportAnalyticsDaily(createScheduledController({ scheduledTime: Date.parse("2025-06-16T00:30:00Z"), cron: "30 0 * * *" }), env);
    const listed = await env.ANALYTICS_BUCKET.list({ prefix: `analytics/${owner.id}/` });
    expect(listed.objects.map((object) => object.key).sort()).toEqual(
      [
        objectKey(owner.id, "conversations", chatbots[0]!, "2025-06-14"),
        objectKey(owner.id, "metadata", chatbots[0]!, "2025-06-14"),
        objectKey(owner.id, "conversations", chatbots[0]!, "2025-06-15"),
        objectKey(owner.id, "metadata", chatbots[0]!, "2025-06-15"),
        objectKey(owner.id, "conversations", chatbots[1]!, "2025-06-15"),
        objectKey(owner.id, "metadata", chatbots[1]!, "2025-06-15"),
      ].sort(),
    );
    const rows = await parquetReadObjects({ file: await stored(objectKey(owner.id, "conversations", chatbots[1]!, "2025-06-15")) });
    expect(rows).toMatchObject([{ outcome: "purchase" }]);
  });
});

describeApiKeyAuth({
  setup: async () => {
    const owner = await createTeam();
    const chatbot = await createChatbot(owner.apiKey);
    await seedConversations(owner.id, chatbot.id, [{ startedAt: "2026-01-01T10:00:00.000Z", metadata: { plan: "pro" } }]);
    const exported = await call("POST", "/v1/analytics/exports", {
      token: owner.apiKey,
      body: { chatbot_id: chatbot.id, from: "2026-01-01" },
    });
    if (exported.status !== 200) throw new Error(`export: ${exported.status} ${exported.text}`);
    return { team: owner, ids: { chatbot: chatbot.id, team: owner.id } };
  },
  routes: [
    { method: "POST", path: () => "/v1/analytics/exports", body: (ids) => ({ chatbot_id: ids.chatbot, from: "2026-01-01" }) },
    { method: "GET", path: (ids) => `/v1/analytics/exports?chatbot_id=${ids.chatbot}` },
    { method: "GET", path: (ids) => `/v1/analytics/exports/${objectKey(ids.team!, "conversations", ids.chatbot!, "2026-01-01")}` },
  ],
});
