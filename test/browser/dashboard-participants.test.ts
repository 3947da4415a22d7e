// The participants pages in Chromium, as a person uses them: create (and the link to an
// existing record), the data editor against a conflicting edit from a second tab and a
// schema violation, the customer record, CSV export then import through the page, a
// read-only session, another team's id, keyboard-only creation, axe and screenshots.
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

/** The server answers within seconds even on a loaded two-core machine (vitest's default is 1 s). */
const POLL = { timeout: 15_000 };
const PARTICIPANT_URL = /\/dashboard\/participants\/part_[0-9a-z]{26}$/;

/** A context whose pages record script errors and refused scripts (a CSP violation shows here). */
async function open(): Promise<{ context: BrowserContext; page: Page; problems: string[]; watch: (page: Page) => void }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (message) => {
      // A refused request (409, 412, 422) is logged by Chromium as a failed resource: expected here.
      if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(String(error)));
    page.on("dialog", (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
  };
  const page = await context.newPage();
  watch(page);
  return { context, page, problems, watch };
}

async function participantOf(apiKey: string, id: string) {
  const response = await api("GET", `/v1/participants/${id}`, { token: apiKey });
  expect(response.status).toBe(200);
  return response.json;
}

async function createParticipant(apiKey: string, body: Record<string, unknown>) {
  const response = await api("POST", "/v1/participants", { token: apiKey, body: { channel: "api", ...body } });
  expect(response.status).toBe(201);
  return response.json as { id: string; version: number };
}

/** No horizontal scrolling: long values wrap inside the page instead of widening it. */
async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  const widths = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return { scroll: root.scrollWidth as number, client: root.clientWidth as number };
  });
  expect(widths.scroll).toBeLessThanOrEqual(widths.client);
}

const activeId = (page: Page) => page.evaluate(() => (globalThis as any).document.activeElement?.id as string | undefined);

describe("dashboard participants", () => {
  it("creates a participant and opens it; the same identifier again links to the existing one", async () => {
    const { apiKey } = await createChatbot({ name: "Shop bot" });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, "/dashboard/participants");
    expect(await page.getByText("No participants yet.").count()).toBe(1);
    await expectAccessible(page);

    const form = page.getByRole("region", { name: "Create participant" });
    await form.getByLabel("Channel").fill("whatsapp");
    await form.getByLabel("Identifier").fill("+37060000001");
    await form.getByLabel("Name (optional)").fill("Ann Example");
    await form.getByRole("button", { name: "Create participant" }).click();
    await page.waitForURL(PARTICIPANT_URL);
    const id = page.url().split("/").at(-1)!;
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("+37060000001");
    expect(await page.getByLabel("Name").inputValue()).toBe("Ann Example");
    expect(await participantOf(apiKey, id)).toMatchObject({ channel: "whatsapp", identifier: "+37060000001", name: "Ann Example" });
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participant.png`, fullPage: true });

    await page.goto(`${BASE}/dashboard/participants`);
    expect(await page.getByRole("link", { name: "+37060000001" }).getAttribute("href")).toBe(`/dashboard/participants/${id}`);
    await form.getByLabel("Channel").fill("whatsapp");
    await form.getByLabel("Identifier").fill("+37060000001");
    await form.getByRole("button", { name: "Create participant" }).click();
    const outcome = form.getByRole("status");
    await expect.poll(() => outcome.textContent(), POLL).toContain("A participant with this identifier already exists.");
    expect(await activeId(page)).toBe("");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.className)).toContain("form-outcome");
    const existing = outcome.getByRole("link", { name: "Open the existing participant" });
    expect(await existing.getAttribute("href")).toBe(`/dashboard/participants/${id}`);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participants-existing.png`, fullPage: true });
    await existing.click();
    await page.waitForURL(`${BASE}/dashboard/participants/${id}`);

    // A field the API refuses is named next to it.
    await page.goto(`${BASE}/dashboard/participants`);
    await form.getByLabel("Channel").fill("Not A Channel");
    await form.getByLabel("Identifier").fill("someone");
    await form.getByRole("button", { name: "Create participant" }).click();
    const channel = form.getByLabel("Channel");
    await expect.poll(() => channel.getAttribute("aria-invalid"), POLL).toBe("true");
    expect(await page.locator("#new-channel-error").textContent()).toContain("must be a channel name");
    expect(await activeId(page)).toBe("new-channel");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("creates a participant with the keyboard alone", async () => {
    const { apiKey } = await createChatbot();
    const { context, page, problems } = await open();
    await signIn(page, apiKey, "/dashboard/participants");
    // From the top of the page: Tab to the "Create participant" link, then Enter.
    await page.evaluate(() => (globalThis as any).document.activeElement?.blur());
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => (globalThis as any).document.activeElement?.textContent === "Create participant");
    }
    expect(reached).toBe(true);
    await page.keyboard.press("Enter");
    await page.keyboard.press("Tab");
    expect(await activeId(page)).toBe("new-chatbot");
    await page.keyboard.press("Tab");
    expect(await activeId(page)).toBe("new-channel");
    await page.keyboard.type("sms");
    await page.keyboard.press("Tab");
    expect(await activeId(page)).toBe("new-identifier");
    await page.keyboard.type("keyboard-person");
    await page.keyboard.press("Tab");
    expect(await activeId(page)).toBe("new-name");
    await page.keyboard.type("Kim Keys");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent)).toBe("Create participant");
    await page.keyboard.press("Enter");
    await page.waitForURL(PARTICIPANT_URL);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("keyboard-person");
    expect(await participantOf(apiKey, page.url().split("/").at(-1)!)).toMatchObject({ channel: "sms", name: "Kim Keys" });
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows an edit made in a second tab meanwhile, overwrites nothing, and saves once the newer version is taken", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const { id } = await createParticipant(apiKey, { chatbot_id: chatbotId, identifier: "two-tabs", data: { plan: "free" } });
    const { context, page, problems, watch } = await open();
    await signIn(page, apiKey, `/dashboard/participants/${id}`);
    const second = await context.newPage();
    watch(second);
    await second.goto(`${BASE}/dashboard/participants/${id}`);

    // The second tab saves first.
    await second.getByLabel("Data (JSON)", { exact: true }).fill('{"plan": "pro"}');
    await second.getByRole("button", { name: "Save data" }).click();
    await expect.poll(() => second.locator("#data output").textContent(), POLL).toBe("Saved as version 2.");

    // The first tab, still at version 1, saves its own edit: refused, both shown side by side.
    const editor = page.getByLabel("Data (JSON)", { exact: true });
    await editor.fill('{"plan": "enterprise"}');
    await page.getByRole("button", { name: "Save data" }).click();
    const conflict = page.locator("[data-data-conflict]");
    await expect.poll(() => conflict.isVisible(), POLL).toBe(true);
    expect(await conflict.getByRole("heading", { level: 3 }).textContent()).toBe("Someone else changed this data");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent)).toBe("Someone else changed this data");
    expect(await conflict.getByRole("region", { name: "Newer data (JSON)" }).textContent()).toContain('"plan": "pro"');
    expect(await conflict.getByRole("region", { name: "Your edit (JSON)" }).textContent()).toContain('"plan": "enterprise"');
    expect(await participantOf(apiKey, id)).toMatchObject({ version: 2, data: { plan: "pro" } });
    expect(await editor.inputValue()).toBe('{"plan": "enterprise"}');
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participant-conflict.png`, fullPage: true });

    // Saving again without taking the newer version is refused again: still nothing overwritten.
    await page.getByRole("button", { name: "Save data" }).click();
    await expect.poll(() => conflict.getByRole("heading", { level: 3 }).count(), POLL).toBe(1);
    expect(await participantOf(apiKey, id)).toMatchObject({ version: 2, data: { plan: "pro" } });

    // Take the newer version, re-apply the change on top of it, save.
    await conflict.getByRole("button", { name: "Take the newer version" }).click();
    expect(JSON.parse(await editor.inputValue())).toEqual({ plan: "pro" });
    expect(await activeId(page)).toBe("data-json");
    expect(await conflict.getByRole("region", { name: "Your edit (JSON)" }).textContent()).toContain('"plan": "enterprise"');
    await editor.fill('{"plan": "enterprise", "seats": 3}');
    await page.getByRole("button", { name: "Save data" }).click();
    await expect.poll(() => page.locator("#data output").textContent(), POLL).toBe("Saved as version 3.");
    expect(await conflict.isVisible()).toBe(false);
    expect(await participantOf(apiKey, id)).toMatchObject({ version: 3, data: { plan: "enterprise", seats: 3 } });
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows an API write made between render and save as a conflict", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const { id } = await createParticipant(apiKey, { chatbot_id: chatbotId, identifier: "api-race", data: { visits: 1 } });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/participants/${id}`);
    const bumped = await api("POST", `/v1/participants/${id}/data/increment`, { token: apiKey, body: { key: "visits" } });
    expect(bumped.status).toBe(200);
    await page.getByLabel("Data (JSON)", { exact: true }).fill('{"visits": 1, "note": "mine"}');
    await page.getByRole("button", { name: "Save data" }).click();
    const conflict = page.locator("[data-data-conflict]");
    await expect.poll(() => conflict.isVisible(), POLL).toBe(true);
    expect(await conflict.getByRole("region", { name: "Newer data (JSON)" }).textContent()).toContain('"visits": 2');
    expect(await participantOf(apiKey, id)).toMatchObject({ version: 2, data: { visits: 2 } });
    expect(problems).toEqual([]);
    await context.close();
  });

  it("names each path the chatbot's schema refuses next to the editor, and changes nothing", async () => {
    const schema = {
      type: "object",
      properties: { age: { type: "integer", minimum: 0 }, email: { type: "string", format: "email" } },
      required: ["age"],
    };
    const { apiKey, chatbotId } = await createChatbot({ participant_data_schema: schema });
    const { id } = await createParticipant(apiKey, { chatbot_id: chatbotId, identifier: "schema-person", data: { age: 30 } });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/participants/${id}`);
    const editor = page.getByLabel("Data (JSON)", { exact: true });
    await editor.fill('{"age": -1, "email": 5}');
    await page.getByRole("button", { name: "Save data" }).click();
    const errors = page.locator("#data-errors");
    await expect.poll(() => errors.isVisible(), POLL).toBe(true);
    const text = (await errors.textContent()) ?? "";
    expect(text).toContain("does not match the chatbot's schema");
    expect(text).toContain("/age");
    expect(text).toContain("/email");
    expect(await editor.getAttribute("aria-invalid")).toBe("true");
    expect(await editor.getAttribute("aria-describedby")).toContain("data-errors");
    expect(await activeId(page)).toBe("data-json");
    expect(await participantOf(apiKey, id)).toMatchObject({ version: 1, data: { age: 30 } });
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participant-schema.png`, fullPage: true });

    // Text that is not JSON is refused before it is sent.
    await editor.fill('{"age": ');
    await page.getByRole("button", { name: "Save data" }).click();
    await expect.poll(() => errors.textContent(), POLL).toContain("This is not valid JSON");

    await editor.fill('{"age": 31}');
    await page.getByRole("button", { name: "Save data" }).click();
    await expect.poll(() => page.locator("#data output").textContent(), POLL).toBe("Saved as version 2.");
    expect(await errors.isVisible()).toBe(false);
    expect(await editor.getAttribute("aria-invalid")).toBeNull();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("edits the customer record: a refused field is named next to it, the others are kept", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const { id } = await createParticipant(apiKey, { chatbot_id: chatbotId, identifier: "customer", name: "Old Name" });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/participants/${id}`);
    const customer = page.getByRole("region", { name: "Customer" });
    await customer.getByLabel("Email").fill("not an email");
    await customer.getByLabel("Timezone").fill("Europe/Vilnius");
    await customer.getByRole("button", { name: "Save customer record" }).click();
    await expect.poll(() => customer.getByLabel("Email").getAttribute("aria-invalid"), POLL).toBe("true");
    expect(await page.locator("#c-email-error").textContent()).toContain("must be a valid email address");
    expect(await activeId(page)).toBe("c-email");
    expect(await participantOf(apiKey, id)).toMatchObject({ email: null, timezone: null });
    await customer.getByLabel("Email").fill("ann@example.com");
    await customer.getByLabel("Name").fill("");
    await customer.getByRole("button", { name: "Save customer record" }).click();
    await expect.poll(() => customer.getByRole("status").textContent(), POLL).toBe("Customer record saved.");
    expect(await customer.getByLabel("Email").getAttribute("aria-invalid")).toBeNull();
    expect(await participantOf(apiKey, id)).toMatchObject({ name: null, email: "ann@example.com", timezone: "Europe/Vilnius" });
    await page.reload();
    expect(await customer.getByLabel("Timezone").inputValue()).toBe("Europe/Vilnius");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("exports a chatbot's participants as CSV and imports the file back through the page: all unchanged", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Export bot" });
    const other = await api("POST", "/v1/chatbots", { token: apiKey, body: { name: "Other bot" } });
    for (const [identifier, data] of [
      ["csv-1", { plan: "pro", seats: 3 }],
      ["csv-2", { plan: "free", tags: ["a", "b"] }],
      ["csv-3", {}],
    ] as const) {
      await createParticipant(apiKey, { chatbot_id: chatbotId, identifier, name: `Name ${identifier}`, data });
    }
    await createParticipant(apiKey, { chatbot_id: other.json.id, identifier: "elsewhere" });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, "/dashboard/participants");
    const csv = page.getByRole("region", { name: "Export and import CSV" });
    await csv.getByLabel("Chatbot").selectOption({ label: "Export bot" });
    const exportLink = csv.getByRole("link", { name: "Export CSV" });
    expect(await exportLink.getAttribute("href")).toBe(`/v1/participants/export?chatbot_id=${chatbotId}`);
    const [download] = await Promise.all([page.waitForEvent("download"), exportLink.click()]);
    expect(download.suggestedFilename()).toBe(`participants-${chatbotId}.csv`);
    const file = await download.path();

    await csv.getByLabel("CSV file to import").setInputFiles(file);
    await csv.getByRole("button", { name: "Import CSV" }).click();
    const report = page.locator("[data-import-report]");
    await expect
      .poll(() => report.textContent(), POLL)
      .toContain("Import finished: 0 created, 0 updated, 3 unchanged, 0 rows not imported.");
    expect(await activeId(page)).toBe("");
    await expectAccessible(page);

    // A file with bad rows: each is reported with its row number; the good ones apply.
    const bad = "identifier,channel,name,data.plan\ncsv-1,api,Name csv-1,enterprise\n,api,No identifier,x\nnew-one,NOT OK,Bad channel,y\n";
    await csv
      .getByLabel("CSV file to import")
      .setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: (globalThis as any).Buffer.from(bad) });
    await csv.getByRole("button", { name: "Import CSV" }).click();
    await expect.poll(() => report.textContent(), POLL).toContain("0 created, 1 updated, 0 unchanged, 2 rows not imported.");
    const rows = report.getByRole("table", { name: "Rows not imported" }).getByRole("row");
    expect(await rows.count()).toBe(3);
    expect(await rows.nth(1).getByRole("cell").first().textContent()).toBe("3");
    expect(await rows.nth(2).getByRole("cell").first().textContent()).toBe("4");
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participants-import.png`, fullPage: true });

    // No file chosen: said next to the file input.
    await page.reload();
    await csv.getByRole("button", { name: "Import CSV" }).click();
    await expect.poll(() => page.locator("#csv-file-error").textContent(), POLL).toBe("Choose a CSV file to import.");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows a read key's session the pages without edit controls", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const { id } = await createParticipant(apiKey, { chatbot_id: chatbotId, identifier: "read-only", name: "Rita", data: { plan: "pro" } });
    const readKey = await api("POST", "/v1/api-keys", { token: apiKey, body: { name: "viewer", scope: "read" } });
    const { context, page, problems } = await open();
    await signIn(page, readKey.json.key, "/dashboard/participants");
    expect(await page.getByText("Read-only key").count()).toBe(1);
    expect(await page.getByRole("region", { name: "Create participant" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Import CSV" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Export CSV" }).count()).toBe(1);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participants-read-only.png`, fullPage: true });
    await page.getByRole("link", { name: "read-only" }).click();
    await page.waitForURL(`${BASE}/dashboard/participants/${id}`);
    expect(await page.getByRole("textbox").count()).toBe(0);
    expect(await page.getByRole("button", { name: /Save/ }).count()).toBe(0);
    expect(await page.getByRole("region", { name: "Participant data (JSON)" }).textContent()).toContain('"plan": "pro"');
    expect(await page.getByRole("region", { name: "Customer" }).textContent()).toContain("Rita");
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participant-read-only.png`, fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  });

  it("lists the participant's conversations, newest first, linked to their pages", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const first = await api("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbotId, data: { name: "Wendy Widget" } } });
    expect(first.status).toBe(201);
    const second = await api("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbotId, visitor_id: first.json.visitor_id } });
    expect(second.json.participant_id).toBe(first.json.participant_id);
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/participants/${first.json.participant_id}`);
    const links = page.getByRole("region", { name: "Conversations" }).getByRole("link");
    expect(await links.allTextContents()).toEqual([second.json.conversation_id, first.json.conversation_id]);
    expect(await links.first().getAttribute("href")).toBe(`/dashboard/conversations/${second.json.conversation_id}`);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participant-conversations.png`, fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  });

  it("answers another team's participant with the 404 page", async () => {
    const { apiKey } = await createChatbot();
    const other = await createChatbot();
    const { id } = await createParticipant(other.apiKey, { chatbot_id: other.chatbotId, identifier: "theirs", name: "Secret" });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, "/dashboard/participants");
    const response = await page.goto(`${BASE}/dashboard/participants/${id}`);
    expect(response?.status()).toBe(404);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Participant not found");
    expect(await page.getByText("Secret").count()).toBe(0);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participant-not-found.png`, fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows hostile values as text, without widening the page", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: '<script>alert(1)</script> "><img src=x onerror=alert(1)>' });
    const long = "x".repeat(50_000);
    const { id } = await createParticipant(apiKey, {
      chatbot_id: chatbotId,
      identifier: `<script>alert(1)</script>${"w".repeat(200)}`,
      name: '"><img src=x onerror=alert(1)> \u202Eevil',
      data: { long, "\u202Ekey": "\u202Eevil", html: "</textarea><script>alert(2)</script>" },
    });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, "/dashboard/participants");
    await expectNoHorizontalOverflow(page);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participants-list.png`, fullPage: true });
    await page.goto(`${BASE}/dashboard/participants/${id}`);
    expect(await page.getByLabel("Name").inputValue()).toBe('"><img src=x onerror=alert(1)> \u202Eevil');
    const text = await page.getByLabel("Data (JSON)", { exact: true }).inputValue();
    expect(JSON.parse(text)).toEqual({ long, "\u202Ekey": "\u202Eevil", html: "</textarea><script>alert(2)</script>" });
    expect(text).not.toContain("\u202E");
    await expectNoHorizontalOverflow(page);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participant-hostile.png`, fullPage: false });
    // Saving the escaped text stores the very same data: the version does not even move.
    await page.getByRole("button", { name: "Save data" }).click();
    await expect.poll(() => page.locator("#data output").textContent(), POLL).toBe("Saved as version 1.");
    expect((await participantOf(apiKey, id)).data).toEqual({
      long,
      "\u202Ekey": "\u202Eevil",
      html: "</textarea><script>alert(2)</script>",
    });
    expect(problems).toEqual([]);
    await context.close();
  });
});
