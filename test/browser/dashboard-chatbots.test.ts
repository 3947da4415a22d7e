import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectAccessible, SCREENSHOTS, signIn } from "./dashboard-support";
import { api, BASE, createChatbot, launch } from "./support";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const HOSTILE_NAME = '<script>alert(1)</script> "><img src=x onerror=alert(1)> \u202Eevil';
const LONG_ORIGIN = `https://${"a".repeat(60)}.${"b".repeat(60)}.example.com`;

/** A browser context that records page errors and refused scripts (a CSP violation would show here). */
async function open(options: { clipboard?: boolean } = {}): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  if (options.clipboard) await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().includes("status of 4")) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  return { context, page, problems };
}

/** The chatbot as the API sees it. */
async function chatbotOf(apiKey: string, id: string) {
  const response = await api("GET", `/v1/chatbots/${id}`, { token: apiKey });
  expect(response.status).toBe(200);
  return response.json;
}

/** No horizontal scrolling: long values wrap inside the page instead of widening it. */
async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  const widths = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return { scroll: root.scrollWidth as number, client: root.clientWidth as number };
  });
  expect(widths.scroll).toBeLessThanOrEqual(widths.client);
}

/** Waits for what a click starts (a fetch to the API) with room for a loaded machine. */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 });

const errorsOf = (page: Page, id: string) => page.locator(`#${id}`).textContent();

describe("dashboard chatbots", () => {
  it("creates a chatbot from the list page; an empty name is refused next to the field", async () => {
    const { apiKey } = await createChatbot({ name: HOSTILE_NAME, allowed_origins: [LONG_ORIGIN] });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, "/dashboard/chatbots");
    expect(await page.getByRole("link", { name: HOSTILE_NAME }).count()).toBe(1);
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    await expectAccessible(page);
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbots-list.png`, fullPage: true });

    const form = page.getByRole("region", { name: "Create chatbot" });
    await form.getByRole("button", { name: "Create chatbot" }).click();
    const name = form.getByLabel("Name", { exact: true });
    await poll(() => name.getAttribute("aria-invalid")).toBe("true");
    expect(await errorsOf(page, "new-chatbot-name-error")).toMatch(/\S/);
    expect(await form.getByRole("status").textContent()).toContain("Not saved");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("new-chatbot-name");

    await name.fill("Support bot");
    await form.getByRole("button", { name: "Create chatbot" }).click();
    await page.waitForURL(/\/dashboard\/chatbots\/cb_[0-9a-z]{26}$/);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Support bot");
    const id = page.url().split("/").at(-1)!;
    expect((await chatbotOf(apiKey, id)).name).toBe("Support bot");
    await page.goto(`${BASE}/dashboard/chatbots`);
    expect(await page.getByRole("link", { name: "Support bot" }).getAttribute("href")).toBe(`/dashboard/chatbots/${id}`);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("changes allowed origins: a bad line is named next to the field, then a good list saves", async () => {
    const { apiKey, chatbotId } = await createChatbot({ allowed_origins: ["https://old.example.com"] });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/chatbots/${chatbotId}`);
    const origins = page.getByLabel("Allowed origins", { exact: true });
    expect(await origins.inputValue()).toBe("https://old.example.com");
    await origins.fill("https://shop.example.com\n\nhttps://shop.example.com/checkout\nhttp://localhost:3000");
    await page.getByRole("button", { name: "Save name and origins" }).click();
    await poll(() => origins.getAttribute("aria-invalid")).toBe("true");
    // The API numbers the origins it was sent (blank lines dropped); the page names the line as the person counts.
    expect(await errorsOf(page, "allowed-origins-error")).toMatch(/^Line 3 \(https:\/\/shop\.example\.com\/checkout\): must be an origin/);
    expect((await chatbotOf(apiKey, chatbotId)).allowed_origins).toEqual(["https://old.example.com"]);
    await expectAccessible(page);

    await origins.fill("https://shop.example.com\nhttp://localhost:3000\nhttps://shop.example.com");
    await page.getByRole("button", { name: "Save name and origins" }).click();
    const status = page.getByRole("region", { name: "Name and allowed origins" }).getByRole("status");
    await poll(() => status.textContent()).toBe("Saved.");
    expect(await origins.getAttribute("aria-invalid")).toBeNull();
    expect(await page.locator("#allowed-origins-error").isHidden()).toBe(true);
    expect((await chatbotOf(apiKey, chatbotId)).allowed_origins).toEqual(["https://shop.example.com", "http://localhost:3000"]);
    expect(await origins.inputValue()).toBe("https://shop.example.com\nhttp://localhost:3000");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("checks the participant data schema: failing pointers next to the field, a valid one saves, an empty box clears it", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/chatbots/${chatbotId}`);
    const box = page.getByLabel("JSON Schema (draft 2020-12)");
    const region = page.getByRole("region", { name: "Participant data schema" });
    const save = region.getByRole("button", { name: "Save schema" });

    await box.fill('{"type": "object",');
    await save.click();
    await poll(() => errorsOf(page, "participant-data-schema-error")).toMatch(/^Not valid JSON/);

    await box.fill(JSON.stringify({ type: "objekt", properties: { age: { minimum: "ten" } } }, null, 2));
    await save.click();
    await poll(() => errorsOf(page, "participant-data-schema-error")).toContain("At /properties/age/minimum:");
    expect(await errorsOf(page, "participant-data-schema-error")).toContain("At /type:");
    expect(await box.getAttribute("aria-invalid")).toBe("true");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("participant-data-schema");
    expect((await chatbotOf(apiKey, chatbotId)).participant_data_schema).toBeNull();
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbot-schema-errors.png`, fullPage: true });

    const schema = { type: "object", properties: { plan: { enum: ["free", "pro"] } }, required: ["plan"] };
    await box.fill(JSON.stringify(schema));
    await save.click();
    await poll(() => region.getByRole("status").textContent()).toBe("Saved.");
    expect(await page.locator("#participant-data-schema-error").isHidden()).toBe(true);
    expect((await chatbotOf(apiKey, chatbotId)).participant_data_schema).toEqual(schema);
    expect(await box.inputValue()).toBe(JSON.stringify(schema, null, 2));

    // The saved schema is enforced: a participant write that breaks it is refused.
    const refused = await api("POST", "/v1/participants", {
      token: apiKey,
      body: { chatbot_id: chatbotId, channel: "api", identifier: "p1", data: { plan: "gold" } },
    });
    expect(refused.status).toBe(422);

    await box.fill("   ");
    await save.click();
    await poll(() => region.getByRole("status").textContent()).toContain("no schema");
    expect((await chatbotOf(apiKey, chatbotId)).participant_data_schema).toBeNull();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("sets identity verification to required, creates and rotates the identity secret, shown once", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const { context, page, problems } = await open({ clipboard: true });
    await signIn(page, apiKey, `/dashboard/chatbots/${chatbotId}`);
    const region = page.getByRole("region", { name: "Identity verification" });
    const group = region.getByRole("group", { name: "Identity verification" });
    expect(await group.getByRole("radio", { name: "Off" }).isChecked()).toBe(true);
    await group.getByRole("radio", { name: "Required" }).check();
    await region.getByRole("button", { name: "Save identity verification" }).click();
    await poll(() => region.locator("form [role=status]").textContent()).toContain("required");
    expect((await chatbotOf(apiKey, chatbotId)).identity_verification).toBe("required");

    expect(await page.locator("#identity-secret-state").textContent()).toBe("No identity secret is set yet.");
    expect(await page.locator("#identity-secret-output").isHidden()).toBe(true);
    await region.getByRole("button", { name: "Create identity secret" }).click();
    const secret = page.locator("#identity-secret-value");
    await poll(() => secret.textContent()).toMatch(/^cis_[A-Za-z0-9_-]{43}$/);
    const first = await secret.textContent();
    expect(await region.textContent()).toContain("it will not be shown again");
    expect(await page.locator("#identity-secret-state").textContent()).toBe("An identity secret is set.");
    expect((await chatbotOf(apiKey, chatbotId)).identity_secret_set).toBe(true);
    // Focus goes to the secret's copy button, the next thing to do.
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent)).toBe("Copy secret");
    await region.getByRole("button", { name: "Copy secret" }).click();
    expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(first);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbot-secret.png`, fullPage: true });

    await region.getByRole("button", { name: "Rotate identity secret" }).click();
    await poll(() => secret.textContent()).not.toBe(first);
    const second = await secret.textContent();
    expect(second).toMatch(/^cis_[A-Za-z0-9_-]{43}$/);

    await page.reload();
    expect(await page.content()).not.toContain(first);
    expect(await page.content()).not.toContain(second);
    expect(await page.locator("#identity-secret-output").isHidden()).toBe(true);
    expect(await page.locator("#identity-secret-state").textContent()).toBe("An identity secret is set.");
    expect(await region.getByRole("button", { name: "Rotate identity secret" }).count()).toBe(1);
    expect(await group.getByRole("radio", { name: "Required" }).isChecked()).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("turns stand-in replies off and on again", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/chatbots/${chatbotId}`);
    const region = page.getByRole("region", { name: "Stand-in replies" });
    const box = region.getByRole("checkbox", { name: "Answer visitor messages with the stand-in reply" });
    expect(await box.isChecked()).toBe(true);
    await box.uncheck();
    await region.getByRole("button", { name: "Save stand-in replies" }).click();
    await poll(() => region.getByRole("status").textContent()).toBe("Saved: no stand-in replies.");
    expect((await chatbotOf(apiKey, chatbotId)).stand_in_replies).toBe(false);
    await page.reload();
    expect(await box.isChecked()).toBe(false);
    await box.check();
    await region.getByRole("button", { name: "Save stand-in replies" }).click();
    await poll(() => region.getByRole("status").textContent()).toBe("Saved: visitors get the stand-in reply.");
    expect((await chatbotOf(apiKey, chatbotId)).stand_in_replies).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("copies the widget snippet with the clipboard, or selects it where the clipboard is refused; links the playground", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const snippet = `<script src="${BASE}/widget.js" data-chatbot-id="${chatbotId}" async></script>`;
    const { context, page, problems } = await open({ clipboard: true });
    await signIn(page, apiKey, `/dashboard/chatbots/${chatbotId}`);
    const region = page.getByRole("region", { name: "Widget" });
    await region.getByRole("button", { name: "Copy snippet" }).click();
    await poll(() => region.getByRole("status").textContent()).toBe("Copied to the clipboard.");
    expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(snippet);

    // A browser that refuses the clipboard: the snippet is selected for Ctrl+C instead.
    await page.evaluate(() => {
      (globalThis as any).navigator.clipboard.writeText = () => Promise.reject(new Error("refused"));
    });
    await region.getByRole("button", { name: "Copy snippet" }).click();
    await poll(() => region.getByRole("status").textContent()).toContain("press Ctrl+C");
    expect(await page.evaluate(() => String((globalThis as any).getSelection()))).toBe(snippet);

    await region.getByRole("link", { name: "Open the playground" }).click();
    await page.waitForURL(`${BASE}/playground/${chatbotId}`);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("works from the keyboard alone: skip link, rename, choose identity verification", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Before" });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/chatbots/${chatbotId}`);
    const focused = () =>
      page.evaluate(() => (globalThis as any).document.activeElement?.id || (globalThis as any).document.activeElement?.textContent);

    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await focused()).toBe("main");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Chatbots");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("chatbot-name");
    await page.keyboard.press("Control+A");
    await page.keyboard.type("After, by keyboard");
    await page.keyboard.press("Enter");
    const status = page.getByRole("region", { name: "Name and allowed origins" }).getByRole("status");
    await poll(() => status.textContent()).toBe("Saved.");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("After, by keyboard");
    expect(await page.title()).toContain("After, by keyboard");
    expect((await chatbotOf(apiKey, chatbotId)).name).toBe("After, by keyboard");

    // On through the page to the identity radios: arrows choose, Tab reaches Save, Space presses it.
    let steps = 0;
    while ((await focused()) !== "identity-off" && steps++ < 20) await page.keyboard.press("Tab");
    expect(await focused()).toBe("identity-off");
    await page.keyboard.press("ArrowDown");
    expect(await focused()).toBe("identity-required");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Save identity verification");
    await page.keyboard.press("Space");
    await poll(async () => (await chatbotOf(apiKey, chatbotId)).identity_verification).toBe("required");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows a read key's session the settings with nothing to change; the settings page passes axe with hostile values", async () => {
    const schema = { type: "object", description: `</textarea><script>window.pwned=1</script>${"x".repeat(50_000)}` };
    const { apiKey, chatbotId } = await createChatbot({
      name: HOSTILE_NAME,
      allowed_origins: ["https://shop.example.com", LONG_ORIGIN],
      participant_data_schema: schema,
    });
    const write = await open();
    await signIn(write.page, apiKey, `/dashboard/chatbots/${chatbotId}`);
    expect(await write.page.getByRole("heading", { level: 1 }).textContent()).toBe(HOSTILE_NAME);
    expect(JSON.parse(await write.page.getByLabel("JSON Schema (draft 2020-12)").inputValue())).toEqual(schema);
    expect(await write.page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    await expectAccessible(write.page);
    await expectNoHorizontalOverflow(write.page);
    await write.page.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbot-settings.png`, fullPage: true });
    expect(write.problems).toEqual([]);
    await write.context.close();

    const read = await api("POST", "/v1/api-keys", { token: apiKey, body: { name: "viewer", scope: "read" } });
    const { context, page, problems } = await open();
    await signIn(page, read.json.key, `/dashboard/chatbots/${chatbotId}`);
    expect(await page.getByLabel("Name", { exact: true }).getAttribute("readonly")).toBe("");
    expect(await page.getByLabel("Allowed origins", { exact: true }).inputValue()).toBe(`https://shop.example.com\n${LONG_ORIGIN}`);
    expect(await page.getByRole("radio", { name: "Off" }).isDisabled()).toBe(true);
    expect(await page.getByRole("button", { name: /^Save/ }).count()).toBe(0);
    expect(await page.getByRole("button", { name: /identity secret/ }).count()).toBe(0);
    // Enter in a read-only field sends nothing and stays on the page.
    await page.getByLabel("Name", { exact: true }).press("Enter");
    expect(page.url()).toBe(`${BASE}/dashboard/chatbots/${chatbotId}`);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbot-read-only.png`, fullPage: true });
    await page.goto(`${BASE}/dashboard/chatbots`);
    expect(await page.getByRole("button", { name: "Create chatbot" }).count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  it("answers another team's chatbot with the not-found page", async () => {
    const mine = await createChatbot();
    const theirs = await createChatbot({ name: "Their bot" });
    const { context, page } = await open();
    await signIn(page, mine.apiKey, "/dashboard/chatbots");
    const response = await page.goto(`${BASE}/dashboard/chatbots/${theirs.chatbotId}`);
    expect(response?.status()).toBe(404);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Chatbot not found");
    expect(await page.content()).not.toContain("Their bot");
    await expectAccessible(page);
    await context.close();
  });
});
