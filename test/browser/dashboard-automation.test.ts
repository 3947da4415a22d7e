// The dashboard's automation parts in Chromium, as a person uses them: triggers and webhooks
// on the chatbot page (the webhook secret shown once, a delivery to an unreachable loopback
// receiver listed), schedules on the participant page (created, moved and cancelled in the
// participant's timezone), and on the conversation page an agent's answer, ending it, the
// events that fired and messages arriving over the live WebSocket (with the 2-second
// polling fallback where the socket fails). Axe and screenshots on each page.
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectAccessible, SCREENSHOTS, signIn } from "./dashboard-support";
import { api, createChatbot, launch } from "./support";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const HOSTILE = '<script>window.pwned=1</script> "><img src=x onerror="window.pwned=2"> \u202Eevil';
const POLL = { timeout: 15_000 };

/** A context whose pages record script errors (a CSP violation shows here) and dialogs (there must be none). */
async function open(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    // A refused request is Chromium's console error; the tests look at the page instead.
    if (message.type() === "error" && !/status of [45]\d\d/.test(message.text())) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { context, page, problems };
}

/** No horizontal scrolling: long values wrap (or scroll inside their table) instead of widening the page. */
async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  const widths = await page.evaluate(() => {
    const root = (globalThis as any).document.documentElement;
    return { scroll: root.scrollWidth as number, client: root.clientWidth as number };
  });
  expect(widths.scroll).toBeLessThanOrEqual(widths.client);
}

const focusedLabel = (page: Page) =>
  page.evaluate(() => {
    const active = (globalThis as any).document.activeElement;
    return (active?.getAttribute("aria-label") || active?.id || active?.textContent || "") as string;
  });

async function startConversation(chatbotId: string) {
  const started = await api("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbotId, data: { user_id: "auto-1" } } });
  expect(started.status).toBe(201);
  return { id: started.json.conversation_id as string, token: started.json.token as string };
}

async function visitorSays(conversation: { id: string; token: string }, text: string) {
  const response = await api("POST", `/v1/widget/conversations/${conversation.id}/messages`, { token: conversation.token, body: { text } });
  expect(response.status).toBe(201);
}

/** Records the conversation page's update fetches, with when each was sent. */
function updateRequests(page: Page): number[] {
  const times: number[] = [];
  page.on("request", (request: Request) => {
    if (/\/dashboard\/conversations\/[^/]+\/updates/.test(request.url())) times.push(Date.now());
  });
  return times;
}

describe("the chatbot page's triggers and webhooks", () => {
  it("adds a trigger and a webhook (secret shown once), lists a delivery after an event, deletes with a confirm step", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Automation bot" });
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/chatbots/${chatbotId}`);
    const triggers = page.getByRole("region", { name: "Triggers" });
    expect(await triggers.getByText("No triggers yet.").count()).toBe(1);

    // The delay shows for inactivity only; the API's problem lands next to the field it names.
    const delay = triggers.getByLabel("Delay in seconds");
    expect(await delay.isVisible()).toBe(false);
    await triggers.getByLabel("When").selectOption("conversation_inactive");
    expect(await delay.isVisible()).toBe(true);
    await delay.fill("5");
    await triggers.getByLabel("Message").fill("Still there? We can help.");
    await triggers.getByRole("button", { name: "Add trigger" }).click();
    await expect.poll(() => delay.getAttribute("aria-invalid"), POLL).toBe("true");
    expect(await page.locator("#trigger-delay-error").textContent()).toMatch(/10/);
    expect(await focusedLabel(page)).toBe("trigger-delay");
    // A patch that is not JSON is caught before sending.
    await triggers.getByLabel("Action", { exact: true }).selectOption("update_participant_data");
    await triggers.getByLabel("Merge patch (JSON)").fill("{not json");
    await triggers.getByRole("button", { name: "Add trigger" }).click();
    await expect.poll(() => page.locator("#trigger-patch-error").textContent(), POLL).toContain("Not valid JSON");
    await triggers.getByLabel("Action", { exact: true }).selectOption("send_message");
    await delay.fill("600");
    await triggers.getByRole("button", { name: "Add trigger" }).click();
    const rows = triggers.locator("tbody tr");
    await expect.poll(() => rows.count(), POLL).toBe(1);
    expect(await rows.first().textContent()).toContain("10 minutes");
    expect(await rows.first().textContent()).toContain("Still there? We can help.");
    expect(await triggers.locator(".automation-form .form-status").textContent()).toContain("Trigger added");
    const listed = await api("GET", `/v1/chatbots/${chatbotId}/triggers`, { token: apiKey });
    expect(listed.json.triggers).toMatchObject([{ on: "conversation_inactive", delay_seconds: 600, max_fires: 1 }]);

    // A webhook to a loopback port nothing listens on; a bad URL first.
    const webhooks = page.getByRole("region", { name: "Webhooks" });
    await webhooks.getByLabel("URL").fill("ftp://example.com/hook");
    await webhooks.getByRole("button", { name: "Add webhook" }).click();
    await expect.poll(() => webhooks.getByLabel("URL").getAttribute("aria-invalid"), POLL).toBe("true");
    expect(await page.locator("#webhook-url-error").textContent()).not.toBe("");
    await webhooks.getByLabel("URL").fill("http://127.0.0.1:9/hook");
    const events = webhooks.getByRole("group", { name: "Events" });
    expect(await events.getByRole("checkbox", { name: "message.created" }).isChecked()).toBe(true);
    await events.getByRole("checkbox", { name: "conversation.started" }).check();
    await webhooks.getByRole("button", { name: "Add webhook" }).click();
    const secret = page.locator("#webhook-secret-value");
    await expect.poll(() => secret.textContent(), POLL).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    const shownSecret = (await secret.textContent())!;
    await expect.poll(() => focusedLabel(page), POLL).toBe("Copy webhook secret");
    await expect.poll(() => webhooks.locator("li.webhook").count(), POLL).toBe(1);
    expect(await webhooks.locator("li.webhook h3").textContent()).toBe("http://127.0.0.1:9/hook");
    expect(await webhooks.getByText("No deliveries yet.").count()).toBe(1);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbot-automation-created.png`, fullPage: true });

    // An event: a conversation starts and the visitor writes. Deliveries fail (nothing listens) and are listed.
    const conversation = await startConversation(chatbotId);
    await visitorSays(conversation, "Hello?");
    let deliveries = 0;
    for (let attempt = 0; attempt < 30 && deliveries < 2; attempt++) {
      await page.waitForTimeout(500);
      await page.reload();
      deliveries = await webhooks.locator("tr[data-delivery-status]").count();
    }
    expect(deliveries).toBeGreaterThanOrEqual(2);
    // Shown once: the reloaded page has no secret in it.
    expect(await page.content()).not.toContain(shownSecret);
    expect(await page.locator("#webhook-secret-output").isHidden()).toBe(true);
    const statuses = await webhooks
      .locator("tr[data-delivery-status]")
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-delivery-status")));
    for (const status of statuses) expect(["pending", "failed"]).toContain(status);
    const types = await webhooks.locator("tr[data-delivery-status] td:first-child").allTextContents();
    expect(types).toContain("message.created");
    expect(types).toContain("conversation.started");
    // Wait for one to have been attempted: its error is shown.
    for (let attempt = 0; attempt < 30; attempt++) {
      const errors = await webhooks.locator("tr[data-delivery-status] td:nth-child(5)").allTextContents();
      if (errors.some((text) => text !== "—")) break;
      await page.waitForTimeout(500);
      await page.reload();
    }
    const attempted = webhooks.locator("tr[data-delivery-status]").filter({ hasNot: page.locator("td:nth-child(5):text-is('—')") });
    expect(await attempted.count()).toBeGreaterThan(0);
    expect(Number(await attempted.first().locator("td:nth-child(3)").textContent())).toBeGreaterThanOrEqual(1);
    await expectAccessible(page);
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbot-automation-deliveries.png`, fullPage: true });
    await webhooks.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbot-webhooks-section.png` });
    await triggers.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbot-triggers-section.png` });

    // Delete the trigger from the keyboard: Enter asks, Escape goes back, Enter and Enter delete.
    const ask = triggers.getByRole("button", { name: /^Delete: trigger/ });
    await ask.focus();
    await page.keyboard.press("Enter");
    expect(await focusedLabel(page)).toMatch(/^Confirm delete: trigger/);
    await page.keyboard.press("Escape");
    expect(await focusedLabel(page)).toMatch(/^Delete: trigger/);
    await page.keyboard.press("Enter");
    await page.keyboard.press("Enter");
    await expect.poll(() => triggers.getByText("No triggers yet.").count(), POLL).toBe(1);
    const sectionStatus = triggers.locator("[data-section-status]");
    expect(await sectionStatus.textContent()).toBe("The trigger was deleted.");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.hasAttribute("data-section-status"))).toBe(true);
    expect((await api("GET", `/v1/chatbots/${chatbotId}/triggers`, { token: apiKey })).json.triggers).toEqual([]);

    // Delete the webhook by clicking: it is gone from the list and from the API.
    await webhooks.getByRole("button", { name: /^Delete webhook: / }).click();
    await webhooks.getByRole("button", { name: /^Confirm delete: webhook/ }).click();
    await expect.poll(() => webhooks.getByText("No webhooks receive this chatbot's events yet.").count(), POLL).toBe(1);
    expect((await api("GET", "/v1/webhooks", { token: apiKey })).json.webhooks).toEqual([]);
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    expect(problems).toEqual([]);
    await context.close();
  }, 120_000);

  it("shows a read key's session the triggers, webhooks and deliveries with nothing to change; hostile values as text", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Read bot" });
    await api("POST", `/v1/chatbots/${chatbotId}/triggers`, {
      token: apiKey,
      body: { on: "conversation_started", action: { type: "send_message", text: HOSTILE } },
    });
    await api("POST", "/v1/webhooks", {
      token: apiKey,
      body: { url: `https://hooks.example.com/${"long-path-".repeat(30)}`, events: ["message.created"], chatbot_id: chatbotId },
    });
    const read = await api("POST", "/v1/api-keys", { token: apiKey, body: { name: "viewer", scope: "read" } });
    const { context, page, problems } = await open();
    await signIn(page, read.json.key, `/dashboard/chatbots/${chatbotId}`);
    const triggers = page.getByRole("region", { name: "Triggers" });
    const webhooks = page.getByRole("region", { name: "Webhooks" });
    expect(await triggers.locator("tbody tr").count()).toBe(1);
    expect(await triggers.locator("tbody tr .action-detail").textContent()).toBe(HOSTILE);
    expect(await webhooks.locator("li.webhook").count()).toBe(1);
    for (const region of [triggers, webhooks]) {
      expect(await region.getByRole("button").count()).toBe(0);
      expect(await region.getByRole("textbox").count()).toBe(0);
    }
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    await expectAccessible(page);
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-chatbot-automation-read-only.png`, fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  });
});

/** The second Sunday of March of `year`: when New York's clocks skip 02:00-03:00. */
function usSpringForward(year: number): string {
  for (let day = 8; day <= 14; day++) {
    if (new Date(Date.UTC(year, 2, day)).getUTCDay() === 0) return `${year}-03-${String(day).padStart(2, "0")}`;
  }
  throw new Error("no second Sunday");
}

describe("the participant page's schedules", () => {
  it("creates, moves and cancels a schedule in the participant's timezone, by keyboard where it matters", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Reminder bot" });
    const created = await api("POST", "/v1/participants", {
      token: apiKey,
      body: { chatbot_id: chatbotId, channel: "api", identifier: "scheduled-person", timezone: "America/New_York" },
    });
    expect(created.status).toBe(201);
    const participantId = created.json.id as string;
    const year = new Date().getUTCFullYear() + 1;
    const { context, page, problems } = await open();
    await signIn(page, apiKey, `/dashboard/participants/${participantId}`);
    const region = page.getByRole("region", { name: "Schedules" });
    expect(await region.getByText("No schedules yet.").count()).toBe(1);
    expect(await region.getByText("America/New_York", { exact: true }).count()).toBeGreaterThan(0);

    // A time the clocks skip is refused before sending, next to the field.
    await region.getByLabel("Title").fill("Renewal reminder");
    await region.getByLabel("Message").fill("Your plan renews tomorrow.");
    const due = region.getByLabel("First due time");
    await due.fill(`${usSpringForward(year)}T02:30`);
    await region.getByRole("button", { name: "Add schedule" }).click();
    await expect.poll(() => page.locator("#schedule-due-error").textContent(), POLL).toContain("skip that time");
    expect(await focusedLabel(page)).toBe("schedule-due");
    // A time in the past is the API's to refuse, shown the same way.
    await due.fill("2020-01-01T09:00");
    await region.getByRole("button", { name: "Add schedule" }).click();
    await expect.poll(() => page.locator("#schedule-due-error").textContent(), POLL).toContain("in the past");

    // 09:00 in New York in January is 14:00 UTC; repeated every 2 weeks, 3 times.
    await due.fill(`${year}-01-15T09:00`);
    await region.getByLabel("Every", { exact: true }).fill("2");
    await region.getByLabel("Unit").selectOption("weeks");
    await region.getByLabel("Repetitions (optional)").fill("3");
    await region.getByRole("button", { name: "Add schedule" }).click();
    const rows = region.locator("tbody tr");
    await expect.poll(() => rows.count(), POLL).toBe(1);
    const row = rows.first();
    expect(await row.textContent()).toContain(`${year}-01-15 09:00 America/New_York`);
    expect(await row.textContent()).toContain(`${year}-01-15 14:00 UTC`);
    expect(await row.textContent()).toContain("Every 2 weeks");
    const listed = await api("GET", `/v1/participants/${participantId}/schedules`, { token: apiKey });
    expect(listed.json.schedules).toMatchObject([
      { name: "Renewal reminder", next_due_at: `${year}-01-15T14:00:00.000Z`, every: { count: 2, unit: "weeks" }, repetitions: 3 },
    ]);
    const scheduleId = listed.json.schedules[0].id as string;
    await expectAccessible(page);

    // Move, by keyboard: Enter opens the form with its time field focused; Enter in it moves.
    const move = region.getByRole("button", { name: "Move: schedule Renewal reminder" });
    await move.focus();
    await page.keyboard.press("Enter");
    expect(await move.getAttribute("aria-expanded")).toBe("true");
    expect(await focusedLabel(page)).toBe(`move-${scheduleId}-due`);
    await page.locator(`#move-${scheduleId}-due`).fill(`${year}-07-01T08:15`);
    await page.keyboard.press("Enter");
    // July in New York is UTC-4.
    await expect.poll(async () => (await rows.first().textContent()) ?? "", POLL).toContain(`${year}-07-01 08:15 America/New_York`);
    expect(await rows.first().textContent()).toContain(`${year}-07-01 12:15 UTC`);
    expect(await region.locator("[data-section-status]").textContent()).toBe("The schedule was moved.");
    expect(await focusedLabel(page)).toBe(`schedule-${scheduleId}`);
    const moved = await api("GET", `/v1/participants/${participantId}/schedules/${scheduleId}`, { token: apiKey });
    expect(moved.json.next_due_at).toBe(`${year}-07-01T12:15:00.000Z`);
    await expectAccessible(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participant-schedules.png`, fullPage: true });
    await region.screenshot({ path: `${SCREENSHOTS}/dashboard-participant-schedules-section.png` });

    // Cancel, with its confirm step: the row stays, cancelled, with no controls.
    await region.getByRole("button", { name: "Cancel schedule: schedule Renewal reminder" }).click();
    expect(await focusedLabel(page)).toBe("Confirm cancel: schedule Renewal reminder");
    await page.keyboard.press("Enter");
    await expect.poll(() => rows.first().getAttribute("data-status"), POLL).toBe("cancelled");
    expect(await rows.first().textContent()).toContain("Cancelled");
    expect(await rows.first().getByRole("button").count()).toBe(0);
    expect((await api("GET", `/v1/participants/${participantId}/schedules/${scheduleId}`, { token: apiKey })).json.status).toBe(
      "cancelled",
    );
    await expectAccessible(page);
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-participant-schedules-cancelled.png`, fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);
});

describe("the conversation page's automation", () => {
  it("answers as agent, ends the conversation, lists events, and shows a message posted through the API over the socket", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Live bot", stand_in_replies: false });
    const trigger = await api("POST", `/v1/chatbots/${chatbotId}/triggers`, {
      token: apiKey,
      body: { on: "message_received", max_fires: 5, action: { type: "send_message", text: "Thanks, an agent will answer shortly." } },
    });
    expect(trigger.status).toBe(201);
    const conversation = await startConversation(chatbotId);
    await visitorSays(conversation, "My order has not arrived.");
    const { context, page, problems } = await open();
    const polls = updateRequests(page);
    await signIn(page, apiKey, `/dashboard/conversations/${conversation.id}`);
    const root = page.locator(".conversation");
    await expect.poll(() => root.getAttribute("data-live-channel"), POLL).toBe("socket");
    const list = page.getByRole("region", { name: "Messages" }).locator("ol.messages");
    expect(await list.locator("li").count()).toBe(2);
    const events = page.getByRole("region", { name: "Events" });
    expect(await events.locator("li").first().textContent()).toContain("Visitor message received → Send a message");
    expect(await events.locator("li").first().textContent()).toContain("OK");

    // The socket's first fetch catches up; then, quiet with a healthy socket, no polling (the safety fetch is every 30 s).
    await expect.poll(() => polls.length, POLL).toBeGreaterThanOrEqual(1);
    // Settled: no fetch for 1.5 s (the first timer's fetch and the socket's may overlap on a busy machine).
    for (let seen = -1; seen !== polls.length; ) {
      seen = polls.length;
      await page.waitForTimeout(1_500);
    }
    const settled = polls.length;
    await page.waitForTimeout(4_000);
    expect(polls.length).toBe(settled);

    // A message posted through the API appears without reload, pushed by the socket.
    const postedAt = Date.now();
    const posted = await api("POST", `/v1/conversations/${conversation.id}/messages`, {
      token: apiKey,
      body: { text: "Hello from the team's bot", role: "bot" },
    });
    expect(posted.status).toBe(201);
    await list.locator("li", { hasText: "Hello from the team's bot" }).waitFor({ timeout: 5_000 });
    const appearedAfter = Date.now() - postedAt;
    expect(appearedAfter).toBeLessThan(1_500);
    // The fetch that brought it was sent after the post (the event asked for it), not by a timer before.
    expect(polls.length).toBeGreaterThan(settled);
    expect(polls.slice(settled).every((time) => time >= postedAt)).toBe(true);

    // Answer as agent: Ctrl+Enter sends; the message appears as the agent's.
    const answer = page.getByLabel("Answer as agent");
    await answer.fill(`An agent here. ${HOSTILE}`);
    await answer.press("Control+Enter");
    const agentItem = list.locator("li.agent");
    await agentItem.waitFor({ timeout: 5_000 });
    expect(await agentItem.locator("bdi").textContent()).toBe(`An agent here. ${HOSTILE}`);
    expect(await agentItem.locator(".role").textContent()).toBe("Agent");
    expect(await answer.inputValue()).toBe("");
    const stored = await api("GET", `/v1/conversations/${conversation.id}/messages`, { token: apiKey });
    expect(stored.json.messages.filter((message: { role: string }) => message.role === "agent")).toHaveLength(1);

    // An outcome the API refuses is named next to the field; then a good one, then End.
    const outcome = page.getByLabel("Outcome", { exact: true });
    await outcome.fill("Not Valid!");
    await page.getByRole("button", { name: "Set outcome" }).click();
    await expect.poll(() => outcome.getAttribute("aria-invalid"), POLL).toBe("true");
    expect(await page.locator("#conversation-outcome-error").textContent()).toContain("a-z");
    await outcome.fill("resolved");
    await outcome.press("Enter");
    await expect.poll(() => page.locator('[data-live="outcome"]').textContent(), POLL).toBe("resolved");
    await page.getByRole("button", { name: "End conversation" }).click();
    await expect.poll(() => page.locator('[data-live="status"]').textContent(), POLL).toBe("Ended");
    expect(await page.locator('[data-live="ended"]').isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Reopen conversation" }).count()).toBe(1);
    const state = await api("GET", `/v1/conversations/${conversation.id}`, { token: apiKey });
    expect(state.json).toMatchObject({ status: "ended", outcome: "resolved" });
    expect(state.json.ended_at).toMatch(/^\d{4}-/);

    // Staff messages fire no trigger: the list still holds the one firing.
    expect(await events.locator("li").count()).toBe(1);
    expect(await page.evaluate(() => (globalThis as any).pwned)).toBeUndefined();
    await expectAccessible(page);
    await expectNoHorizontalOverflow(page);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-conversation-automation.png`, fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);

  it("falls back to polling every 2 s where the socket fails, and keeps trying to reconnect", async () => {
    const { apiKey, chatbotId } = await createChatbot({ name: "Fallback bot" });
    const conversation = await startConversation(chatbotId);
    const { context, page, problems } = await open();
    // Every socket the page opens is refused at once, as a proxy without WebSockets would.
    let attempts = 0;
    await context.routeWebSocket(/\/v1\/conversations\/[^/]+\/live$/, (socket) => {
      attempts++;
      socket.close({ code: 1011, reason: "no sockets here" });
    });
    await signIn(page, apiKey, `/dashboard/conversations/${conversation.id}`);
    const polls = updateRequests(page);
    await page.waitForTimeout(12_000);
    expect(await page.locator(".conversation").getAttribute("data-live-channel")).toBe("polling");
    // Every 2 s, or a little more where the server is slow to answer (a 30-second safety poll would have sent at most one).
    expect(polls.length).toBeGreaterThanOrEqual(3);
    const gaps = polls.slice(1).map((time, i) => time - polls[i]!);
    for (const gap of gaps) expect(gap).toBeLessThan(6_000);
    // Reconnects with back-off: about 1 s, 2 s, 4 s, 8 s apart (not every 2 s, nor never).
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(6);
    await visitorSays(conversation, "Polled, not pushed");
    await page.getByRole("region", { name: "Messages" }).locator("li", { hasText: "Polled, not pushed" }).waitFor({ timeout: 5_000 });
    expect(await page.locator(".live-status").textContent()).toBe("");
    expect(problems).toEqual([]);
    await context.close();
  });
});
