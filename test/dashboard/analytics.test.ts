import { beforeAll, describe, expect, it } from "vitest";
import { BASE, call, countD1Statements, createChatbot, createTeam, flushProjection, startConversationWith } from "../support/api";
import { page, signIn } from "../support/dashboard";

type Seeded = { data: Record<string, string>; outcome?: string };

/**
 * Conversations as the widget starts them, with an outcome set through the API, then the
 * object's alarm run so the D1 projection holds their metadata (as it would 30 s later).
 */
async function seed(apiKey: string, chatbotId: string, conversations: Seeded[]): Promise<string[]> {
  const ids: string[] = [];
  for (const seeded of conversations) {
    const started = await startConversationWith(chatbotId, { data: seeded.data });
    if (seeded.outcome) {
      const patched = await call("PATCH", `/v1/conversations/${started.conversation_id}`, {
        token: apiKey,
        body: { outcome: seeded.outcome },
      });
      expect(patched.status, patched.text).toBe(200);
    }
    await flushProjection(started.conversation_id);
    ids.push(started.conversation_id);
  }
  return ids;
}

const CHICAGO = "store-chicago-downtown";
const NYC = "store-nyc-soho";
const SHOP: Seeded[] = [
  { data: { plan: "enterprise", utm_source: "google", store_id: CHICAGO, locale: "en-US", cart_value: "30" }, outcome: "purchase" },
  { data: { plan: "enterprise", utm_source: "newsletter", store_id: CHICAGO, locale: "fr-FR", cart_value: "75" }, outcome: "handoff" },
  { data: { plan: "enterprise", utm_source: "google", store_id: NYC, locale: "en-US", cart_value: "150" }, outcome: "purchase" },
  { data: { plan: "pro", utm_source: "google", store_id: NYC, locale: "en-US", cart_value: "250" }, outcome: "handoff" },
  { data: { plan: "pro", utm_source: "newsletter", store_id: CHICAGO, locale: "fr-FR", cart_value: "489.99" }, outcome: "purchase" },
  { data: { plan: "free", store_id: NYC, locale: "de-DE", cart_value: "abc" } },
  { data: { plan: "free", utm_source: "google", locale: "en-US", cart_value: "120" } },
  { data: { plan: "enterprise", utm_source: "newsletter", store_id: CHICAGO, locale: "fr-FR" }, outcome: "purchase" },
];

let team: { id: string; apiKey: string };
let chatbotId: string;
let cookie: string;

beforeAll(async () => {
  team = await createTeam();
  chatbotId = (await createChatbot(team.apiKey, { name: "Shop bot" })).id;
  await seed(team.apiKey, chatbotId, SHOP);
  cookie = await signIn(team.apiKey, "/dashboard/analytics");
});

function analytics(params: [string, string][], who = cookie) {
  return page(`/dashboard/analytics?${new URLSearchParams([["chatbot_id", chatbotId], ...params])}`, who);
}

/** The markup between `start` and the end tag `end` that follows it. */
function slice(html: string, start: string, end: string): string {
  const at = html.indexOf(start);
  expect(at, start).toBeGreaterThan(-1);
  return html.slice(at, html.indexOf(end, at) + end.length);
}

const chartOf = (html: string) => slice(html, '<svg class="bars"', "</svg>");
const tableOf = (html: string) => slice(html, '<table class="analytics"', "</table>");

/** Each bar of the chart: its group (as the attribute holds it) and its outcome counts. */
function bars(html: string): { group: string; kind: string; outcomes: Record<string, number> }[] {
  const chart = chartOf(html);
  return chart
    .split('<g class="bar" ')
    .slice(1)
    .map((part) => ({
      group: /data-group="([^"]*)"/.exec(part)![1]!,
      kind: /data-kind="([^"]*)"/.exec(part)![1]!,
      outcomes: Object.fromEntries([...part.matchAll(/data-outcome="([^"]*)" data-count="(\d+)"/g)].map((m) => [m[1]!, Number(m[2])])),
    }));
}

/** The table's body rows: group, conversations, and each outcome column's count (0 included). */
function tableRows(html: string): { group: string; conversations: number; outcomes: Record<string, number> }[] {
  const table = tableOf(html);
  const columns = [...slice(table, "<thead>", "</thead>").matchAll(/data-outcome="([^"]*)"/g)].map((m) => m[1]!);
  return [...slice(table, "<tbody>", "</tbody>").matchAll(/<tr data-group="([^"]*)"[^>]*>([\s\S]*?)<\/tr>/g)].map((row) => {
    const counts = [...row[2]!.matchAll(/data-count="(\d+)"/g)].map((m) => Number(m[1]));
    const conversations = Number(/<td class="count">([\d,]+)<\/td>/.exec(row[2]!)![1]!.replace(/,/g, ""));
    return { group: row[1]!, conversations, outcomes: Object.fromEntries(columns.map((column, i) => [column, counts[i]!])) };
  });
}

const totalOf = (html: string) => Number(/data-total="(\d+)"/.exec(html)![1]);

describe("the analytics page: Octocom's four analyses", () => {
  it("is in the navigation and shows every conversation's outcomes by default", async () => {
    const response = await page("/dashboard/analytics", cookie);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(response.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.text).toContain('<a href="/dashboard/analytics" aria-current="page">Analytics</a>');
    expect(totalOf(response.text)).toBe(8);
    expect(bars(response.text)).toEqual([
      { group: "All matching conversations", kind: "all", outcomes: { purchase: 4, handoff: 2, none: 2 } },
    ]);
    // The form: every operator, and the chatbot's known keys to pick from.
    for (const op of ["eq", "neq", "in", "contains", "exists", "missing", "gt", "gte", "lt", "lte"])
      expect(response.text).toContain(`<option value="${op}"`);
    const keys = slice(response.text, '<datalist id="group-keys">', "</datalist>");
    for (const key of ["outcome", "day", "chat-widget:plan", "chat-widget:utm_source", "chat-widget:cart_value", "chat-widget:store_id"])
      expect(keys).toContain(`<option value="${key}">`);
    // No inline style or script anywhere (the CSP would refuse them).
    expect(response.text).not.toMatch(/ style="|<script>|<style/);
  });

  it("offers the four analyses as links that fill the form, with the keys this chatbot has", async () => {
    const response = await analytics([]);
    const presets = slice(response.text, '<nav class="presets"', "</nav>");
    const hrefs = Object.fromEntries(
      [...presets.matchAll(/<a href="([^"]*)"[^>]*data-preset="([^"]*)"/g)].map((m) => [
        m[2]!,
        new URL(m[1]!.replace(/&amp;/g, "&"), BASE),
      ]),
    );
    expect(Object.keys(hrefs)).toEqual(["plan", "source", "campaign", "store", "locale", "cart"]);
    expect([...hrefs.plan!.searchParams]).toEqual([
      ["chatbot_id", chatbotId],
      ["key", "chat-widget:plan"],
      ["op", "eq"],
      ["value", "enterprise"],
    ]);
    expect(hrefs.source!.searchParams.get("group_by")).toBe("chat-widget:utm_source");
    // Octocom's example key is store_id; this chatbot has it, so the preset uses it.
    expect(hrefs.store!.searchParams.get("group_by")).toBe("chat-widget:store_id");
    expect(hrefs.locale!.searchParams.get("group_by")).toBe("chat-widget:locale");
    expect(hrefs.cart!.searchParams.get("buckets")).toBe("50, 100, 200");
    // Each preset, followed, marks itself current.
    const followed = await page(hrefs.cart!.pathname + hrefs.cart!.search, cookie);
    expect(followed.text).toMatch(/<a href="[^"]*" aria-current="true" data-preset="cart">/);
  });

  it("1. filters by a metadata value: the enterprise plan's count, its outcomes, and a link to those conversations", async () => {
    const response = await analytics([
      ["key", "chat-widget:plan"],
      ["op", "eq"],
      ["value", "enterprise"],
    ]);
    expect(response.status).toBe(200);
    expect(totalOf(response.text)).toBe(4);
    expect(bars(response.text)).toEqual([{ group: "All matching conversations", kind: "all", outcomes: { purchase: 3, handoff: 1 } }]);
    expect(tableRows(response.text)).toEqual([
      { group: "All matching conversations", conversations: 4, outcomes: { purchase: 3, handoff: 1 } },
    ]);
    // Shares of the group: 3 of 4 bought.
    expect(tableOf(response.text)).toContain('3 <span class="rate">75%</span>');
    const link = new URLSearchParams(
      /<a href="\/dashboard\/conversations\?([^"]*)" class="to-list">/.exec(response.text)![1]!.replace(/&amp;/g, "&"),
    );
    expect([...link]).toEqual([
      ["chatbot_id", chatbotId],
      ["metadata_key", "chat-widget:plan"],
      ["metadata_value", "enterprise"],
    ]);
    // The list it links to shows exactly those four.
    const list = await page(`/dashboard/conversations?${link}`, cookie);
    expect(list.text.match(/<a href="\/dashboard\/conversations\/conv_/g)).toHaveLength(4);
  });

  it("1. filters with the other operators: in, numeric ranges, missing, and outcome", async () => {
    const cases: [[string, string][], number][] = [
      [
        [
          ["key", "chat-widget:plan"],
          ["op", "in"],
          ["value", "pro, free"],
        ],
        4,
      ],
      [
        [
          ["key", "chat-widget:cart_value"],
          ["op", "gte"],
          ["value", "150"],
        ],
        3,
      ],
      [
        [
          ["key", "chat-widget:cart_value"],
          ["op", "lt"],
          ["value", "1e2"],
        ],
        2,
      ],
      [
        [
          ["key", "chat-widget:utm_source"],
          ["op", "missing"],
          ["value", ""],
        ],
        1,
      ],
      [
        [
          ["key", "outcome"],
          ["op", "eq"],
          ["value", "handoff"],
        ],
        2,
      ],
      [
        [
          ["key", "chat-widget:plan"],
          ["op", "neq"],
          ["value", "enterprise"],
          ["key", "chat-widget:locale"],
          ["op", "contains"],
          ["value", "US"],
        ],
        2,
      ],
    ];
    for (const [params, total] of cases) {
      const response = await analytics(params);
      expect(response.status, JSON.stringify(params)).toBe(200);
      expect(totalOf(response.text), JSON.stringify(params)).toBe(total);
    }
  });

  it("2. segments by UTM source: one bar and row per source with its outcomes, the conversations without one last", async () => {
    const response = await analytics([["group_by", "chat-widget:utm_source"]]);
    expect(response.status).toBe(200);
    expect(bars(response.text)).toEqual([
      { group: "google", kind: "value", outcomes: { purchase: 2, handoff: 1, none: 1 } },
      { group: "newsletter", kind: "value", outcomes: { purchase: 2, handoff: 1 } },
      { group: "(no value)", kind: "none", outcomes: { none: 1 } },
    ]);
    expect(tableRows(response.text)).toEqual([
      { group: "google", conversations: 4, outcomes: { purchase: 2, handoff: 1, none: 1 } },
      { group: "newsletter", conversations: 3, outcomes: { purchase: 2, handoff: 1, none: 0 } },
      { group: "(no value)", conversations: 1, outcomes: { purchase: 0, handoff: 0, none: 1 } },
    ]);
    const table = tableOf(response.text);
    expect(table).toContain("<caption");
    expect(table).toMatch(/<tfoot>[\s\S]*Total[\s\S]*>8</);
    // Each source links to its conversations in the list.
    expect(table).toContain(
      `<a href="/dashboard/conversations?chatbot_id=${chatbotId}&amp;metadata_key=chat-widget%3Autm_source&amp;metadata_value=google">`,
    );
    const chart = chartOf(response.text);
    expect(chart).toMatch(/^<svg class="bars" role="img" aria-labelledby="analysis-chart-title analysis-chart-desc"/);
    expect(chart).toContain('<title id="analysis-chart-title">Conversations by chat-widget:utm_source and outcome</title>');
    // The legend names the outcomes in bar order, none last.
    const legend = slice(response.text, '<ul class="legend"', "</ul>");
    expect([...legend.matchAll(/<bdi dir="auto">([^<]*)<\/bdi>/g)].map((m) => m[1])).toEqual(["purchase", "handoff", "no outcome"]);
  });

  it("3. aggregates by store and by locale", async () => {
    const stores = await analytics([["group_by", "chat-widget:store_id"]]);
    expect(tableRows(stores.text)).toEqual([
      { group: CHICAGO, conversations: 4, outcomes: { purchase: 3, handoff: 1, none: 0 } },
      { group: NYC, conversations: 3, outcomes: { purchase: 1, handoff: 1, none: 1 } },
      { group: "(no value)", conversations: 1, outcomes: { purchase: 0, handoff: 0, none: 1 } },
    ]);
    expect(bars(stores.text).map((bar) => bar.group)).toEqual([CHICAGO, NYC, "(no value)"]);
    const locales = await analytics([["group_by", "chat-widget:locale"]]);
    expect(tableRows(locales.text).map((row) => [row.group, row.conversations])).toEqual([
      ["en-US", 4],
      ["fr-FR", 3],
      ["de-DE", 1],
    ]);
    expect(bars(locales.text).map((bar) => bar.group)).toEqual(["en-US", "fr-FR", "de-DE"]);
    // Filter and group together: enterprise conversations by store.
    const both = await analytics([
      ["key", "chat-widget:plan"],
      ["op", "eq"],
      ["value", "enterprise"],
      ["group_by", "chat-widget:store_id"],
    ]);
    expect(tableRows(both.text).map((row) => [row.group, row.conversations])).toEqual([
      [CHICAGO, 3],
      [NYC, 1],
    ]);
  });

  it("4. correlates cart value with outcomes: buckets in order, each outcome's share of its bucket", async () => {
    const response = await analytics([
      ["group_by", "chat-widget:cart_value"],
      ["buckets", "50, 100, 200"],
    ]);
    expect(response.status).toBe(200);
    expect(tableRows(response.text)).toEqual([
      { group: "&lt;50", conversations: 1, outcomes: { purchase: 1, handoff: 0, none: 0 } },
      { group: "50-100", conversations: 1, outcomes: { purchase: 0, handoff: 1, none: 0 } },
      { group: "100-200", conversations: 2, outcomes: { purchase: 1, handoff: 0, none: 1 } },
      { group: "&gt;=200", conversations: 2, outcomes: { purchase: 1, handoff: 1, none: 0 } },
      { group: "other (missing or not a number)", conversations: 2, outcomes: { purchase: 1, handoff: 0, none: 1 } },
    ]);
    expect(bars(response.text).map((bar) => bar.group)).toEqual([
      "&lt;50",
      "50-100",
      "100-200",
      "&gt;=200",
      "other (missing or not a number)",
    ]);
    // Buckets compare rates: every bar full width, split by share.
    expect(chartOf(response.text)).toContain('data-scale="share"');
    expect(tableOf(response.text)).toMatch(/<tr data-group="100-200"[\s\S]*?1 <span class="rate">50%<\/span>/);
    // An empty bucket is listed with 0.
    const narrow = await analytics([
      ["group_by", "chat-widget:cart_value"],
      ["buckets", "1000, 2000"],
    ]);
    expect(tableRows(narrow.text).map((row) => [row.group, row.conversations])).toEqual([
      ["&lt;1000", 6],
      ["1000-2000", 0],
      ["&gt;=2000", 0],
      ["other (missing or not a number)", 2],
    ]);
  });

  it("bounds by dates: To includes its whole day, and nothing matching says so", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const both = await analytics([
      ["from", today],
      ["to", today],
    ]);
    expect(totalOf(both.text)).toBe(8);
    expect(both.text).toContain(`(started on ${today}, UTC)`);
    const before = await analytics([["to", yesterday]]);
    expect(before.status).toBe(200);
    expect(totalOf(before.text)).toBe(0);
    expect(before.text).toContain("No conversations match");
    expect(before.text).not.toContain('<svg class="bars"');
  });

  it("costs what the API costs, plus one read of the chatbot's keys", async () => {
    const params: [string, string][] = [
      ["group_by", "chat-widget:cart_value"],
      ["buckets", "50, 100, 200"],
    ];
    const viaPage = await countD1Statements(() => analytics(params));
    expect(viaPage.result.status).toBe(200);
    const viaApi = await countD1Statements(() =>
      call("POST", "/v1/analytics/conversations", {
        token: team.apiKey,
        body: { chatbot_id: chatbotId, group_by: "chat-widget:cart_value", buckets: [50, 100, 200] },
      }),
    );
    expect(viaApi.result.status).toBe(200);
    // Both: the key (session or API), the chatbot(s), the engine; the page also lists the keys.
    expect(viaPage.statements).toBe(viaApi.statements + 1);
  });

  it("charts the 19 largest groups and one bar for the rest; the table lists each", async () => {
    const other = await createTeam();
    const bot = await createChatbot(other.apiKey, { name: "Many" });
    await seed(
      other.apiKey,
      bot.id,
      Array.from({ length: 23 }, (_, i) => ({ data: { campaign: `c${String(i).padStart(2, "0")}` } })),
    );
    const response = await page(
      `/dashboard/analytics?chatbot_id=${bot.id}&group_by=chat-widget%3Acampaign`,
      await signIn(other.apiKey, "/dashboard/analytics"),
    );
    const shown = bars(response.text);
    expect(shown).toHaveLength(20);
    expect(shown.at(-1)).toEqual({ group: "4 other groups", kind: "rest", outcomes: { none: 4 } });
    expect(tableRows(response.text)).toHaveLength(23);
    expect(response.text).toContain("sums the other 4 in one bar");
  });
});

describe("the analytics page: errors are shown next to the form, never a 500", () => {
  const cases: [string, [string, string][], string, string][] = [
    [
      "a bucket that is not a number",
      [
        ["group_by", "chat-widget:cart_value"],
        ["buckets", "50, lots"],
      ],
      "a-buckets",
      "Buckets: enter numbers",
    ],
    [
      "buckets out of order",
      [
        ["group_by", "chat-widget:cart_value"],
        ["buckets", "100, 50"],
      ],
      "a-buckets",
      "larger than the one before",
    ],
    ["buckets without a key to group by", [["buckets", "50"]], "a-buckets", "group by a metadata key"],
    [
      "buckets on outcome",
      [
        ["group_by", "outcome"],
        ["buckets", "50"],
      ],
      "a-buckets",
      "group by a metadata key",
    ],
    [
      "a numeric operator with words",
      [
        ["key", "chat-widget:cart_value"],
        ["op", "gt"],
        ["value", "ten"],
      ],
      "a-value-0",
      "gt needs a number",
    ],
    [
      "a number with a thousands separator",
      [
        ["key", "chat-widget:cart_value"],
        ["op", "lte"],
        ["value", "1,000"],
      ],
      "a-value-0",
      "lte needs a number",
    ],
    [
      "a numeric operator on outcome",
      [
        ["key", "outcome"],
        ["op", "gt"],
        ["value", "1"],
      ],
      "a-op-0",
      "only metadata keys",
    ],
    [
      "an unknown operator",
      [
        ["key", "chat-widget:plan"],
        ["op", "like"],
        ["value", "x"],
      ],
      "a-op-0",
      "choose an operator",
    ],
    [
      "in without values",
      [
        ["key", "chat-widget:plan"],
        ["op", "in"],
        ["value", " , "],
      ],
      "a-value-0",
      "one or more values",
    ],
    [
      "a value without a key",
      [
        ["key", ""],
        ["op", "eq"],
        ["value", "x"],
      ],
      "a-key-0",
      "enter a key",
    ],
    ["an impossible date", [["from", "2026-02-30"]], "a-from", "From: enter a date"],
    ["a date in another format", [["to", "01/02/2026"]], "a-to", "To: enter a date"],
    [
      "To before From",
      [
        ["from", "2026-03-01"],
        ["to", "2026-02-01"],
      ],
      "a-to",
      "on or after From",
    ],
    ["a key too long", [["group_by", "k".repeat(600)]], "a-group", "at most 512"],
    [
      "a value too long",
      [
        ["key", "chat-widget:plan"],
        ["op", "eq"],
        ["value", "v".repeat(9000)],
      ],
      "a-value-0",
      "Filter 1: a value has at most",
    ],
    [
      "a filter key too long",
      [
        ["key", "k".repeat(600)],
        ["op", "exists"],
        ["value", ""],
      ],
      "a-key-0",
      "Filter 1: a key has at most 512",
    ],
    [
      "eleven filters",
      Array.from({ length: 11 }, (_, i): [string, string][] => [
        ["key", `chat-widget:k${i}`],
        ["op", "exists"],
        ["value", ""],
      ]).flat(),
      "a-key-0",
      "Filters: at most 10",
    ],
  ];
  for (const [name, params, field, message] of cases) {
    it(`says so for ${name}`, async () => {
      const response = await analytics(params);
      expect(response.status).toBe(400);
      const alert = slice(response.text, 'role="alert"', "</div>");
      expect(alert).toContain(message);
      expect(alert).toContain(`href="#${field}"`);
      // The field is marked and described by its problem; no result is shown.
      expect(response.text).toMatch(new RegExp(`id="${field}"[^>]*aria-invalid="true"[^>]*aria-describedby="problem-0[ "]`));
      expect(response.text).not.toContain('id="results"');
    });
  }

  it("names the row of each problem, counting only the rows filled in", async () => {
    const response = await analytics([
      ["key", ""],
      ["op", "eq"],
      ["value", ""],
      ["key", "chat-widget:plan"],
      ["op", "eq"],
      ["value", "pro"],
      ["key", "chat-widget:cart_value"],
      ["op", "lt"],
      ["value", "cheap"],
    ]);
    expect(response.status).toBe(400);
    expect(slice(response.text, 'role="alert"', "</div>")).toContain("Filter 2: lt needs a number");
    expect(response.text).toMatch(/id="a-value-1" name="value" value="cheap"[^>]*aria-invalid="true"/);
    // The filters as given, then one empty row to add another.
    expect(response.text.match(/name="key"/g)).toHaveLength(3);
  });

  it("keeps what was typed in the form", async () => {
    const response = await analytics([
      ["key", "chat-widget:cart_value"],
      ["op", "gt"],
      ["value", "ten"],
      ["group_by", "chat-widget:plan"],
      ["buckets", "5, 1"],
    ]);
    expect(response.text).toMatch(/id="a-value-0" name="value" value="ten"/);
    expect(response.text).toMatch(/<option value="gt" selected="">/);
    expect(response.text).toMatch(/id="a-buckets" name="buckets" value="5, 1"/);
    expect(response.text).toMatch(/id="a-group" name="group_by" value="chat-widget:plan"/);
  });
});

describe("the analytics page: safety", () => {
  it("answers another team's chatbot, a missing one and junk with the same 404, and no data", async () => {
    const other = await createTeam();
    const otherCookie = await signIn(other.apiKey, "/dashboard/analytics");
    await createChatbot(other.apiKey, { name: "Theirs" });
    const foreign = await page(`/dashboard/analytics?chatbot_id=${chatbotId}&group_by=chat-widget%3Aplan`, otherCookie);
    const missing = await page("/dashboard/analytics?chatbot_id=cb_00000000000000000000000000", otherCookie);
    const junk = await page(`/dashboard/analytics?chatbot_id=${encodeURIComponent("<script>x</script>")}`, otherCookie);
    for (const response of [foreign, missing, junk]) {
      expect(response.status).toBe(404);
      expect(response.text).toContain("Chatbot not found");
      expect(response.text).not.toContain(chatbotId);
      expect(response.text).not.toContain("enterprise");
      expect(response.text).not.toContain("Shop bot");
    }
    expect(foreign.text).toBe(missing.text);
    expect(junk.text).toBe(missing.text);
    // Without chatbot_id, the team's own first chatbot, never another team's.
    const own = await page("/dashboard/analytics", otherCookie);
    expect(own.status).toBe(200);
    expect(totalOf(own.text)).toBe(0);
    expect(own.text).not.toContain("Shop bot");
  });

  it("shows hostile keys and values as text, isolated for bidi, in the chart, the table, the legend and the form", async () => {
    const other = await createTeam();
    const bot = await createChatbot(other.apiKey, { name: '<img src=x onerror="alert(1)">' });
    const key = "<script>alert('key')</script>";
    const ids = await seed(other.apiKey, bot.id, [{ data: {} }, { data: {} }]);
    const values = ['<script>alert("v")</script>', "\u202Eevil"];
    for (const [i, id] of ids.entries()) {
      const put = await call("PUT", `/v1/conversations/${id}/metadata/${encodeURIComponent(key)}`, {
        token: other.apiKey,
        body: { value: values[i] },
      });
      expect([200, 201]).toContain(put.status);
      await flushProjection(id);
    }
    const otherCookie = await signIn(other.apiKey, "/dashboard/analytics");
    const response = await page(
      `/dashboard/analytics?${new URLSearchParams([
        ["chatbot_id", bot.id],
        ["group_by", key],
        ["key", key],
        ["op", "exists"],
        ["value", ""],
      ])}`,
      otherCookie,
    );
    expect(response.status).toBe(200);
    expect(totalOf(response.text)).toBe(2);
    expect(response.text).not.toContain("<script>alert");
    expect(response.text).not.toContain("<img src=x");
    const chart = chartOf(response.text);
    const table = tableOf(response.text);
    expect(chart).toContain("&lt;script&gt;alert(&quot;v&quot;)&lt;/script&gt;");
    expect(chart).toContain("Conversations by &lt;script&gt;alert(&#39;key&#39;)&lt;/script&gt; and outcome");
    // In SVG each value is its own isolated <text>; in HTML it is a <bdi dir="auto">.
    expect(chart).toMatch(/<text [^>]*unicode-bidi="isolate">\u202Eevil<\/text>/);
    expect(table).toContain('<bdi dir="auto">&lt;script&gt;alert(&quot;v&quot;)&lt;/script&gt;</bdi>');
    expect(table).toContain('<bdi dir="auto">\u202Eevil</bdi>');
    expect(table).toContain('<bdi dir="auto">&lt;script&gt;alert(&#39;key&#39;)&lt;/script&gt;</bdi>');
    expect(response.text).toContain('<option value="&lt;script&gt;alert(&#39;key&#39;)&lt;/script&gt;">');
    expect(response.text).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
  });

  it("is open to a read key's session (it only reads)", async () => {
    const read = await call("POST", "/v1/api-keys", { token: team.apiKey, body: { name: "viewer", scope: "read" } });
    expect(read.status).toBe(201);
    const readCookie = await signIn(read.json.key, "/dashboard/analytics");
    const response = await analytics([["group_by", "chat-widget:locale"]], readCookie);
    expect(response.status).toBe(200);
    expect(response.text).toContain("Read-only key");
    expect(tableRows(response.text)).toHaveLength(3);
  });

  it("sends a visitor without a session to sign in, and back", async () => {
    const response = await page("/dashboard/analytics?group_by=outcome");
    expect(response.status).toBe(303);
    expect(response.headers.get("Location")).toBe(`/dashboard/login?next=${encodeURIComponent("/dashboard/analytics?group_by=outcome")}`);
  });
});
