import { beforeAll, describe, expect, it } from "vitest";
import { numericValue } from "../../src/conversations/storage";
import { type Seeded, seedProjection } from "../support/analytics-seed";
import { call, createChatbot, createTeam, expectFieldErrors } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { costOf } from "../support/cost";

const CONVERSATIONS: Record<string, Seeded> = {
  c1: { day: "2026-01-01", metadata: { plan: "pro", cart: "10", utm: "google" }, outcome: "purchase", status: "ended" },
  c2: { day: "2026-01-01", metadata: { plan: "free", cart: "abc", utm: "google" }, outcome: "handoff" },
  c3: { day: "2026-01-02", metadata: { plan: "pro", cart: "150.5", utm: "fb" }, outcome: null },
  c4: { day: "2026-01-03", metadata: { plan: "enterprise" }, outcome: "purchase" },
  c5: { day: "2026-01-03", metadata: { plan: "pro plus", cart: "1e3", utm: "fb" }, outcome: "resolved" },
};

let team: { id: string; apiKey: string };
let chatbotId: string;
let ids: Record<string, string>;
const names = (byId: Record<string, string>, list: string[]): string[] =>
  list.map((id) => Object.entries(byId).find(([, value]) => value === id)?.[0] ?? id).sort();

beforeAll(async () => {
  team = await createTeam();
  chatbotId = (await createChatbot(team.apiKey)).id;
  ids = await seedProjection(team.id, chatbotId, CONVERSATIONS);
});

function analytics(body: Record<string, unknown>, apiKey = team.apiKey) {
  return call("POST", "/v1/analytics/conversations", { token: apiKey, body: { chatbot_id: chatbotId, ...body } });
}

/** The seeded conversations (by name) that the filters keep, read through the list's `filter` parameter. */
async function listed(filters: unknown[]): Promise<string[]> {
  const response = await call(
    "GET",
    `/v1/conversations?chatbot_id=${chatbotId}&limit=100&filter=${encodeURIComponent(JSON.stringify(filters))}`,
    {
      token: team.apiKey,
    },
  );
  expect(response.status, response.text).toBe(200);
  return names(
    ids,
    response.json.conversations.map((row: { id: string }) => row.id),
  );
}

const OPERATORS: [string, unknown, string[]][] = [
  ["eq", { key: "chat-widget:plan", op: "eq", value: "pro" }, ["c1", "c3"]],
  ["neq (the key present with another value)", { key: "chat-widget:plan", op: "neq", value: "pro" }, ["c2", "c4", "c5"]],
  ["in", { key: "chat-widget:plan", op: "in", value: ["free", "enterprise"] }, ["c2", "c4"]],
  ["exists", { key: "chat-widget:cart", op: "exists" }, ["c1", "c2", "c3", "c5"]],
  ["missing", { key: "chat-widget:utm", op: "missing" }, ["c4"]],
  ["contains", { key: "chat-widget:plan", op: "contains", value: "pro" }, ["c1", "c3", "c5"]],
  ["gt (numbers only: abc never matches)", { key: "chat-widget:cart", op: "gt", value: 10 }, ["c3", "c5"]],
  ["gte", { key: "chat-widget:cart", op: "gte", value: 10 }, ["c1", "c3", "c5"]],
  ["lt", { key: "chat-widget:cart", op: "lt", value: 150.5 }, ["c1"]],
  ["lte", { key: "chat-widget:cart", op: "lte", value: 150.5 }, ["c1", "c3"]],
  ["lt a huge number: abc still does not match", { key: "chat-widget:cart", op: "lt", value: 1e300 }, ["c1", "c3", "c5"]],
  ["outcome eq", { key: "outcome", op: "eq", value: "purchase" }, ["c1", "c4"]],
  ["outcome missing", { key: "outcome", op: "missing" }, ["c3"]],
  ["outcome in", { key: "outcome", op: "in", value: ["handoff", "resolved"] }, ["c2", "c5"]],
  ["status eq", { key: "status", op: "eq", value: "ended" }, ["c1"]],
  ["an unknown key eq", { key: "chat-widget:nope", op: "eq", value: "x" }, []],
  ["an unknown key missing", { key: "chat-widget:nope", op: "missing" }, ["c1", "c2", "c3", "c4", "c5"]],
];

describe("POST /v1/analytics/conversations", () => {
  for (const [name, filter, expected] of OPERATORS) {
    it(`filters with ${name}, as the list's filter parameter does`, async () => {
      const response = await analytics({ filters: [filter] });
      expect(response.status, response.text).toBe(200);
      expect(response.json.total).toBe(expected.length);
      expect(response.json.groups).toEqual([expect.objectContaining({ value: "all", conversations: expected.length })]);
      expect(await listed([filter])).toEqual(expected);
    });
  }

  it("ands filters together", async () => {
    const filters = [
      { key: "chat-widget:plan", op: "contains", value: "pro" },
      { key: "chat-widget:cart", op: "gt", value: 100 },
      { key: "outcome", op: "exists" },
    ];
    expect((await analytics({ filters })).json.total).toBe(1);
    expect(await listed(filters)).toEqual(["c5"]);
  });

  it("answers one group, all, with outcome counts; none for conversations without an outcome", async () => {
    const response = await analytics({});
    expect(response.json).toEqual({
      total: 5,
      groups: [{ value: "all", conversations: 5, outcomes: { purchase: 2, handoff: 1, resolved: 1, none: 1 } }],
    });
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const empty = await analytics({ filters: [{ key: "chat-widget:plan", op: "eq", value: "none such" }] });
    expect(empty.json).toEqual({ total: 0, groups: [{ value: "all", conversations: 0, outcomes: {} }] });
  });

  it("groups by a metadata key, largest first, the conversations without it last as null", async () => {
    const response = await analytics({ group_by: "chat-widget:utm" });
    expect(response.json).toEqual({
      total: 5,
      groups: [
        { value: "fb", conversations: 2, outcomes: { none: 1, resolved: 1 } },
        { value: "google", conversations: 2, outcomes: { purchase: 1, handoff: 1 } },
        { value: null, conversations: 1, outcomes: { purchase: 1 } },
      ],
    });
  });

  it("groups by one key while filtering on another, and buckets under a filter", async () => {
    const response = await analytics({ group_by: "chat-widget:plan", filters: [{ key: "chat-widget:utm", op: "eq", value: "fb" }] });
    expect(response.json).toEqual({
      total: 2,
      groups: [
        { value: "pro", conversations: 1, outcomes: { none: 1 } },
        { value: "pro plus", conversations: 1, outcomes: { resolved: 1 } },
      ],
    });
    const buckets = await analytics({
      group_by: "chat-widget:cart",
      buckets: [100],
      filters: [{ key: "chat-widget:plan", op: "in", value: ["pro", "free"] }],
    });
    expect(buckets.json.groups).toEqual([
      { value: "<100", conversations: 1, outcomes: { purchase: 1 } },
      { value: ">=100", conversations: 1, outcomes: { none: 1 } },
      { value: "other", conversations: 1, outcomes: { handoff: 1 } },
    ]);
  });

  it("groups by outcome, status and day (of started_at, UTC, in order)", async () => {
    const byOutcome = await analytics({ group_by: "outcome" });
    expect(byOutcome.json.groups.map((group: { value: string; conversations: number }) => [group.value, group.conversations])).toEqual([
      ["purchase", 2],
      ["handoff", 1],
      ["resolved", 1],
      [null, 1],
    ]);
    const byStatus = await analytics({ group_by: "status" });
    expect(byStatus.json.groups).toEqual([
      { value: "open", conversations: 4, outcomes: { handoff: 1, none: 1, purchase: 1, resolved: 1 } },
      { value: "ended", conversations: 1, outcomes: { purchase: 1 } },
    ]);
    const byDay = await analytics({ group_by: "day" });
    expect(byDay.json.groups.map((group: { value: string; conversations: number }) => [group.value, group.conversations])).toEqual([
      ["2026-01-01", 2],
      ["2026-01-02", 1],
      ["2026-01-03", 2],
    ]);
  });

  it("buckets a numeric key: [lo, hi) ranges, below and above, and other for missing or not numeric", async () => {
    const response = await analytics({ group_by: "chat-widget:cart", buckets: [0, 10, 150.5, 1000] });
    expect(response.json).toEqual({
      total: 5,
      groups: [
        { value: "<0", conversations: 0, outcomes: {} },
        { value: "0-10", conversations: 0, outcomes: {} },
        { value: "10-150.5", conversations: 1, outcomes: { purchase: 1 } },
        { value: "150.5-1000", conversations: 1, outcomes: { none: 1 } },
        { value: ">=1000", conversations: 1, outcomes: { resolved: 1 } },
        { value: "other", conversations: 2, outcomes: { handoff: 1, purchase: 1 } },
      ],
    });
    const unknown = await analytics({ group_by: "chat-widget:nope", buckets: [1] });
    expect(unknown.json.groups.at(-1)).toEqual({
      value: "other",
      conversations: 5,
      outcomes: { purchase: 2, handoff: 1, resolved: 1, none: 1 },
    });
  });

  it("bounds started_at by from (inclusive) and to (exclusive), dates or times with offsets", async () => {
    expect((await analytics({ from: "2026-01-02", to: "2026-01-03" })).json.total).toBe(1);
    expect((await analytics({ from: "2026-01-01T12:00:00Z" })).json.total).toBe(5);
    expect((await analytics({ from: "2026-01-01T13:00:00+01:00", to: "2026-01-01T12:00:00.001Z" })).json.total).toBe(2);
    expect((await analytics({ to: "2026-01-01T12:00:00Z", group_by: "day" })).json).toEqual({ total: 0, groups: [] });
  });

  it("reads O(matches) rows for an equality filter, not O(chatbot)", async () => {
    const big = await createChatbot(team.apiKey);
    const many: Record<string, Seeded> = {};
    for (let i = 0; i < 60; i++) many[`m${i}`] = { day: "2026-02-01", metadata: { user_id: `user-${i}`, plan: "pro" }, outcome: null };
    await seedProjection(team.id, big.id, many);
    const one = await call("POST", "/v1/analytics/conversations", {
      token: team.apiKey,
      body: { chatbot_id: big.id, filters: [{ key: "chat-widget:user_id", op: "eq", value: "user-7" }] },
    });
    expect(one.json.total).toBe(1);
    expect(costOf(one).d1RowsRead).toBeLessThan(20);
    const none = await call("POST", "/v1/analytics/conversations", {
      token: team.apiKey,
      body: { chatbot_id: big.id, filters: [{ key: "chat-widget:user_id", op: "eq", value: "nobody" }] },
    });
    expect(none.json.total).toBe(0);
    expect(costOf(none).d1RowsRead).toBeLessThan(20);
    // The walk the index saves: a filter no index serves reads every conversation.
    const walk = await call("POST", "/v1/analytics/conversations", {
      token: team.apiKey,
      body: { chatbot_id: big.id, filters: [{ key: "chat-widget:user_id", op: "neq", value: "user-7" }] },
    });
    expect(walk.json.total).toBe(59);
    expect(costOf(walk).d1RowsRead).toBeGreaterThanOrEqual(60);
  });

  it("answers another team's chatbot as a missing one", async () => {
    const other = await createTeam();
    const response = await analytics({}, other.apiKey);
    expect(response.status).toBe(404);
  });

  it("refuses bad bodies with pointers to the fields", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ filters: [{ key: "chat-widget:plan", op: "like", value: "x" }] }, "/filters/0/op"],
      [{ filters: [{ key: "chat-widget:cart", op: "gt", value: "10" }] }, "/filters/0/value"],
      [{ filters: [{ key: "chat-widget:plan", op: "in", value: [] }] }, "/filters/0/value"],
      [{ filters: [{ key: "chat-widget:plan", op: "eq" }] }, "/filters/0/value"],
      [{ filters: [{ key: "", op: "exists" }] }, "/filters/0/key"],
      [{ filters: [{ key: "outcome", op: "gt", value: 1 }] }, "/filters/0/key"],
      [{ filters: Array.from({ length: 11 }, () => ({ key: "k", op: "exists" })) }, "/filters"],
      [{ group_by: "chat-widget:cart", buckets: [10, 5] }, "/buckets"],
      [{ group_by: "chat-widget:cart", buckets: [] }, "/buckets"],
      [{ group_by: "day", buckets: [1] }, "/buckets"],
      [{ buckets: [1] }, "/buckets"],
      [{ from: "yesterday" }, "/from"],
      [{ from: "2026-01-02", to: "2026-01-01" }, "/to"],
      [{ extra: 1 }, "/extra"],
      [{ chatbot_id: 7 }, "/chatbot_id"],
    ];
    for (const [body, pointer] of cases) {
      const response = await analytics(body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expectFieldErrors(response, [pointer]);
    }
  });
});

describe("GET /v1/conversations?filter=", () => {
  it("refuses a filter that is not JSON or not filters, naming the field", async () => {
    const notJson = await call("GET", `/v1/conversations?filter=${encodeURIComponent("[{")}`, { token: team.apiKey });
    expect(notJson.status).toBe(400);
    const badOp = await call("GET", `/v1/conversations?filter=${encodeURIComponent('[{"key":"k","op":"like","value":"x"}]')}`, {
      token: team.apiKey,
    });
    expect(badOp.status).toBe(400);
    expectFieldErrors(badOp, ["/0/op"]);
  });

  it("filters across the team's chatbots when no chatbot is named", async () => {
    const response = await call(
      "GET",
      `/v1/conversations?limit=100&filter=${encodeURIComponent(JSON.stringify([{ key: "chat-widget:plan", op: "eq", value: "enterprise" }]))}`,
      { token: team.apiKey },
    );
    expect(
      names(
        ids,
        response.json.conversations.map((row: { id: string }) => row.id),
      ),
    ).toEqual(["c4"]);
  });
});

describe("the list's filters on a rare value", () => {
  it("reads the value's matches from its index, pages newest first, and walks for a common value", async () => {
    const bot = await createChatbot(team.apiKey);
    const many: Record<string, Seeded> = {};
    for (let i = 0; i < 1010; i++)
      many[`r${i}`] = { day: "2026-05-01", metadata: { user_id: i % 250 === 0 ? "rare" : `user-${i}`, plan: "pro" }, outcome: null };
    const seeded = await seedProjection(team.id, bot.id, many);
    const rare = ["r1000", "r750", "r500", "r250", "r0"].map((name) => seeded[name]);
    const list = (query: string) => call("GET", `/v1/conversations?chatbot_id=${bot.id}&${query}`, { token: team.apiKey });
    const pages: string[] = [];
    let cursor = "";
    for (let page = 0; page < 3; page++) {
      const response = await list(`metadata_key=chat-widget:user_id&metadata_value=rare&limit=2${cursor}`);
      expect(response.status, response.text).toBe(200);
      // The index's 5 matches and their conversations, not the chatbot's 1,010.
      expect(costOf(response).d1RowsRead).toBeLessThan(40);
      pages.push(...response.json.conversations.map((row: { id: string }) => row.id));
      cursor = response.json.next_cursor ? `&cursor=${response.json.next_cursor}` : "";
    }
    expect(cursor).toBe("");
    // Conversation ids are time-ordered: newest first is descending id order.
    expect(pages).toEqual([...rare].sort().reverse());
    const filtered = await list(
      `filter=${encodeURIComponent(JSON.stringify([{ key: "chat-widget:user_id", op: "in", value: ["rare", "user-3"] }]))}`,
    );
    expect(filtered.json.conversations).toHaveLength(6);
    expect(costOf(filtered).d1RowsRead).toBeLessThan(60);
    // 1,010 matches: more than the index is worth sorting, so the newest are found walking.
    const common = await list("metadata_key=chat-widget:plan&metadata_value=pro&limit=3");
    expect(common.json.conversations.map((row: { id: string }) => row.id)).toEqual(Object.values(seeded).sort().reverse().slice(0, 3));
  });
});

describe("numericValue", () => {
  it("parses JSON's number syntax only, finite", () => {
    expect(["10", "-1.5", "1e3", "0", "0.25"].map(numericValue)).toEqual([10, -1.5, 1000, 0, 0.25]);
    expect(["abc", "", " 1", "1 ", "+1", ".5", "1.", "0x10", "Infinity", "NaN", "1e999", "01", "1,000"].map(numericValue)).toEqual(
      Array(13).fill(null),
    );
  });
});

describeApiKeyAuth({
  setup: async () => {
    const owner = await createTeam();
    const chatbot = await createChatbot(owner.apiKey);
    return { team: owner, ids: { chatbot: chatbot.id } };
  },
  routes: [{ method: "POST", path: () => "/v1/analytics/conversations", body: (ids) => ({ chatbot_id: ids.chatbot }) }],
});
