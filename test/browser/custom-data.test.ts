import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createChatbot, launch, launcher, openSite, send, setData, widgetState } from "./support";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

describe("custom data from localStorage, in Chromium", () => {
  it("follows the spec's DevTools flow: keys set in the console arrive as metadata and the customer email", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    // What a person types in the DevTools console.
    await page.evaluate(() => {
      const storage = (globalThis as any).localStorage;
      storage.setItem("octocom:data:user_id", "test-123");
      storage.setItem("octocom:data:email", "test@example.com");
    });
    await launcher(page).click();
    const reply = await send(page, "Hello, I need help with my order");
    expect(reply).toContain('chat-widget:user_id = "test-123"');
    expect(reply).toContain("email test@example.com");

    const state = await widgetState(page, chatbotId);
    expect(state.conversation_id).toMatch(/^conv_/);
    const conversation = await api("GET", `/v1/conversations/${state.conversation_id}`, { token: apiKey });
    expect(conversation.status).toBe(200);
    expect(conversation.json.metadata["chat-widget:user_id"]).toBe("test-123");
    expect(conversation.json.metadata["chat-widget:email"]).toBe("test@example.com");
    expect(conversation.json.customer.email).toBe("test@example.com");
    // The start carried every pair, as sent to the server.
    expect(site.startBodies).toHaveLength(1);
    expect(site.startBodies[0].data).toEqual({ user_id: "test-123", email: "test@example.com" });
    expect(site.pageErrors).toEqual([]);
    expect(await page.evaluate(() => (globalThis as any).siteScriptRan)).toBe(true);
    await site.context.close();
  });

  it("sends a key set mid-conversation with the next message, and only what changed", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await setData(page, { "octocom:data:user_id": "u-1" });
    await launcher(page).click();
    await send(page, "first");
    expect(site.messageBodies[0].data).toEqual({ user_id: "u-1" });

    // After the customer logs in, say.
    await setData(page, { "octocom:data:plan": "enterprise" });
    const reply = await send(page, "second");
    expect(site.messageBodies[1].data).toEqual({ plan: "enterprise" });
    expect(reply).toContain('chat-widget:plan = "enterprise"');

    // Nothing changed: nothing sent. Then one value changes: only that one.
    await send(page, "third");
    expect(site.messageBodies[2].data).toEqual({});
    await setData(page, { "octocom:data:user_id": "u-2" });
    await send(page, "fourth");
    expect(site.messageBodies[3].data).toEqual({ user_id: "u-2" });

    // A removed key is kept on the conversation (the server keeps it; the widget stops sending it).
    await page.evaluate(() => (globalThis as any).localStorage.removeItem("octocom:data:plan"));
    await send(page, "fifth");
    expect(site.messageBodies[4].data).toEqual({});

    const state = await widgetState(page, chatbotId);
    const metadata = await api("GET", `/v1/conversations/${state.conversation_id}/metadata`, { token: apiKey });
    expect(metadata.json.metadata).toEqual({ "chat-widget:user_id": "u-2", "chat-widget:plan": "enterprise" });
    expect(site.startBodies).toHaveLength(1);
    await site.context.close();
  });

  it("reads only keys with the exact prefix octocom:data:", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await setData(page, {
      "octocom:data:ok": "yes",
      "octocom:data:": "empty rest",
      "octocom:datax": "no",
      "octocom:dataxy:z": "no",
      "Octocom:data:upper": "no",
      "OCTOCOM:DATA:upper": "no",
      "xoctocom:data:inner": "no",
      " octocom:data:space": "no",
      "octocom:data": "no",
      other: "no",
    });
    await launcher(page).click();
    await send(page, "prefix check");
    expect(site.startBodies[0].data).toEqual({ ok: "yes" });
    expect(site.messageBodies[0].data).toEqual({ ok: "yes" });
    const state = await widgetState(page, chatbotId);
    const metadata = await api("GET", `/v1/conversations/${state.conversation_id}/metadata`, { token: apiKey });
    expect(metadata.json.metadata).toEqual({ "chat-widget:ok": "yes" });
    // The widget's own state lives outside the prefix.
    const keys: string[] = await page.evaluate(() => Object.keys((globalThis as any).localStorage));
    expect(keys.filter((key) => key.startsWith("chat-context:"))).toEqual([`chat-context:state:${chatbotId}`]);
    await site.context.close();
  });

  it("sends the browser's IANA timezone, stored on the participant", async () => {
    const { chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId, { timezoneId: "Australia/Adelaide" });
    const { page } = site;
    await launcher(page).click();
    const reply = await send(page, "what time is it for me?");
    expect(site.startBodies[0].timezone).toBe("Australia/Adelaide");
    expect(site.messageBodies[0].timezone).toBe("Australia/Adelaide");
    expect(reply).toContain("timezone Australia/Adelaide");
    const state = await widgetState(page, chatbotId);
    // The customer record as stored in D1 (participants row), read through the playground's route.
    const stored = await api("GET", `/playground/api/conversations/${state.conversation_id}`, { token: state.token });
    expect(stored.status).toBe(200);
    expect(stored.json.customer.timezone).toBe("Australia/Adelaide");
    await site.context.close();
  });

  it("reports rejected pairs and warnings with console.warn, naming key and reason, and still delivers the message", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await setData(page, {
      "octocom:data:notes": "x".repeat(50_001),
      "octocom:data:email": "not-an-email",
      "octocom:data:plan": "pro",
    });
    await launcher(page).click();
    await send(page, "bad data should not lose this");
    const warnings = site.warnings.join("\n");
    expect(warnings).toMatch(/"notes".*value_too_long/);
    expect(warnings).toMatch(/"email".*invalid_email/);
    const state = await widgetState(page, chatbotId);
    const conversation = await api("GET", `/v1/conversations/${state.conversation_id}`, { token: apiKey });
    expect(conversation.json.metadata["chat-widget:plan"]).toBe("pro");
    expect(conversation.json.metadata["chat-widget:notes"]).toBeUndefined();
    expect(conversation.json.customer.email).toBeNull();
    const messages = await api("GET", `/v1/conversations/${state.conversation_id}/messages`, { token: apiKey });
    expect(messages.json.messages.map((m: any) => m.text)).toContain("bad data should not lose this");
    await site.context.close();
  });
});
