import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, BASE, createChatbot, launch, launcher, send, widgetState } from "./support";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const HOSTILE_NAME = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> Bot & "co"`;

/** The panel's cell for a key of a table (#metadata, #customer, #local). */
const cell = (page: Page, table: string, key: string) =>
  page
    .locator(`#${table} tr`)
    .filter({ has: page.locator("th", { hasText: key }) })
    .locator("td");

async function openPlayground(chatbotId: string) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  const response = await page.goto(`${BASE}/playground/${chatbotId}`);
  return { context, page, response: response!, problems };
}

describe("the playground", () => {
  it("embeds the widget beside a live panel; the spec's DevTools snippet works as a person would use it", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: HOSTILE_NAME });
    const { context, page, response, problems } = await openPlayground(chatbotId);
    expect(response.status()).toBe(200);
    const csp = response.headers()["content-security-policy"];
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");

    // The name is shown as text, never run.
    expect(await page.locator("h1 .name").textContent()).toBe(HOSTILE_NAME);
    expect(await page.title()).toContain(HOSTILE_NAME);
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();

    // The DevTools snippet, copied with its button and pasted into the console.
    const snippet = page.locator("figure.snippet").first();
    await snippet.getByRole("button", { name: "Copy" }).click();
    const copied: string = await page.evaluate(() => (globalThis as any).navigator.clipboard.readText());
    expect(copied).toBe(
      'localStorage.setItem("octocom:data:user_id", "test-123");\nlocalStorage.setItem("octocom:data:email", "test@example.com");',
    );
    await page.evaluate(copied);
    await cell(page, "local", "octocom:data:user_id").filter({ hasText: "test-123" }).waitFor();

    await launcher(page).click();
    await send(page, "Hello from the playground");
    // The panel polls the conversation: metadata and the customer record appear.
    await cell(page, "metadata", "chat-widget:user_id").filter({ hasText: "test-123" }).waitFor();
    await cell(page, "customer", "email").filter({ hasText: "test@example.com" }).waitFor();
    const state = await widgetState(page, chatbotId);
    expect(await page.locator("#conversation-id").textContent()).toBe(state.conversation_id);
    const conversation = await api("GET", `/v1/conversations/${state.conversation_id}`, { token: apiKey });
    expect(conversation.json.customer.email).toBe("test@example.com");

    // A value set mid-conversation, with markup in it: arrives with the next message, shown as text.
    const markup = `<img src=x onerror="window.pwned=3">`;
    await page.evaluate((value) => (globalThis as any).localStorage.setItem("octocom:data:html", value), markup);
    await send(page, "Second message");
    await cell(page, "metadata", "chat-widget:html").filter({ hasText: markup }).waitFor();
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    // No CSP violation: the widget's styles (a constructed stylesheet) and scripts are allowed.
    expect(problems).toEqual([]);
    const launcherColor = await launcher(page).evaluate((node: any) => (globalThis as any).getComputedStyle(node).backgroundColor);
    expect(launcherColor).toBe("rgb(47, 91, 234)");

    // "Start a new conversation": same visitor, a new conversation that gets every pair again.
    await page.getByRole("button", { name: "Start a new conversation" }).click();
    await page.waitForLoadState("load");
    await launcher(page).waitFor();
    const reset = await widgetState(page, chatbotId);
    expect(reset.conversation_id).toBeUndefined();
    expect(reset.visitor_id).toBe(state.visitor_id);
    // The chat reopens by itself, ready for the next message.
    await page.getByRole("dialog", { name: "Chat" }).waitFor();
    await send(page, "A new conversation");
    const next = await widgetState(page, chatbotId);
    expect(next.conversation_id).not.toBe(state.conversation_id);
    await cell(page, "metadata", "chat-widget:user_id").filter({ hasText: "test-123" }).waitFor();
    await cell(page, "metadata", "chat-widget:html").filter({ hasText: markup }).waitFor();
    await context.close();
  });

  it("answers an unknown chatbot with a clear 404 page", async () => {
    const { context, page, response } = await openPlayground("cb_does_not_exist<b>");
    expect(response.status()).toBe(404);
    expect(response.headers()["content-type"]).toMatch(/^text\/html/);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Chatbot not found");
    expect(await page.locator("main code").first().textContent()).toBe("cb_does_not_exist<b>");
    await context.close();
  });

  it("gives the panel's data only to the holder of the conversation's token", async () => {
    const { chatbotId } = await createChatbot();
    const start = async () => {
      const response = await api("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbotId, data: { a: "1" } } });
      expect(response.status).toBe(201);
      return response.json as { conversation_id: string; token: string };
    };
    const one = await start();
    const two = await start();
    const path = `/playground/api/conversations/${one.conversation_id}`;
    const anonymous = await api("GET", path);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("Content-Type")).toMatch(/^application\/problem\+json/);
    expect((await api("GET", path, { token: two.token })).status).toBe(401);
    const own = await api("GET", path, { token: one.token });
    expect(own.status).toBe(200);
    expect(own.json.metadata).toEqual({ "chat-widget:a": "1" });
  });
});
