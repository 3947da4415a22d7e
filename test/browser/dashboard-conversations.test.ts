// The conversations pages in Chromium, as a person uses them: Octocom's testing flow from
// the playground to the dashboard's Metadata and Customer, live updates of an open page
// (a key set through the API or the widget, a new message, polling paused while hidden
// and backing off on errors), another team's id, keyboard-only use, hostile values, axe
// and screenshots.
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectAccessible, SCREENSHOTS, signIn } from "./dashboard-support";
import { api, BASE, createChatbot, launch, launcher, send, widgetState } from "./support";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const HOSTILE_SCRIPT = "<script>window.pwned=1</script>";
const HOSTILE_IMG = '"><img src=x onerror="window.pwned=2">';
const HOSTILE_BIDI = "\u202Eevil";

/** A context whose pages record script errors (a CSP violation shows here) and dialogs. */
async function open(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  context.on("page", (page) => watch(page, problems));
  const page = await context.newPage();
  return { context, page, problems };
}

function watch(page: Page, problems: string[]): void {
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
}

/** A conversation started by the widget's API, with `data` as its first metadata. */
async function startConversation(chatbotId: string, data: Record<string, string> = {}) {
  const started = await api("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbotId, data } });
  expect(started.status).toBe(201);
  return { id: started.json.conversation_id as string, token: started.json.token as string };
}

async function visitorSays(conversation: { id: string; token: string }, text: string, data: Record<string, string> = {}) {
  const response = await api("POST", `/v1/widget/conversations/${conversation.id}/messages`, {
    token: conversation.token,
    body: { text, data },
  });
  expect(response.status).toBe(201);
}

async function putMetadata(apiKey: string, conversationId: string, key: string, value: string) {
  const response = await api("PUT", `/v1/conversations/${conversationId}/metadata/${encodeURIComponent(key)}`, {
    token: apiKey,
    body: { value },
  });
  expect([200, 201]).toContain(response.status);
}

const metadataRegion = (page: Page) => page.getByRole("region", { name: "Metadata" });
const customerRegion = (page: Page) => page.getByRole("region", { name: "Customer" });
/** A metadata pair's value, found by its key. */
const pairValue = (page: Page, key: string) =>
  metadataRegion(page)
    .locator(".pair")
    .filter({ has: page.locator("dt", { hasText: new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) }) })
    .locator("dd");
const customerField = (page: Page, label: string) => customerRegion(page).locator(`dt:text-is("${label}") + dd`);

/** No horizontal scrolling: long values wrap inside the page instead of widening it. */
async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  const widths = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return { scroll: root.scrollWidth as number, client: root.clientWidth as number };
  });
  expect(widths.scroll).toBeLessThanOrEqual(widths.client);
}

/** Records the page's live-update requests, with when they were sent. */
function updateRequests(page: Page): number[] {
  const times: number[] = [];
  page.on("request", (request: Request) => {
    if (/\/dashboard\/conversations\/[^/]+\/updates/.test(request.url())) times.push(Date.now());
  });
  return times;
}

describe("dashboard conversations", () => {
  it("follows Octocom's testing steps: playground console, a message, then Metadata and Customer in the dashboard", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Octocom bot" });
    const { context, page, problems } = await open();
    await page.goto(`${BASE}/playground/${chatbotId}`);
    // Typed into the console, as the testing steps say.
    await page.evaluate(() => {
      (globalThis as any).localStorage.setItem("octocom:data:user_id", "test-123");
      (globalThis as any).localStorage.setItem("octocom:data:email", "test@example.com");
    });
    await launcher(page).click();
    await send(page, "Hello, I need help with my order");
    const { conversation_id: conversationId } = await widgetState(page, chatbotId);

    await signIn(page, apiKey);
    const link = page.getByRole("link", { name: conversationId });
    const row = page.locator("tr", { has: link });
    // The list shows who the customer is without opening the conversation.
    expect(await row.textContent()).toContain("test@example.com");
    await link.click();
    await page.waitForURL(`${BASE}/dashboard/conversations/${conversationId}`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toContain(conversationId);

    const userId = pairValue(page, "chat-widget:user_id");
    expect(await userId.textContent()).toBe("test-123");
    expect(await metadataRegion(page).getByText("test-123", { exact: true }).count()).toBe(1);
    expect(await customerRegion(page).getByText("test@example.com", { exact: true }).count()).toBe(1);
    expect(await customerField(page, "Verified").textContent()).toBe("No");
    // The sidebar is a complementary landmark holding the three sections.
    const sidebar = page.getByRole("complementary", { name: "Conversation details" });
    for (const name of ["Metadata", "Customer", "Participant data"]) expect(await sidebar.getByRole("region", { name }).count()).toBe(1);
    const messages = page.getByRole("region", { name: "Messages" }).locator("li");
    expect(await messages.first().textContent()).toContain("Hello, I need help with my order");
    expect(await messages.count()).toBe(2);
    const participantLink = page.getByRole("region", { name: "Participant data" }).getByRole("link");
    expect(await participantLink.getAttribute("href")).toMatch(/^\/dashboard\/participants\/part_[0-9a-z]{26}$/);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows a key set mid-conversation and a new message without reload; pauses while hidden; backs off on errors", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Live bot" });
    const conversation = await startConversation(chatbotId, { user_id: "live-1" });
    await visitorSays(conversation, "First message");
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/conversations/${conversation.id}`);
    const polls = updateRequests(page);
    await page.evaluate(() => {
      (globalThis as any).reloaded = false;
    });

    // A key through the API, a key and a message through the widget, a customer field.
    await putMetadata(apiKey, conversation.id, "crm:stage", "qualified");
    await pairValue(page, "crm:stage").filter({ hasText: "qualified" }).waitFor({ timeout: 15_000 });
    await visitorSays(conversation, "Second message, with a plan", { plan: "pro", email: "live@example.com" });
    const list = page.getByRole("region", { name: "Messages" }).locator("ol");
    expect(await list.getAttribute("aria-live")).toBe("polite");
    await list.locator("li", { hasText: "Second message, with a plan" }).waitFor({ timeout: 15_000 });
    await pairValue(page, "chat-widget:plan").filter({ hasText: "pro" }).waitFor();
    await customerField(page, "Email").filter({ hasText: "live@example.com" }).waitFor();
    expect(await list.locator("li").count()).toBe(4);
    expect(await page.locator('[data-live="message-count"]').textContent()).toBe("4");
    // In display order: chat-widget keys first, each group sorted.
    expect(await metadataRegion(page).locator("dt").allTextContents()).toEqual([
      "chat-widget:email",
      "chat-widget:plan",
      "chat-widget:user_id",
      "crm:stage",
    ]);
    // A changed value and a deleted key follow too.
    await putMetadata(apiKey, conversation.id, "crm:stage", "won");
    await pairValue(page, "crm:stage").filter({ hasText: "won" }).waitFor({ timeout: 15_000 });
    expect((await api("DELETE", `/v1/conversations/${conversation.id}/metadata/crm%3Astage`, { token: apiKey })).status).toBe(204);
    await pairValue(page, "crm:stage").waitFor({ state: "detached", timeout: 15_000 });
    // Nothing reloaded the page: the flag set on it is still there.
    expect(await page.evaluate(() => (globalThis as any).reloaded)).toBe(false);

    // Hidden: no polling. Visible again: at once.
    await page.evaluate(() => {
      Object.defineProperty((globalThis as any).document, "hidden", { configurable: true, get: () => true });
      (globalThis as any).document.dispatchEvent(new Event("visibilitychange"));
    });
    const hiddenAt = polls.length;
    await page.waitForTimeout(5_000);
    expect(polls.length).toBe(hiddenAt);
    await visitorSays(conversation, "While you were away");
    await page.evaluate(() => {
      Object.defineProperty((globalThis as any).document, "hidden", { configurable: true, get: () => false });
      (globalThis as any).document.dispatchEvent(new Event("visibilitychange"));
    });
    await list.locator("li", { hasText: "While you were away" }).waitFor({ timeout: 3_000 });

    // Errors: each retry waits twice as long, and the page says so politely.
    await page.route("**/dashboard/conversations/*/updates*", (route) => route.fulfill({ status: 503, body: "unavailable" }));
    const failingFrom = polls.length;
    await page.getByRole("status").filter({ hasText: "trying again in 8 seconds" }).waitFor({ timeout: 15_000 });
    const gaps = polls.slice(failingFrom).map((time, i, all) => (i === 0 ? 0 : time - all[i - 1]!));
    expect(gaps[1]).toBeGreaterThanOrEqual(3_500);
    await page.unroute("**/dashboard/conversations/*/updates*");
    await visitorSays(conversation, "Back online");
    await list.locator("li", { hasText: "Back online" }).waitFor({ timeout: 15_000 });
    expect(await page.locator(".live-status").textContent()).toBe("");
    // The failed requests are Chromium's console errors; nothing else went wrong.
    expect(problems.filter((problem) => !/status of 503/.test(problem))).toEqual([]);
    await context.close();
  }, 90_000);

  it("answers another team's conversation with a 404 page; works by keyboard alone", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Keyboard bot" });
    const conversation = await startConversation(chatbotId, { user_id: "kb-1", notes: `${"n".repeat(600)}END` });
    await visitorSays(conversation, "Typed with keys");
    const other = await createChatbot({ name: "Other team's bot" });
    const { context, page, problems } = await open();

    await signIn(page, other.apiKey);
    const foreign = await page.goto(`${BASE}/dashboard/conversations/${conversation.id}`);
    expect(foreign!.status()).toBe(404);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Conversation not found");
    expect(await page.content()).not.toContain("kb-1");
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-conversation-not-found.png`, fullPage: true });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/dashboard\/login/);

    await signIn(page, apiKey);
    // From the top of the list: Tab to the conversation's link, then Enter.
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate((id) => (globalThis as any).document.activeElement?.textContent === id, conversation.id);
    }
    expect(reached).toBe(true);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${BASE}/dashboard/conversations/${conversation.id}`);

    // Then to "Show full value": Enter loads the value, Space collapses it again; focus stays on the button.
    const button = page.getByRole("button", { name: "Show full value of chat-widget:notes" });
    let onButton = false;
    for (let i = 0; i < 40 && !onButton; i++) {
      await page.keyboard.press("Tab");
      onButton = await button.evaluate((node) => node === (globalThis as any).document.activeElement);
    }
    expect(onButton).toBe(true);
    const value = pairValue(page, "chat-widget:notes").locator(".value bdi");
    expect(await value.textContent()).not.toContain("END");
    await page.keyboard.press("Enter");
    const less = page.getByRole("button", { name: "Show less of chat-widget:notes" });
    await less.waitFor();
    expect(await less.getAttribute("aria-expanded")).toBe("true");
    expect(await value.textContent()).toBe(`${"n".repeat(600)}END`);
    expect(await less.evaluate((node) => node === (globalThis as any).document.activeElement)).toBe(true);
    await page.keyboard.press("Space");
    await button.waitFor();
    expect(await value.textContent()).not.toContain("END");
    expect(await button.getAttribute("aria-expanded")).toBe("false");
    // The 404 page's own status is Chromium's one console error.
    expect(problems.filter((problem) => !/status of 404/.test(problem))).toEqual([]);
    await context.close();
  });

  it("shows hostile values as text; passes axe; screenshots of the list and the conversation with long values collapsed", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: `${HOSTILE_IMG} Bot` });
    const longJson = JSON.stringify("x".repeat(49_998));
    const conversation = await startConversation(chatbotId, {
      name: HOSTILE_SCRIPT,
      email: "hostile@example.com",
      user_id: "test-123",
      html: HOSTILE_IMG,
      bidi: HOSTILE_BIDI,
      plan: '{"tier":"pro","seats":3,"features":["chat","export"]}',
      long_json: longJson,
    });
    await putMetadata(apiKey, conversation.id, "crm:notes", `Called twice. ${"Lorem ipsum dolor sit amet. ".repeat(1_700)}`);
    await putMetadata(apiKey, conversation.id, HOSTILE_SCRIPT, HOSTILE_BIDI);
    await visitorSays(conversation, `${HOSTILE_SCRIPT} ${HOSTILE_IMG} ${HOSTILE_BIDI}`);
    await visitorSays(conversation, "A longer question about the order I placed last week, which has not arrived yet.");
    const { context, page, problems } = await open();

    await signIn(page, apiKey);
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    await expectAccessible(page);
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-conversations-list.png`, fullPage: true });

    await page.getByRole("link", { name: conversation.id }).click();
    await page.waitForURL(`${BASE}/dashboard/conversations/${conversation.id}`);
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    expect(await pairValue(page, "chat-widget:html").textContent()).toBe(HOSTILE_IMG);
    expect(await pairValue(page, "chat-widget:bidi").textContent()).toBe(HOSTILE_BIDI);
    expect(await pairValue(page, HOSTILE_SCRIPT).textContent()).toBe(HOSTILE_BIDI);
    expect(await customerField(page, "Name").textContent()).toBe(HOSTILE_SCRIPT);
    expect(await page.locator(".facts dd").first().textContent()).toBe(`${HOSTILE_IMG} Bot`);
    expect(await page.getByRole("region", { name: "Messages" }).locator("li").first().textContent()).toContain(
      `${HOSTILE_SCRIPT} ${HOSTILE_IMG}`,
    );
    // A pretty-printed JSON value; long ones collapsed with their length and a button named by key.
    expect(await pairValue(page, "chat-widget:plan").locator(".value").textContent()).toContain('"seats": 3');
    expect(await pairValue(page, "chat-widget:long_json").textContent()).toContain("50,000 characters");
    expect(await page.getByRole("button", { name: /^Show full value of / }).count()).toBe(2);
    await expectAccessible(page);
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-conversation.png`, fullPage: true });

    // The 50,000-character value, loaded on demand: scrolls inside its box, the page stays put.
    await page.getByRole("button", { name: "Show full value of chat-widget:long_json" }).click();
    await page.getByRole("button", { name: "Show less of chat-widget:long_json" }).waitFor();
    expect(await pairValue(page, "chat-widget:long_json").locator(".value bdi").textContent()).toBe(longJson);
    await expectAccessible(page);
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-conversation-expanded.png`, fullPage: true });
    // A page narrow as a phone: the sidebar goes under the messages, nothing overflows.
    await page.setViewportSize({ width: 390, height: 844 });
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-conversation-narrow.png`, fullPage: false });
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    expect(problems).toEqual([]);
    await context.close();
  });
});
