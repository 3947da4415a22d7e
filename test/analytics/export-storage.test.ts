import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ExportDay,
  listChatbotsWithConversations,
  listExportDays,
  nextDay,
  readConversationPage,
  readMetadataPage,
} from "../../src/analytics/export-storage";
import { newCost } from "../../src/shared/cost";
import { type SeededConversation, seedConversations } from "../support/analytics-seed";
import { countD1Statements, createChatbot, createTeam, queryPlan } from "../support/api";

let team: { id: string; apiKey: string };
let chatbotId: string;
let otherChatbotId: string;
let seeded: SeededConversation[];

beforeAll(async () => {
  team = await createTeam();
  chatbotId = (await createChatbot(team.apiKey)).id;
  otherChatbotId = (await createChatbot(team.apiKey)).id;
  // Interleaved: March 2, February 28 and another chatbot's conversation fall inside March 1's span of seq.
  const [a, b] = [
    await seedConversations(team.id, chatbotId, [
      { startedAt: "2026-03-01T00:00:00.000Z", metadata: { plan: "pro", cart: "10" }, outcome: "purchase", status: "ended", messages: 3 },
      { startedAt: "2026-03-02T00:00:00.000Z", metadata: { plan: "free" } },
    ]),
    await seedConversations(team.id, otherChatbotId, [{ startedAt: "2026-03-01T06:00:00.000Z", metadata: { plan: "x" } }]),
  ];
  const c = await seedConversations(team.id, chatbotId, [
    { startedAt: "2026-03-01T23:59:59.999Z", metadata: { plan: "free", cart: "n/a", utm: "google" } },
    { startedAt: "2026-02-28T23:59:59.999Z", metadata: { plan: "old" } },
    { startedAt: "2026-03-01T12:00:00.000Z", metadata: { cart: "1e3" }, outcome: "handoff" },
  ]);
  seeded = [...a, ...b, ...c];
});

async function march(day: string): Promise<ExportDay> {
  const days = await listExportDays(env.DB, chatbotId, day, nextDay(day));
  expect(days).toHaveLength(1);
  return days[0]!;
}

describe("analytics export storage", () => {
  it("lists the chatbot's days in [from, to) with their counts and seq spans, midnight UTC bounding each", async () => {
    const cost = newCost();
    const days = await listExportDays(env.DB, chatbotId, "2026-02-28", "2026-03-03", cost);
    const seqOf = async (id: string) =>
      (await env.DB.prepare("SELECT seq FROM conversations WHERE id = ?").bind(id).first<{ seq: number }>())!.seq;
    const byName = async (...indexes: number[]) => Promise.all(indexes.map((i) => seqOf(seeded[i]!.id)));
    const [first, last] = await byName(0, 5);
    expect(days).toEqual([
      { day: "2026-02-28", conversations: 1, firstSeq: (await byName(4))[0], lastSeq: (await byName(4))[0] },
      { day: "2026-03-01", conversations: 3, firstSeq: first, lastSeq: last },
      { day: "2026-03-02", conversations: 1, firstSeq: (await byName(1))[0], lastSeq: (await byName(1))[0] },
    ]);
    expect(cost.d1RowsRead).toBeGreaterThan(0);
    expect(await listExportDays(env.DB, chatbotId, "2026-03-01", "2026-03-02")).toHaveLength(1);
    expect(await listExportDays(env.DB, chatbotId, "2026-03-03", "2026-04-01")).toEqual([]);
  });

  it("pages a day's conversations in seq order, leaving out other days and other chatbots inside its span", async () => {
    const day = await march("2026-03-01");
    const first = await readConversationPage(env.DB, { chatbotId, day, afterSeq: 0, limit: 2 });
    expect(first.map((row) => row.id)).toEqual([seeded[0]!.id, seeded[3]!.id]);
    expect(first[0]).toEqual({
      seq: day.firstSeq,
      id: seeded[0]!.id,
      started_at: "2026-03-01T00:00:00.000Z",
      status: "ended",
      outcome: "purchase",
      ended_at: "2026-03-01T00:00:00.000Z",
      last_message_at: "2026-03-01T00:00:00.000Z",
      message_count: 3,
      channel: "web",
      participant_id: seeded[0]!.participantId,
    });
    const second = await readConversationPage(env.DB, { chatbotId, day, afterSeq: first.at(-1)!.seq, limit: 2 });
    expect(second.map((row) => row.id)).toEqual([seeded[5]!.id]);
    expect(await readConversationPage(env.DB, { chatbotId, day, afterSeq: second[0]!.seq, limit: 2 })).toEqual([]);
  });

  it("reads a day's own conversations only, however many other chatbots started inside its span", async () => {
    const busy = (await createChatbot(team.apiKey)).id;
    const ours = async (startedAt: string) => (await seedConversations(team.id, chatbotId, [{ startedAt }]))[0]!;
    const before = await ours("2026-04-10T08:00:00.000Z");
    await seedConversations(
      team.id,
      busy,
      Array.from({ length: 200 }, (_, i) => ({ startedAt: `2026-04-10T09:${String(i % 60).padStart(2, "0")}:00.000Z` })),
    );
    const after = await ours("2026-04-10T10:00:00.000Z");
    const day = await march("2026-04-10");
    const cost = newCost();
    const page = await readConversationPage(env.DB, { chatbotId, day, afterSeq: 0, limit: 1_000 }, cost);
    expect(page.map((row) => row.id)).toEqual([before.id, after.id]);
    // Two index entries and their rows, not the 200 conversations between them.
    expect(cost.d1RowsRead).toBeLessThanOrEqual(4);
  });

  it("pages a day's metadata by key name, then conversation, leaving out other days' pairs inside its span", async () => {
    const day = await march("2026-03-01");
    const all = [];
    let after = null;
    for (;;) {
      const page = await readMetadataPage(env.DB, { chatbotId, day, after, limit: 2 });
      all.push(...page);
      if (page.length < 2) break;
      after = { key: page.at(-1)!.key, conv: page.at(-1)!.conv };
    }
    expect(all.map(({ key, conversation_id, value, num, size }) => ({ key, conversation_id, value, num, size }))).toEqual([
      { key: "chat-widget:cart", conversation_id: seeded[0]!.id, value: "10", num: 10, size: 2 },
      { key: "chat-widget:cart", conversation_id: seeded[3]!.id, value: "n/a", num: null, size: 3 },
      { key: "chat-widget:cart", conversation_id: seeded[5]!.id, value: "1e3", num: 1000, size: 3 },
      { key: "chat-widget:plan", conversation_id: seeded[0]!.id, value: "pro", num: null, size: 3 },
      { key: "chat-widget:plan", conversation_id: seeded[3]!.id, value: "free", num: null, size: 4 },
      { key: "chat-widget:utm", conversation_id: seeded[3]!.id, value: "google", num: null, size: 6 },
    ]);
  });

  it("reads pages in index order: no sort of the chatbot's rows, whatever the page", async () => {
    const day = await march("2026-03-01");
    const { queries } = await countD1Statements(async () => {
      await readConversationPage(env.DB, { chatbotId, day, afterSeq: 0, limit: 2 });
      await readMetadataPage(env.DB, { chatbotId, day, after: null, limit: 2 });
    });
    for (const query of queries.slice(-2)) {
      const params = new Set(query.match(/\?\d+/g)).size;
      const details = (
        await queryPlan(
          query,
          Array.from({ length: params }, () => 0),
        )
      ).split(" | ");
      // Every table searched by an index range, none scanned, and ordered by the indexes
      // themselves: nothing is read whole to be sorted.
      for (const detail of details) expect(detail, query).toMatch(/^SEARCH \w+ USING (COVERING INDEX|INDEX|PRIMARY KEY) /);
      expect(details.join("\n"), query).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("lists the chatbots with conversations in [from, to), with their teams", async () => {
    const found = await listChatbotsWithConversations(env.DB, "2026-03-01", "2026-03-02");
    expect(found).toEqual(
      expect.arrayContaining([
        { team_id: team.id, chatbot_id: chatbotId },
        { team_id: team.id, chatbot_id: otherChatbotId },
      ]),
    );
    const later = await listChatbotsWithConversations(env.DB, "2026-03-02", "2026-03-03");
    expect(later).toContainEqual({ team_id: team.id, chatbot_id: chatbotId });
    expect(later).not.toContainEqual({ team_id: team.id, chatbot_id: otherChatbotId });
  });

  it("counts days forwards and backwards across months and years", () => {
    expect(nextDay("2026-02-28")).toBe("2026-03-01");
    expect(nextDay("2028-02-28")).toBe("2028-02-29");
    expect(nextDay("2026-12-31")).toBe("2027-01-01");
    expect(nextDay("2026-01-01", -2)).toBe("2025-12-30");
  });
});
