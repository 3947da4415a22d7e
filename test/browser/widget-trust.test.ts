// The widget's side of the trust work, in Chromium: a client_message_id with every
// message (stored exactly once through retries and reloads), server-issued visitor ids,
// the site's identity token, and values isolated from bidirectional reordering.
import { SignJWT } from "jose";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  api,
  BASE,
  botMessages,
  createChatbot,
  launch,
  launcher,
  messageBox,
  openSite,
  type Site,
  send,
  sendButton,
  setData,
  widgetState,
} from "./support";

/** Written for a person to look at (Playwright creates the folder). */
const SCREENSHOTS = "test/browser/screenshots";
const CLIENT_MESSAGE_ID = /^[\x20-\x7e]{1,64}$/;
const RLO = "\u202E";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const visitorBubbles = (page: Page) => page.locator("chat-context-widget .msg.visitor");

/** The visitor texts the server stored, read through the API with the team's key. */
async function storedVisitorTexts(apiKey: string, conversationId: string): Promise<string[]> {
  const messages = await api("GET", `/v1/conversations/${conversationId}/messages`, { token: apiKey });
  expect(messages.status).toBe(200);
  return messages.json.messages.filter((m: any) => m.role === "visitor").map((m: any) => m.text);
}

/**
 * The next message POST reaches the server (route.fetch sends it for real), but its
 * answer never reaches the page: the page sees a network failure.
 */
async function loseNextAnswer(page: Page): Promise<{ lost: () => number }> {
  let lost = 0;
  await page.route(`${BASE}/v1/widget/conversations/*/messages`, async (route) => {
    if (route.request().method() !== "POST" || lost > 0) return route.fallback();
    lost++;
    const response = await route.fetch();
    expect(response.status()).toBe(201);
    return route.abort("connectionreset");
  });
  return { lost: () => lost };
}

async function failedAfterLostAnswer(site: Site, text: string): Promise<void> {
  await messageBox(site.page).fill(text);
  await sendButton(site.page).click();
  await site.page.locator("chat-context-widget .msg.failed").waitFor();
}

describe("the widget's trust work, in Chromium", () => {
  it("sends a client_message_id with every message and stores a message whose answer was lost exactly once on Retry", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await launcher(page).click();
    await send(page, "before the loss");
    const { conversation_id } = await widgetState(page, chatbotId);

    const route = await loseNextAnswer(page);
    await setData(page, { "octocom:data:plan": "gold" });
    await failedAfterLostAnswer(site, "the answer to this is lost");
    expect(route.lost()).toBe(1);
    // It reached the server: stored once already, though the page saw a failure.
    expect(await storedVisitorTexts(apiKey, conversation_id)).toEqual(["before the loss", "the answer to this is lost"]);
    // The outbox keeps the message with its id.
    const queued = (await widgetState(page, chatbotId)).outbox;
    expect(queued).toHaveLength(1);
    expect(queued[0].client_message_id).toBe(site.messageBodies[1].client_message_id);
    // The site changes a value meanwhile: the replayed answer must not acknowledge it.
    await setData(page, { "octocom:data:plan": "platinum" });

    await page.getByRole("button", { name: "Retry", exact: true }).click();
    // The live socket may bring the reply before the retried send settles: wait for the send.
    await page.locator("chat-context-widget .msg.sending").waitFor({ state: "detached" });
    await botMessages(page).nth(1).waitFor();
    expect(await page.locator("chat-context-widget .msg.failed").count()).toBe(0);
    expect(await storedVisitorTexts(apiKey, conversation_id)).toEqual(["before the loss", "the answer to this is lost"]);
    expect(await visitorBubbles(page).allTextContents()).toEqual(["before the loss", "the answer to this is lost"]);
    expect(await botMessages(page).count()).toBe(2);

    const ids = site.messageBodies.map((body) => body.client_message_id);
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(id).toMatch(CLIENT_MESSAGE_ID);
    expect(ids[2]).toBe(ids[1]);
    expect(ids[1]).not.toBe(ids[0]);
    expect((await widgetState(page, chatbotId)).outbox).toEqual([]);

    // The value the replay did not store goes with the next message.
    await send(page, "after the retry");
    expect(site.messageBodies[3].data).toEqual({ plan: "platinum" });
    expect(new Set(site.messageBodies.map((body) => body.client_message_id)).size).toBe(3);
    const conversation = await api("GET", `/v1/conversations/${conversation_id}`, { token: apiKey });
    expect(conversation.json.metadata["chat-widget:plan"]).toBe("platinum");
    expect(site.pageErrors).toEqual([]);
    await site.context.close();
  });

  it("keeps the client_message_id of a queued message across a reload: stored exactly once", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await launcher(page).click();
    await send(page, "first");
    const { conversation_id } = await widgetState(page, chatbotId);
    await loseNextAnswer(page);
    await failedAfterLostAnswer(site, "queued over a reload");
    const sentId = site.messageBodies[1].client_message_id;
    expect(sentId).toMatch(CLIENT_MESSAGE_ID);

    await page.reload();
    // The history (which already holds the message) and the unacknowledged outbox entry.
    const failed = page.locator("chat-context-widget .msg.failed");
    await failed.waitFor();
    expect(await failed.textContent()).toContain("queued over a reload");
    await page.getByRole("button", { name: "Retry", exact: true }).click();
    await failed.waitFor({ state: "detached" });
    await page.locator("chat-context-widget .msg.sending").waitFor({ state: "detached" });
    expect(site.messageBodies[2].client_message_id).toBe(sentId);
    expect(await storedVisitorTexts(apiKey, conversation_id)).toEqual(["first", "queued over a reload"]);
    // Shown once too: the retried bubble gives way to the one read back from the server.
    expect(await visitorBubbles(page).allTextContents()).toEqual(["first", "queued over a reload"]);
    expect(await botMessages(page).count()).toBe(2);
    await site.context.close();
  });

  it("gives an outbox entry stored by an older widget (no client_message_id) one, stored before it is sent", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await page.evaluate(([key, value]) => (globalThis as any).localStorage.setItem(key, value), [
      `chat-context:state:${chatbotId}`,
      JSON.stringify({ open: true, outbox: [{ id: "local-old-0", text: "typed before the upgrade" }] }),
    ] as const);
    await page.reload();
    await page.locator("chat-context-widget .msg.failed").waitFor();
    const stored = (await widgetState(page, chatbotId)).outbox;
    expect(stored).toHaveLength(1);
    expect(stored[0].client_message_id).toMatch(CLIENT_MESSAGE_ID);
    // Another reload before any attempt keeps the same id.
    await page.reload();
    await page.locator("chat-context-widget .msg.failed").waitFor();
    expect((await widgetState(page, chatbotId)).outbox[0].client_message_id).toBe(stored[0].client_message_id);
    await page.getByRole("button", { name: "Retry", exact: true }).click();
    await botMessages(page).first().waitFor();
    expect(site.messageBodies[0].client_message_id).toBe(stored[0].client_message_id);
    const { conversation_id } = await widgetState(page, chatbotId);
    expect(await storedVisitorTexts(apiKey, conversation_id)).toEqual(["typed before the upgrade"]);
    await site.context.close();
  });

  it("makes a client_message_id without crypto.randomUUID (pages that are not a secure context)", async () => {
    const { chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    await site.context.addInitScript({
      content: "try { Object.defineProperty(Crypto.prototype, 'randomUUID', { value: undefined }); } catch {}",
    });
    await site.page.reload();
    expect(await site.page.evaluate(() => typeof (globalThis as any).crypto.randomUUID)).toBe("undefined");
    await launcher(site.page).click();
    await send(site.page, "one");
    await send(site.page, "two");
    const [one, two] = site.messageBodies.map((body) => body.client_message_id);
    expect(one).toMatch(CLIENT_MESSAGE_ID);
    expect(two).toMatch(CLIENT_MESSAGE_ID);
    expect(one).not.toBe(two);
    expect(site.pageErrors).toEqual([]);
    await site.context.close();
  });

  it("stores the server's visitor id, sends it back, and replaces a refused one without a console warning", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    // A widget upgraded from a version whose visitor ids were not signed.
    const stale = "v_made_by_an_older_widget";
    await page.evaluate(([key, value]) => (globalThis as any).localStorage.setItem(key, value), [
      `chat-context:state:${chatbotId}`,
      JSON.stringify({ visitor_id: stale }),
    ] as const);
    await page.reload();
    await launcher(page).click();
    await send(page, "hello with a stale visitor id");
    expect(site.startBodies[0].visitor_id).toBe(stale);
    const first = await widgetState(page, chatbotId);
    expect(first.visitor_id).not.toBe(stale);
    expect(first.visitor_id.length).toBeLessThanOrEqual(128);
    // Routine for an upgraded widget: not reported as a data problem.
    expect(site.warnings.join("\n")).not.toMatch(/visitor_id/);

    // A new conversation of the same visitor: the issued id goes back and is kept.
    await page.evaluate(([key, value]) => (globalThis as any).localStorage.setItem(key, value), [
      `chat-context:state:${chatbotId}`,
      JSON.stringify({ visitor_id: first.visitor_id, open: true }),
    ] as const);
    await page.reload();
    await send(page, "hello again");
    expect(site.startBodies[1].visitor_id).toBe(first.visitor_id);
    const second = await widgetState(page, chatbotId);
    expect(second.visitor_id).toBe(first.visitor_id);
    expect(second.conversation_id).not.toBe(first.conversation_id);
    const [a, b] = await Promise.all([first, second].map((s) => api("GET", `/v1/conversations/${s.conversation_id}`, { token: apiKey })));
    expect(b!.json.participant_id).toBe(a!.json.participant_id);
    expect(site.warnings).toEqual([]);
    await site.context.close();
  });

  it("sends the site's identity token from localStorage: the conversation moves to the verified participant", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const secret = await api("POST", `/v1/chatbots/${chatbotId}/identity-secret`, { token: apiKey });
    expect(secret.status).toBe(201);
    const sign = (claims: Record<string, string>, key: string) =>
      new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("1h").sign(new TextEncoder().encode(key));

    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await launcher(page).click();
    await send(page, "anonymous so far");
    expect(site.startBodies[0].identity_token).toBeUndefined();
    expect(site.messageBodies[0].identity_token).toBeUndefined();
    const { conversation_id } = await widgetState(page, chatbotId);
    const before = await api("GET", `/v1/conversations/${conversation_id}`, { token: apiKey });

    // The site signs the visitor in mid-conversation.
    const token = await sign({ sub: "customer-42", email: "ada@example.com" }, secret.json.secret);
    await setData(page, { "octocom:identity_token": token });
    await send(page, "now signed in");
    expect(site.messageBodies[1].identity_token).toBe(token);
    // Never metadata: it is outside the data prefix.
    expect(site.messageBodies[1].data).toEqual({});

    const after = await api("GET", `/v1/conversations/${conversation_id}`, { token: apiKey });
    expect(after.json.participant_id).not.toBe(before.json.participant_id);
    expect(Object.keys(after.json.metadata)).toEqual([]);
    const participant = await api("GET", `/v1/participants/${after.json.participant_id}`, { token: apiKey });
    expect(participant.json).toMatchObject({
      chatbot_id: chatbotId,
      channel: "web",
      identifier: "customer-42",
      verified: true,
      email: "ada@example.com",
    });

    // A token signed with another secret: a warning on the console (never the token), the message stored.
    const forged = await sign({ sub: "customer-1" }, "not-the-chatbots-secret");
    await setData(page, { "octocom:identity_token": forged });
    await send(page, "with a forged token");
    expect(site.messageBodies[2].identity_token).toBe(forged);
    const warnings = site.warnings.join("\n");
    expect(warnings).toContain("invalid_identity_token");
    expect(warnings).not.toContain(forged);
    expect(warnings).not.toMatch(/custom data key "identity_token"/);
    expect(await storedVisitorTexts(apiKey, conversation_id)).toEqual(["anonymous so far", "now signed in", "with a forged token"]);
    const still = await api("GET", `/v1/conversations/${conversation_id}`, { token: apiKey });
    expect(still.json.participant_id).toBe(after.json.participant_id);

    // A new conversation starts with the token read afresh.
    await page.evaluate(([key, value]) => (globalThis as any).localStorage.setItem(key, value), [
      `chat-context:state:${chatbotId}`,
      JSON.stringify({ open: true }),
    ] as const);
    await setData(page, { "octocom:identity_token": token });
    await page.reload();
    await send(page, "a new conversation, signed in from the start");
    expect(site.startBodies[1].identity_token).toBe(token);
    const fresh = await widgetState(page, chatbotId);
    const started = await api("GET", `/v1/conversations/${fresh.conversation_id}`, { token: apiKey });
    expect(started.json.participant_id).toBe(after.json.participant_id);
    await site.context.close();
  });

  it("isolates message texts with dir=auto, so a right-to-left override cannot reorder the widget", async () => {
    const { chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await launcher(page).click();
    const text = `${RLO}evil`;
    await send(page, text);
    await send(page, `quoted ${RLO}evil and after`);
    const holders = await visitorBubbles(page).evaluateAll((bubbles: any[]) =>
      bubbles.map((bubble) => {
        // The innermost element whose text is the message's, and whether it isolates it.
        const walker = bubble.ownerDocument.createTreeWalker(bubble, 4);
        const node = walker.nextNode();
        const holder = node?.parentElement;
        return { text: holder?.textContent, dir: holder?.getAttribute("dir"), inside: bubble.contains(holder) };
      }),
    );
    expect(holders).toEqual([
      { text, dir: "auto", inside: true },
      { text: `quoted ${RLO}evil and after`, dir: "auto", inside: true },
    ]);
    // The bot's reply quotes the text too: isolated the same way.
    const replyDirs = await botMessages(page).evaluateAll((bubbles: any[]) => bubbles.map((b) => b.firstElementChild?.getAttribute("dir")));
    expect(replyDirs).toEqual(["auto", "auto"]);
    await page.screenshot({ path: `${SCREENSHOTS}/widget-bidi.png` });
    await site.context.close();
  });

  it("isolates metadata, customer fields and localStorage values in the playground panel", async () => {
    const { chatbotId } = await createChatbot({ name: `${RLO}evil bot` });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${BASE}/playground/${chatbotId}`);
    await setData(page, {
      "octocom:data:motto": `${RLO}evil`,
      [`octocom:data:${RLO}key`]: "value",
      "octocom:data:name": `${RLO}evil name`,
    });
    await launcher(page).click();
    await send(page, `${RLO}evil`);
    const metadataCell = page.locator("#metadata td", { hasText: `${RLO}evil` }).first();
    await metadataCell.waitFor();
    await page.locator("#customer td[data-field=name]", { hasText: `${RLO}evil name` }).waitFor();
    await page
      .locator("#local td", { hasText: `${RLO}evil` })
      .first()
      .waitFor();

    // Every cell that shows a key or a value, in the three tables, isolates it.
    const cells = await page
      .locator("#metadata tbody :is(th, td), #customer td, #local tbody :is(th, td)")
      .evaluateAll((nodes: any[]) =>
        nodes.filter((n) => !n.classList.contains("none")).map((n) => ({ text: n.textContent, dir: n.getAttribute("dir") })),
      );
    expect(cells.filter((cell) => cell.text.includes(RLO)).length).toBeGreaterThanOrEqual(6);
    for (const cell of cells) expect(cell, cell.text).toMatchObject({ dir: "auto" });
    // The server-rendered chatbot name, too.
    expect(await page.locator("h1 .name").getAttribute("dir")).toBe("auto");
    expect(await page.title()).toContain(`${RLO}evil bot`);
    await page.screenshot({ path: `${SCREENSHOTS}/playground-bidi.png`, fullPage: true });

    // The unknown-chatbot page shows the id from the address, which a link can choose.
    await page.goto(`${BASE}/playground/${encodeURIComponent(`${RLO}evil`)}`);
    const shown = page.locator("main code").first();
    expect(await shown.textContent()).toBe(`${RLO}evil`);
    expect(await shown.getAttribute("dir")).toBe("auto");
    await page.screenshot({ path: `${SCREENSHOTS}/playground-not-found-bidi.png` });
    await context.close();
  });
});
