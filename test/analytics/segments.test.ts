// Segments of a whole chatbot are read from one key's index alone (the rows carry their
// conversation's day and outcome): they must answer exactly what counting conversation by
// conversation answers, whatever the values, outcomes, later outcome changes and day bounds.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type AnalyticsQuery, countConversations, GROUPS_MAX } from "../../src/analytics/storage";
import { updateConversationState } from "../../src/conversations/storage";
import { type Seeded, seedProjection } from "../support/analytics-seed";
import { createChatbot, createTeam } from "../support/api";

/** A small deterministic generator (mulberry32): the same data every run. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SOURCES = ["google", "fb", "newsletter", "<b>x</b>", "ünï", ""];
const CARTS = ["-5", "0", "4.99", "5.5", "10", "99.999", "100", "250", "1e3", "abc", " 5", "01", ""];
const OUTCOMES = ["purchase", "handoff", "resolved", "x-1", null];
const DAYS = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"];

function generate(next: () => number, count: number, prefix: string): Record<string, Seeded> {
  const pick = <T>(list: T[]) => list[Math.floor(next() * list.length)]!;
  const conversations: Record<string, Seeded> = {};
  for (let i = 0; i < count; i++) {
    const metadata: Record<string, string> = {};
    if (next() > 0.15) metadata.src = pick(SOURCES);
    if (next() > 0.1) metadata.cart = pick(CARTS);
    conversations[`${prefix}${i}`] = { day: pick(DAYS), metadata, outcome: pick(OUTCOMES), status: next() > 0.5 ? "ended" : "open" };
  }
  return conversations;
}

let teamId: string;
let chatbotId: string;

beforeAll(async () => {
  const team = await createTeam();
  teamId = team.id;
  chatbotId = (await createChatbot(team.apiKey)).id;
  const next = random(12);
  const ids = await seedProjection(teamId, chatbotId, generate(next, 240, "a"));
  // Another chatbot of the team with the same key names: its rows never count here.
  await seedProjection(teamId, (await createChatbot(team.apiKey)).id, generate(next, 40, "b"));
  // Outcomes changed after the metadata was projected: the rows must follow.
  for (const id of Object.values(ids).filter(() => next() < 0.25))
    await updateConversationState(env.DB, {
      id,
      status: "ended",
      outcome: OUTCOMES[Math.floor(next() * OUTCOMES.length)]!,
      endedAt: null,
    }).run();
});

async function bothPlans(query: Omit<AnalyticsQuery, "chatbotId" | "conditions">) {
  const full: AnalyticsQuery = { chatbotId, conditions: [], ...query };
  const [auto, rows] = [
    await countConversations(env.DB, full, undefined, "auto"),
    await countConversations(env.DB, full, undefined, "rows"),
  ];
  expect(auto, JSON.stringify(query)).toEqual(rows);
  return auto;
}

describe("segments read from one key's index", () => {
  const BOUNDS = [
    {},
    { from: "2026-03-02T00:00:00.000Z" },
    { to: "2026-03-04T00:00:00.000Z" },
    { from: "2026-03-02T00:00:00.000Z", to: "2026-03-05T00:00:00.000Z" },
    // Not midnights: counted conversation by conversation, the same answer either way.
    { from: "2026-03-02T12:00:00.000Z", to: "2026-03-05T11:59:59.999Z" },
    // No conversation in range.
    { from: "2027-01-01T00:00:00.000Z" },
  ];

  it("segments by a key's value with outcomes as counting each conversation does", async () => {
    for (const bounds of BOUNDS) {
      const answer = await bothPlans({ groupBy: { key: "chat-widget:src" }, ...bounds });
      if (Object.keys(bounds).length === 0) {
        expect(answer.total).toBe(240);
        expect(answer.groups.at(-1)!.value).toBeNull();
        expect(answer.groups.map((group) => group.value)).toContain("<b>x</b>");
      }
    }
    await bothPlans({ groupBy: { key: "chat-widget:cart" } });
    await bothPlans({ groupBy: { key: "chat-widget:never" } });
  });

  it("buckets numbers against outcomes as counting each conversation does", async () => {
    for (const buckets of [[0], [-5, 0, 5.5, 100], [1, 2, 3, 4, 5, 10, 50, 99.999, 100, 1000, 1001], [1e300]])
      for (const bounds of BOUNDS) {
        const answer = await bothPlans({ groupBy: { key: "chat-widget:cart", buckets }, ...bounds });
        expect(answer.groups.map((group) => group.value).at(-1)).toBe("other");
      }
    const unknown = await bothPlans({ groupBy: { key: "chat-widget:never", buckets: [1] } });
    expect(unknown.groups.at(-1)!.conversations).toBe(240);
  });

  it(`keeps the ${GROUPS_MAX} largest groups as counting each conversation does, the null group among ties`, async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    const many: Record<string, Seeded> = {};
    for (let i = 0; i < GROUPS_MAX + 4; i++) many[`m${i}`] = { day: "2026-04-01", metadata: { id: `v${i}` }, outcome: null };
    many.none = { day: "2026-04-01", metadata: {}, outcome: "handoff" };
    await seedProjection(team.id, bot.id, many);
    const query: AnalyticsQuery = { chatbotId: bot.id, conditions: [], groupBy: { key: "chat-widget:id" } };
    const auto = await countConversations(env.DB, query, undefined, "auto");
    expect(auto).toEqual(await countConversations(env.DB, query, undefined, "rows"));
    expect(auto.total).toBe(GROUPS_MAX + 5);
    expect(auto.groups).toHaveLength(GROUPS_MAX);
    expect(auto.groups.at(-1)).toEqual({ value: null, conversations: 1, outcomes: { handoff: 1 } });
  });
});
