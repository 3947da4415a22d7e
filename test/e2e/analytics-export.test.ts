// The Parquet export end to end on `wrangler dev` (test/browser/global-setup.mjs): conversations
// started through the widget route with metadata, outcomes set through the API, the projection
// flushed by the conversation objects' alarms, the days exported to the local R2 bucket and
// downloaded through the API, then read back by DuckDB with Hive partitioning. DuckDB's segment
// counts must be the analytics API's for the same chatbot.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, describe, expect, it } from "vitest";
import { api, BASE, createChatbot } from "../browser/support";
import { readResponse } from "../support/responses";

/** What each conversation is started with (widget keys) and then given through the API. */
const SEEDS: { data: Record<string, string>; outcome: string | null; status?: "ended" }[] = [
  { data: { utm_source: "newsletter", cart_value: "30" }, outcome: "purchase" },
  { data: { utm_source: "newsletter", cart_value: "75.5" }, outcome: "purchase", status: "ended" },
  { data: { utm_source: "newsletter", cart_value: "n/a" }, outcome: null },
  { data: { utm_source: "newsletter", cart_value: "100" }, outcome: "resolved" },
  { data: { utm_source: "google", cart_value: "120" }, outcome: "handoff" },
  { data: { utm_source: "google", cart_value: "250" }, outcome: "purchase", status: "ended" },
  { data: { utm_source: "google" }, outcome: null },
  { data: { utm_source: "facebook", cart_value: "50" }, outcome: "handoff" },
  { data: { cart_value: "199.99" }, outcome: "purchase" },
  { data: { plan: "free" }, outcome: null },
];
const BUCKETS = [50, 100, 200];
/** The projection is written by each conversation's alarm, 30 s after its last change. */
const FLUSH_WAIT_MS = 90_000;

type Group = { value: string | null; conversations: number; outcomes: Record<string, number> };

const workdir = mkdtempSync(path.join(tmpdir(), "chat-context-export-"));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

/** A widget start from this file's own client address, so other files' starts do not share its rate limit. */
async function startConversation(chatbotId: string, data: Record<string, string>): Promise<string> {
  const response = await readResponse(
    await fetch(`${BASE}/v1/widget/conversations`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "CF-Connecting-IP": "203.0.113.41" },
      body: JSON.stringify({ chatbot_id: chatbotId, data }),
    }),
  );
  expect(response.status, response.text).toBe(201);
  return response.json.conversation_id;
}

function analytics(apiKey: string, body: Record<string, unknown>) {
  return api("POST", "/v1/analytics/conversations", { token: apiKey, body });
}

/** Groups in one order whatever their source: by value, null last. */
const sorted = (groups: Group[]) => [...groups].sort((a, b) => String(a.value ?? "\uffff").localeCompare(String(b.value ?? "\uffff")));

/** DuckDB's rows (group, outcome, count) as the API's groups. */
function groupsOf(rows: Record<string, unknown>[]): Group[] {
  const byValue = new Map<string | null, Group>();
  for (const row of rows) {
    const value = row.grp === null ? null : String(row.grp);
    const group = byValue.get(value) ?? { value, conversations: 0, outcomes: {} };
    const n = Number(row.n);
    group.conversations += n;
    group.outcomes[String(row.outcome)] = (group.outcomes[String(row.outcome)] ?? 0) + n;
    byValue.set(value, group);
  }
  return sorted([...byValue.values()]);
}

describe("the Parquet export, read back by DuckDB", () => {
  it("gives DuckDB the API's segment by utm_source and cart_value buckets against outcomes", { timeout: 180_000 }, async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const ids: string[] = [];
    for (const seed of SEEDS) ids.push(await startConversation(chatbotId, seed.data));
    for (const [i, seed] of SEEDS.entries()) {
      if (seed.outcome === null && !seed.status) continue;
      const patched = await api("PATCH", `/v1/conversations/${ids[i]}`, {
        token: apiKey,
        body: { outcome: seed.outcome, ...(seed.status ? { status: seed.status } : {}) },
      });
      expect(patched.status, patched.text).toBe(200);
    }

    // Wait for the alarms: until every seeded utm_source is in the projection.
    const expectedUtm = SEEDS.filter((seed) => seed.data.utm_source).length;
    const deadline = Date.now() + FLUSH_WAIT_MS;
    let bySource = await analytics(apiKey, { chatbot_id: chatbotId, group_by: "chat-widget:utm_source" });
    const projected = (groups: Group[]) =>
      groups.filter((group) => group.value !== null).reduce((sum, group) => sum + group.conversations, 0);
    while (projected(bySource.json.groups) < expectedUtm && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      bySource = await analytics(apiKey, { chatbot_id: chatbotId, group_by: "chat-widget:utm_source" });
    }
    expect(bySource.json.total).toBe(SEEDS.length);
    expect(projected(bySource.json.groups)).toBe(expectedUtm);
    // cart_value was flushed by the same alarms as utm_source.
    const buckets = await analytics(apiKey, { chatbot_id: chatbotId, group_by: "chat-widget:cart_value", buckets: BUCKETS });
    const byDay = await analytics(apiKey, { chatbot_id: chatbotId, group_by: "day" });

    // Export around today (UTC): the conversations may have started either side of midnight.
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const exported = await api("POST", "/v1/analytics/exports", {
      token: apiKey,
      body: { chatbot_id: chatbotId, from: day(-1), to: day(2) },
    });
    expect(exported.status, exported.text).toBe(200);
    expect(exported.json).toMatchObject({ conversations: SEEDS.length, next_from: null });

    // Download every object the listing names, to the same layout on disk.
    const listed = await api("GET", `/v1/analytics/exports?chatbot_id=${chatbotId}`, { token: apiKey });
    expect(listed.status, listed.text).toBe(200);
    expect(listed.json.objects.map((object: { key: string }) => object.key).sort()).toEqual(
      exported.json.objects.map((object: { key: string }) => object.key).sort(),
    );
    for (const object of listed.json.objects as { key: string; bytes: number }[]) {
      const response = await fetch(`${BASE}/v1/analytics/exports/${object.key}`, { headers: { Authorization: `Bearer ${apiKey}` } });
      expect(response.status).toBe(200);
      const bytes = new Uint8Array(await response.arrayBuffer());
      expect(bytes.length).toBe(object.bytes);
      const file = path.join(workdir, ...object.key.split("/"));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, bytes);
    }

    const duck = await DuckDBInstance.create(":memory:");
    const db = await duck.connect();
    try {
      const root = workdir.replaceAll("'", "''");
      await db.run(
        `CREATE VIEW conversations AS SELECT * FROM read_parquet('${root}/analytics/*/conversations/**/*.parquet', hive_partitioning = true)`,
      );
      await db.run(
        `CREATE VIEW metadata AS SELECT * FROM read_parquet('${root}/analytics/*/metadata/**/*.parquet', hive_partitioning = true)`,
      );
      const rows = async (sql: string) => (await db.runAndReadAll(sql, { chatbot: chatbotId })).getRowObjectsJS();

      // (a) the segment by utm_source, with outcomes ("none" for none), conversations without it as null.
      const segment = await rows(`
        SELECT m.value AS grp, coalesce(c.outcome, 'none') AS outcome, count(*) AS n
        FROM conversations c
        LEFT JOIN metadata m ON m.conversation_id = c.conversation_id AND m.day = c.day AND m.key = 'chat-widget:utm_source'
        WHERE c.chatbot_id = $chatbot
        GROUP BY ALL`);
      expect(groupsOf(segment)).toEqual(sorted(bySource.json.groups));

      // (b) cart_value buckets [50, 100, 200) against outcomes; "other" where it is missing or no number.
      const bucketed = await rows(`
        SELECT CASE WHEN m.num IS NULL THEN 'other' WHEN m.num < 50 THEN '<50' WHEN m.num < 100 THEN '50-100'
                    WHEN m.num < 200 THEN '100-200' ELSE '>=200' END AS grp,
               coalesce(c.outcome, 'none') AS outcome, count(*) AS n
        FROM conversations c
        LEFT JOIN metadata m ON m.conversation_id = c.conversation_id AND m.day = c.day AND m.key = 'chat-widget:cart_value'
        WHERE c.chatbot_id = $chatbot
        GROUP BY ALL`);
      expect(groupsOf(bucketed)).toEqual(sorted(buckets.json.groups.filter((group: Group) => group.conversations > 0)));

      // The days too, from the partition names; and the columns as stored.
      const days = await rows(`SELECT CAST(day AS VARCHAR) AS grp, coalesce(outcome, 'none') AS outcome, count(*) AS n
        FROM conversations WHERE chatbot_id = $chatbot GROUP BY ALL`);
      expect(groupsOf(days)).toEqual(sorted(byDay.json.groups));
      const [ended] = await rows(`SELECT count(*) AS n, min(typeof(started_at)) AS type FROM conversations
        WHERE chatbot_id = $chatbot AND status = 'ended' AND ended_at >= started_at`);
      expect(ended).toEqual({ n: 2n, type: "TIMESTAMP WITH TIME ZONE" });
      const [cart] = await rows(`SELECT sum(num) AS total FROM metadata WHERE chatbot_id = $chatbot AND key = 'chat-widget:cart_value'`);
      expect(cart!.total).toBeCloseTo(30 + 75.5 + 100 + 120 + 250 + 50 + 199.99);
    } finally {
      db.closeSync();
      duck.closeSync();
    }
  });
});
