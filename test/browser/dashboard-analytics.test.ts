// The analytics page in Chromium: conversations seeded through the widget (the real one in
// the playground, and its API) with outcomes set through the API, then Octocom's four
// analyses run through the page's controls and presets: chart and table agree with the
// seeded data, the labels of the chart do not overlap, errors are shown inline, axe
// passes, and screenshots (wide and narrow) are kept for a person to look at.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectAccessible, SCREENSHOTS, signIn } from "./dashboard-support";
import { api, BASE, createChatbot, launch, launcher, send, widgetState } from "./support";

let browser: Browser;
let apiKey: string;
let chatbotId: string;

type Seeded = { data: Record<string, string>; outcome?: string };

const CHICAGO = "store-chicago-downtown";
const NYC = "store-nyc-soho";
const PARIS = "store-paris-marais";
/** 17 conversations through the widget's API; one more comes through the playground's widget. */
const SEEDED: Seeded[] = [
  { data: { plan: "enterprise", utm_source: "google", store_id: CHICAGO, locale: "en-US", cart_value: "30" }, outcome: "purchase" },
  { data: { plan: "enterprise", utm_source: "newsletter", store_id: CHICAGO, locale: "en-US", cart_value: "75" }, outcome: "handoff" },
  { data: { plan: "enterprise", utm_source: "google", store_id: NYC, locale: "en-US", cart_value: "150" }, outcome: "purchase" },
  { data: { plan: "pro", utm_source: "google", store_id: NYC, locale: "en-US", cart_value: "250" }, outcome: "handoff" },
  { data: { plan: "pro", utm_source: "newsletter", store_id: CHICAGO, locale: "fr-FR", cart_value: "489.99" }, outcome: "purchase" },
  { data: { plan: "free", store_id: NYC, locale: "de-DE", cart_value: "abc" } },
  { data: { plan: "free", utm_source: "google", locale: "en-US", cart_value: "120" } },
  { data: { plan: "pro", utm_source: "facebook", store_id: PARIS, locale: "fr-FR", cart_value: "45" }, outcome: "resolved" },
  { data: { plan: "pro", utm_source: "facebook", store_id: PARIS, locale: "fr-FR", cart_value: "310" }, outcome: "purchase" },
  { data: { plan: "free", utm_source: "facebook", store_id: PARIS, locale: "fr-FR", cart_value: "20" } },
  { data: { plan: "free", utm_source: "google", store_id: CHICAGO, locale: "en-US", cart_value: "15" }, outcome: "resolved" },
  { data: { plan: "pro", utm_source: "google", store_id: CHICAGO, locale: "es-ES", cart_value: "95" }, outcome: "purchase" },
  { data: { plan: "pro", utm_source: "newsletter", store_id: NYC, locale: "en-US", cart_value: "205" }, outcome: "handoff" },
  { data: { plan: "enterprise", utm_source: "partner-blog", store_id: NYC, locale: "en-US", cart_value: "1200" }, outcome: "handoff" },
  { data: { plan: "free", utm_source: "google", store_id: PARIS, locale: "fr-FR", cart_value: "60" }, outcome: "purchase" },
  { data: { plan: "pro", utm_source: "newsletter", store_id: CHICAGO, locale: "en-US", cart_value: "130" }, outcome: "purchase" },
  { data: { plan: "free", utm_source: "google", locale: "es-ES", cart_value: "10" } },
];
/** Set in the playground as Octocom's testing steps do (the console's localStorage), then a message sent. */
const PLAYGROUND = { plan: "enterprise", utm_source: "newsletter", store_id: CHICAGO, locale: "en-US", cart_value: "489.99" };
const TOTAL = SEEDED.length + 1;

/** A conversation started by the widget's API, with its outcome set through the team's API. */
async function seed(seeded: Seeded): Promise<void> {
  const started = await api("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbotId, data: seeded.data } });
  expect(started.status, started.text).toBe(201);
  if (seeded.outcome) {
    const patched = await api("PATCH", `/v1/conversations/${started.json.conversation_id}`, {
      token: apiKey,
      body: { outcome: seeded.outcome },
    });
    expect(patched.status, patched.text).toBe(200);
  }
}

/**
 * Waits for the D1 projection: each conversation's alarm copies its metadata within 30 s.
 * Asks the API until every conversation has its cart value projected.
 */
async function waitForProjection(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answer = await api("POST", "/v1/analytics/conversations", {
      token: apiKey,
      body: { chatbot_id: chatbotId, filters: [{ key: "chat-widget:cart_value", op: "exists" }] },
    });
    if (answer.status === 200 && answer.json.total === TOTAL) return;
    if (Date.now() > deadline) throw new Error(`projection not ready: ${answer.text}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

beforeAll(async () => {
  browser = await launch();
  ({ apiKey, chatbotId } = await createChatbot({ name: "Acme shop" }));
  await Promise.all(SEEDED.map(seed));
  // One through the real widget: the playground, its console, a message, an outcome.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${BASE}/playground/${chatbotId}`);
  await page.evaluate((pairs) => {
    for (const [key, value] of Object.entries(pairs)) (globalThis as any).localStorage.setItem(`octocom:data:${key}`, value);
  }, PLAYGROUND);
  await launcher(page).click();
  await send(page, "Hello, I have a question about my order");
  const { conversation_id: id } = await widgetState(page, chatbotId);
  await context.close();
  const patched = await api("PATCH", `/v1/conversations/${id}`, { token: apiKey, body: { outcome: "purchase" } });
  expect(patched.status).toBe(200);
  await waitForProjection();
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

/** A context whose pages record script errors (a CSP violation shows here). */
async function open(viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport });
  const problems: string[] = [];
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  return { context, page, problems };
}

/** The table's rows as text: the group, the conversations, and each outcome column's count. */
async function tableRows(page: Page): Promise<Record<string, string | number>[]> {
  return page.locator("table.analytics").evaluate((table: any) => {
    const columns = [...table.querySelectorAll("thead th[data-outcome]")].map((th: any) => th.dataset.outcome);
    return [...table.querySelectorAll("tbody tr")].map((tr: any) => {
      const row: Record<string, string | number> = {
        group: tr.querySelector("th").textContent,
        conversations: Number(tr.children[1].textContent),
      };
      [...tr.querySelectorAll("td[data-count]")].forEach((td: any, i: number) => {
        row[columns[i]] = Number(td.dataset.count);
      });
      return row;
    });
  });
}

/** The chart's bars as the page draws them: the group's label and each segment's count. */
async function chartBars(page: Page): Promise<{ group: string; outcomes: Record<string, number> }[]> {
  return page.locator("svg.bars").evaluate((svg: any) =>
    [...svg.querySelectorAll("g.bar")].map((bar: any) => ({
      group: bar.dataset.group,
      outcomes: Object.fromEntries(
        [...bar.querySelectorAll("g.segment")].map((seg: any) => [seg.dataset.outcome, Number(seg.dataset.count)]),
      ),
    })),
  );
}

/**
 * Nothing in the chart overlaps or leaves it: each label and its count stay apart on their
 * line, each number inside a segment fits in it, and every text is inside the drawing.
 */
async function expectChartReadable(page: Page): Promise<void> {
  const problems = await page.locator("svg.bars").evaluate((svg: any) => {
    const found: string[] = [];
    const box = svg.getBoundingClientRect();
    const inside = (r: any) => r.left >= box.left - 2 && r.right <= box.right + 2 && r.top >= box.top - 2 && r.bottom <= box.bottom + 2;
    for (const text of svg.querySelectorAll("text")) {
      const r = text.getBoundingClientRect();
      if (!inside(r))
        found.push(
          `outside: ${text.textContent} ${JSON.stringify([r.left, r.right, r.top, r.bottom])} in ${JSON.stringify([box.left, box.right, box.top, box.bottom])}`,
        );
    }
    for (const bar of svg.querySelectorAll("g.bar")) {
      const label = bar.querySelector("text.group-label").getBoundingClientRect();
      const count = bar.querySelector("text.group-count").getBoundingClientRect();
      if (label.right > count.left - 4) found.push(`label meets count: ${bar.dataset.group}`);
      for (const segment of bar.querySelectorAll("g.segment")) {
        const text = segment.querySelector("text");
        if (!text) continue;
        const r = segment.querySelector("rect").getBoundingClientRect();
        const t = text.getBoundingClientRect();
        if (t.left < r.left || t.right > r.right) found.push(`number outside its segment: ${bar.dataset.group} ${segment.dataset.outcome}`);
      }
    }
    return found;
  });
  expect(problems).toEqual([]);
}

async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  const widths = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return { scroll: root.scrollWidth as number, client: root.clientWidth as number };
  });
  expect(widths.scroll).toBeLessThanOrEqual(widths.client);
}

const total = (page: Page) => page.locator("p.total strong").textContent();
const run = async (page: Page) => {
  await page.getByRole("button", { name: "Run analysis" }).click();
  await page.waitForLoadState("load");
};

describe("dashboard analytics", () => {
  it("runs Octocom's four analyses through the page's controls; chart and table agree with the data", async () => {
    const { context, page, problems } = await open();
    await signIn(page, apiKey);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Analytics" }).click();
    await page.waitForURL(`${BASE}/dashboard/analytics`);
    expect(await total(page)).toBe(String(TOTAL));
    const chart = page.getByRole("img", { name: /Conversations by outcome/ });
    expect(await chart.count()).toBe(1);

    // 1. Filter: the enterprise plan.
    await page.getByLabel("Key", { exact: true }).fill("chat-widget:plan");
    await page.getByLabel("Operator").selectOption("eq");
    await page.getByLabel("Value", { exact: true }).fill("enterprise");
    await run(page);
    expect(new URL(page.url()).searchParams.get("value")).toBe("enterprise");
    expect(await total(page)).toBe("5");
    expect(await tableRows(page)).toEqual([{ group: "All matching conversations", conversations: 5, purchase: 3, handoff: 2 }]);
    expect(await chartBars(page)).toEqual([{ group: "All matching conversations", outcomes: { purchase: 3, handoff: 2 } }]);
    await expectChartReadable(page);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-analytics-filter.png`, fullPage: true });
    // The same conversations in the list, one click away.
    await page.getByRole("link", { name: "View these conversations" }).click();
    await page.waitForURL((url) => url.pathname === "/dashboard/conversations");
    expect(await page.locator("table.conversations tbody tr").count()).toBe(5);
    await page.goBack();

    // 2. Segment by source: clear the filter, group by utm_source.
    await page.getByLabel("Key", { exact: true }).first().fill("");
    await page.getByLabel("Value", { exact: true }).first().fill("");
    await page.getByLabel("Group by").fill("chat-widget:utm_source");
    await run(page);
    expect(await total(page)).toBe(String(TOTAL));
    expect(await tableRows(page)).toEqual([
      { group: "google", conversations: 8, purchase: 4, handoff: 1, resolved: 1, none: 2 },
      { group: "newsletter", conversations: 5, purchase: 3, handoff: 2, resolved: 0, none: 0 },
      { group: "facebook", conversations: 3, purchase: 1, handoff: 0, resolved: 1, none: 1 },
      { group: "partner-blog", conversations: 1, purchase: 0, handoff: 1, resolved: 0, none: 0 },
      { group: "(no value)", conversations: 1, purchase: 0, handoff: 0, resolved: 0, none: 1 },
    ]);
    expect((await chartBars(page))[0]).toEqual({ group: "google", outcomes: { purchase: 4, handoff: 1, resolved: 1, none: 2 } });
    expect(await page.locator("ul.legend li").allTextContents()).toEqual(["purchase", "handoff", "resolved", "no outcome"]);
    await expectChartReadable(page);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-analytics-segment.png`, fullPage: true });

    // 3. Aggregate by store, then by locale (typed, with the datalist of known keys).
    expect(await page.locator("datalist#group-keys option[value='chat-widget:store_id']").count()).toBe(1);
    await page.getByLabel("Group by").fill("chat-widget:store_id");
    await run(page);
    expect((await tableRows(page)).map((row) => [row.group, row.conversations])).toEqual([
      [CHICAGO, 7],
      [NYC, 5],
      [PARIS, 4],
      ["(no value)", 2],
    ]);
    await expectChartReadable(page);
    await page.getByLabel("Group by").fill("chat-widget:locale");
    await page.getByLabel("Group by").press("Enter");
    await page.waitForURL((url) => url.searchParams.get("group_by") === "chat-widget:locale");
    expect((await tableRows(page)).map((row) => [row.group, row.conversations])).toEqual([
      ["en-US", 10],
      ["fr-FR", 5],
      ["es-ES", 2],
      ["de-DE", 1],
    ]);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-analytics-aggregate.png`, fullPage: true });

    // 4. Correlate cart value with outcomes: buckets, bars as shares.
    await page.getByLabel("Group by").fill("chat-widget:cart_value");
    await page.getByLabel("Buckets").fill("50, 100, 200");
    await run(page);
    expect(await page.locator("svg.bars").getAttribute("data-scale")).toBe("share");
    expect(await tableRows(page)).toEqual([
      { group: "<50", conversations: 5, purchase: 1, handoff: 0, resolved: 2, none: 2 },
      { group: "50-100", conversations: 3, purchase: 2, handoff: 1, resolved: 0, none: 0 },
      { group: "100-200", conversations: 3, purchase: 2, handoff: 0, resolved: 0, none: 1 },
      { group: ">=200", conversations: 6, purchase: 3, handoff: 3, resolved: 0, none: 0 },
      { group: "other (missing or not a number)", conversations: 1, purchase: 0, handoff: 0, resolved: 0, none: 1 },
    ]);
    // The share of each outcome per bucket: half of the carts of 200 or more were handed off.
    const over200 = page.locator('table.analytics tr[data-group=">=200"]');
    expect(await over200.locator('td[data-count="3"]').first().textContent()).toBe("3 50%");
    expect(await page.locator("svg.bars g.bar").first().locator("text.segment-label").allTextContents()).toContain("40%");
    await expectChartReadable(page);
    await expectAccessible(page);
    await page.locator("#results").screenshot({ path: `${SCREENSHOTS}/dashboard-analytics-correlate.png` });
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-analytics.png`, fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);

  it("fills the form from the presets, and shows bad input inline without running", async () => {
    const { context, page, problems } = await open();
    await signIn(page, apiKey, "/dashboard/analytics");
    const presets = page.getByRole("navigation", { name: "Analyses" });
    await presets.getByRole("link", { name: /Enterprise plan/ }).click();
    await page.waitForURL((url) => url.searchParams.get("value") === "enterprise");
    expect(await page.getByLabel("Key", { exact: true }).first().inputValue()).toBe("chat-widget:plan");
    expect(await total(page)).toBe("5");
    expect(await presets.getByRole("link", { name: /Enterprise plan/ }).getAttribute("aria-current")).toBe("true");
    await presets.getByRole("link", { name: /By store/ }).click();
    await page.waitForURL((url) => url.searchParams.get("group_by") === "chat-widget:store_id");
    expect(await tableRows(page)).toHaveLength(4);
    await presets.getByRole("link", { name: /Cart value vs outcome/ }).click();
    await page.waitForURL((url) => url.searchParams.get("buckets") !== null);
    expect(await page.getByLabel("Buckets").inputValue()).toBe("50, 100, 200");
    expect(await tableRows(page)).toHaveLength(5);

    // Bad input: a bucket that is not a number, a numeric filter with words.
    await page.getByLabel("Buckets").fill("50, lots, 200");
    await page.getByLabel("Key", { exact: true }).first().fill("chat-widget:cart_value");
    await page.getByLabel("Operator").first().selectOption("gt");
    await page.getByLabel("Value", { exact: true }).first().fill("ten");
    await run(page);
    const alert = page.getByRole("alert");
    expect(await alert.textContent()).toContain("Buckets: enter numbers separated by commas");
    expect(await alert.textContent()).toContain("Filter 1: gt needs a number");
    expect(await page.getByLabel("Buckets").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#results").count()).toBe(0);
    // What was typed stays, so it can be corrected.
    expect(await page.getByLabel("Value", { exact: true }).first().inputValue()).toBe("ten");
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-analytics-error.png`, fullPage: true });
    // The problem's link leads to its field.
    await alert.getByRole("link", { name: /Buckets/ }).click();
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("a-buckets");
    // The page answered 400 (Chromium logs that); nothing else went wrong.
    expect(problems.filter((problem) => !/status of 400/.test(problem))).toEqual([]);
    await context.close();
  });

  it("fits a phone: no sideways scrolling, chart labels apart, the table scrolls in its own box", async () => {
    const { context, page, problems } = await open({ width: 390, height: 844 });
    await signIn(page, apiKey, "/dashboard/analytics");
    await page.goto(`${BASE}/dashboard/analytics?chatbot_id=${chatbotId}&group_by=chat-widget%3Astore_id`);
    await expectNoHorizontalOverflow(page);
    await expectChartReadable(page);
    await expectAccessible(page);
    await page.locator("#results").scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-analytics-narrow.png`, fullPage: true });
    await page.goto(`${BASE}/dashboard/analytics?chatbot_id=${chatbotId}&group_by=chat-widget%3Acart_value&buckets=50%2C100%2C200`);
    await expectNoHorizontalOverflow(page);
    await expectChartReadable(page);
    await page.locator("#results").screenshot({ path: `${SCREENSHOTS}/dashboard-analytics-narrow-correlate.png` });
    expect(problems).toEqual([]);
    await context.close();
  });
});
