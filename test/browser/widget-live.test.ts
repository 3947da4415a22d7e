// The widget's live conversation, in Chromium: bot and agent messages posted through the API
// appear without any visitor action (a WebSocket, else polling), the socket reconnects with
// back-off, and a message to a conversation the team ended is carried into a new one.
import axeSource from "axe-core/axe.min.js?raw";
import type { Browser, Page, Request, WebSocketRoute } from "playwright-core";
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
  setData,
  widgetState,
} from "./support";

/** Written for a person to look at (Playwright creates the folder). */
const SCREENSHOTS = "test/browser/screenshots";
/** "Within a few seconds": the socket takes milliseconds, polling ~3 s. */
const LIVE_MS = 8_000;
const LIVE_PATH = /\/v1\/widget\/conversations\/[^/]+\/live\?/;

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const bubbles = (page: Page) => page.locator("chat-context-widget .msg");
const agentMessages = (page: Page) => page.locator("chat-context-widget .msg.agent");
const visitorMessages = (page: Page) => page.locator("chat-context-widget .msg.visitor");

/** Each bubble as `role: text` (its parts joined by " | ", bidi isolates removed), in the list's order. */
async function transcript(page: Page): Promise<string[]> {
  return bubbles(page).evaluateAll((nodes: any[]) =>
    nodes.map(
      (node) =>
        `${node.className.replace(/^msg /, "")}: ${[...node.children].map((part: any) => part.textContent.replace(/[\u2066-\u2069]/g, "")).join(" | ")}`,
    ),
  );
}

/** A team's message in the conversation, through the API (`role` bot or agent). */
async function postAsTeam(apiKey: string, conversationId: string, text: string, role: "bot" | "agent") {
  const posted = await api("POST", `/v1/conversations/${conversationId}/messages`, { token: apiKey, body: { text, role } });
  expect(posted.status, posted.text).toBe(201);
  return posted.json.message;
}

/** The GETs of new messages the widget makes (history, catch-up after a socket opens, polling). */
function recordReads(page: Page): Request[] {
  const reads: Request[] = [];
  page.on("request", (request) => {
    if (request.method() === "GET" && /\/v1\/widget\/conversations\/[^/]+\/messages/.test(request.url())) reads.push(request);
  });
  return reads;
}

/** Keeps the page's sockets and what the page sent on them, to read from the test. */
const TRACK_SOCKETS = `(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); this.sent = []; window.__sockets.push(this); }
    send(data) { this.sent.push(data); return super.send(data); }
  };
})();`;
const sockets = (page: Page): Promise<{ url: string; state: number }[]> =>
  page.evaluate(() => (globalThis as any).__sockets.map((s: any) => ({ url: s.url, state: s.readyState })));

/** The page's visibility, set by the test: \`__setHidden(true)\` as when the visitor switches tabs. */
const CONTROL_VISIBILITY = `(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  Object.defineProperty(Document.prototype, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  window.__setHidden = (value) => { hidden = value; document.dispatchEvent(new Event("visibilitychange")); };
})();`;

/** The widget opened and one message sent: the conversation exists and the socket is asked for. */
async function converse(site: Site, chatbotId: string, text = "Hello there") {
  await launcher(site.page).click();
  await send(site.page, text);
  const state = await widgetState(site.page, chatbotId);
  return state.conversation_id as string;
}

describe("the widget's live conversation", () => {
  it("shows bot and agent messages posted through the API as they arrive, by WebSocket, once each and in order", async () => {
    const { chatbotId, apiKey } = await createChatbot();
    const site = await openSite(browser, chatbotId, {}, (context) => context.addInitScript(TRACK_SOCKETS));
    const { page } = site;
    const reads = recordReads(page);

    // The panel never opened, no conversation: no socket.
    await launcher(page).waitFor();
    expect(await sockets(page)).toEqual([]);

    const conversationId = await converse(site, chatbotId);
    await expect.poll(() => sockets(page), { timeout: LIVE_MS }).toEqual([{ url: expect.stringMatching(LIVE_PATH), state: 1 }]);
    await page.waitForTimeout(300); // the socket's catch-up read, issued when it opened
    const readsBefore = reads.length;

    const agent = await postAsTeam(apiKey, conversationId, "Hi, I am Dana from the support team.", "agent");
    await agentMessages(page).first().waitFor({ timeout: LIVE_MS });
    const bot = await postAsTeam(apiKey, conversationId, "Your order #1042 ships tomorrow.", "bot");
    await botMessages(page).nth(1).waitFor({ timeout: LIVE_MS });
    // Delivered by the socket: no read of messages since it opened.
    expect(reads.length).toBe(readsBefore);

    // Once each (the POST's answer and the socket both carried the visitor's message and the
    // reply), in the server's order; the agent's bubble names its author for screen readers.
    const stored = await api("GET", `/v1/conversations/${conversationId}/messages`, { token: apiKey });
    const ids = stored.json.messages.map((m: any) => m.id);
    expect(ids.slice(2)).toEqual([agent.id, bot.id]);
    expect(await transcript(page)).toEqual([
      "visitor: Hello there",
      `bot: ${stored.json.messages[1].text}`,
      "agent: Agent | Hi, I am Dana from the support team.",
      "bot: Your order #1042 ships tomorrow.",
    ]);
    const agentBubble = page.getByRole("log").getByText("Hi, I am Dana", { exact: false });
    expect(await agentBubble.count()).toBe(1);
    expect(await page.getByRole("log").getAttribute("aria-live")).toBe("polite");
    const label = await agentMessages(page)
      .first()
      .evaluate((node: any) => node.firstElementChild.textContent);
    expect(label).toBe("Agent");
    // The visitor's message, the stand-in reply, the agent's and the bot's, for a person to look at.
    await page.screenshot({ path: `${SCREENSHOTS}/widget-live.png` });
    // A message the visitor sends next comes after them. The socket usually brings it before
    // the POST's answer: it waits for that answer, so it is never shown twice, even briefly.
    await page.evaluate(() => {
      const log = (globalThis as any).document.querySelector("chat-context-widget").shadowRoot.querySelector("[role=log]");
      const g = globalThis as any;
      g.__mostVisitorBubbles = 0;
      new g.MutationObserver(() => {
        g.__mostVisitorBubbles = Math.max(g.__mostVisitorBubbles, log.querySelectorAll(".msg.visitor").length);
      }).observe(log, { childList: true, subtree: true });
    });
    await send(page, "Thanks!");
    expect(await page.evaluate(() => (globalThis as any).__mostVisitorBubbles)).toBe(2);
    expect((await transcript(page)).slice(4)).toEqual(["visitor: Thanks!", expect.stringMatching(/^bot: /)]);
    expect(await visitorMessages(page).count()).toBe(2);

    // Accessible inside the widget, the list now longer than the panel (axe-core, scoped to
    // the widget: the site's hostile styles are not ours).
    await page.evaluate(axeSource);
    const result = await page.evaluate(() =>
      (globalThis as any).axe.run((globalThis as any).document.querySelector("chat-context-widget"), { resultTypes: ["violations"] }),
    );
    const serious = result.violations.filter((v: any) => v.impact === "serious" || v.impact === "critical");
    expect(serious.map((v: any) => `${v.id}: ${v.help}`)).toEqual([]);

    // A reload with the panel closed opens no socket; opening the panel does.
    await page.getByRole("button", { name: "Close chat" }).click();
    await page.reload();
    await launcher(page).waitFor();
    await page.waitForTimeout(500);
    expect(await sockets(page)).toEqual([]);
    await launcher(page).click();
    await expect.poll(() => sockets(page), { timeout: LIVE_MS }).toEqual([{ url: expect.stringMatching(LIVE_PATH), state: 1 }]);
    await postAsTeam(apiKey, conversationId, "Still here after your reload.", "agent");
    await expect.poll(() => agentMessages(page).count(), { timeout: LIVE_MS }).toBe(2);
    expect(site.pageErrors).toEqual([]);
    await site.context.close();
  });

  it("keeps the server's order for messages pushed while the visitor's message is being sent", async () => {
    const { chatbotId, apiKey } = await createChatbot();
    const site = await openSite(browser, chatbotId, {}, (context) => context.addInitScript(TRACK_SOCKETS));
    const { page } = site;
    const conversationId = await converse(site, chatbotId);
    await expect.poll(() => sockets(page), { timeout: LIVE_MS }).toEqual([{ url: expect.stringMatching(LIVE_PATH), state: 1 }]);
    await page.waitForTimeout(300);
    // The next POST is slow: an agent writes just before it is stored and just after.
    await page.route(`${BASE}/v1/widget/conversations/*/messages`, async (route) => {
      if (route.request().method() !== "POST") return route.fallback();
      await postAsTeam(apiKey, conversationId, "Written just before.", "agent");
      const response = await route.fetch();
      await postAsTeam(apiKey, conversationId, "Written just after.", "agent");
      await page.waitForTimeout(300); // the socket has brought all three by now
      return route.fulfill({ response });
    });
    await send(page, "In the middle");
    await expect.poll(() => agentMessages(page).count(), { timeout: LIVE_MS }).toBe(2);
    const stored = await api("GET", `/v1/conversations/${conversationId}/messages`, { token: apiKey });
    expect(await transcript(page)).toEqual(
      stored.json.messages.map((m: any) => (m.role === "agent" ? `agent: Agent | ${m.text}` : `${m.role}: ${m.text}`)),
    );
    expect((await transcript(page)).slice(2)).toEqual([
      "agent: Agent | Written just before.",
      "visitor: In the middle",
      expect.stringMatching(/^bot: /),
      "agent: Agent | Written just after.",
    ]);
    expect(site.pageErrors).toEqual([]);
    await site.context.close();
  });

  it("shows the team's bot answering live where the chatbot has no stand-in replies", async () => {
    const { chatbotId, apiKey } = await createChatbot({ stand_in_replies: false });
    const site = await openSite(browser, chatbotId);
    const { page } = site;
    await launcher(page).click();
    await messageBox(page).fill("Is anyone there?");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await expect.poll(() => transcript(page), { timeout: LIVE_MS }).toEqual(["visitor: Is anyone there?"]);
    const conversationId = (await widgetState(page, chatbotId)).conversation_id;
    await postAsTeam(apiKey, conversationId, "Yes: your team's bot.", "bot");
    await expect.poll(() => transcript(page), { timeout: LIVE_MS }).toEqual(["visitor: Is anyone there?", "bot: Yes: your team's bot."]);
    expect(site.pageErrors).toEqual([]);
    await site.context.close();
  });

  for (const [name, script] of [
    ["removed", "delete window.WebSocket;"],
    ["throwing", "window.WebSocket = function () { throw new DOMException('blocked', 'SecurityError'); };"],
  ] as const) {
    it(`falls back to polling where WebSockets are ${name}`, async () => {
      const { chatbotId, apiKey } = await createChatbot();
      const site = await openSite(browser, chatbotId, {}, (context) => context.addInitScript(script));
      const reads = recordReads(site.page);
      const conversationId = await converse(site, chatbotId);
      await postAsTeam(apiKey, conversationId, "Polled, not pushed.", "agent");
      await agentMessages(site.page).first().waitFor({ timeout: LIVE_MS });
      await postAsTeam(apiKey, conversationId, "Polled again.", "agent");
      await agentMessages(site.page).nth(1).waitFor({ timeout: LIVE_MS });
      // Read with `after`: only what is new, never the whole conversation again.
      expect(reads.some((request) => new URL(request.url()).searchParams.get("after")?.startsWith("msg_"))).toBe(true);
      expect(await transcript(site.page)).toEqual([
        "visitor: Hello there",
        expect.stringMatching(/^bot: /),
        "agent: Agent | Polled, not pushed.",
        "agent: Agent | Polled again.",
      ]);
      expect(site.pageErrors).toEqual([]);
      await site.context.close();
    });
  }

  it("polls while a socket is refused, and retries it with back-off rather than in a loop", async () => {
    const { chatbotId, apiKey } = await createChatbot();
    const attempts: number[] = [];
    // An intermediary that closes every socket at once, with an error.
    const site = await openSite(browser, chatbotId, {}, (context) =>
      context.routeWebSocket(LIVE_PATH, (ws: WebSocketRoute) => {
        attempts.push(Date.now());
        ws.close({ code: 1011, reason: "refused" });
      }),
    );
    const conversationId = await converse(site, chatbotId);
    await postAsTeam(apiKey, conversationId, "Through the fallback.", "agent");
    await agentMessages(site.page).first().waitFor({ timeout: LIVE_MS });
    await site.page.waitForTimeout(4_000);
    // 1 s doubling, with jitter: a handful of attempts in these seconds, each gap longer.
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts.length).toBeLessThanOrEqual(6);
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(400);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(gaps[i - 1]! * 0.9);
    await site.context.close();
  });

  it("reconnects after the socket closes, and the new socket carries the next message", async () => {
    const { chatbotId, apiKey } = await createChatbot();
    const connections: { route: WebSocketRoute; frames: string[] }[] = [];
    const site = await openSite(browser, chatbotId, {}, (context) =>
      context.routeWebSocket(LIVE_PATH, (ws: WebSocketRoute) => {
        const connection = { route: ws, frames: [] as string[] };
        connections.push(connection);
        const server = ws.connectToServer();
        server.onMessage((message) => {
          connection.frames.push(String(message));
          ws.send(message);
        });
        // Its "pong" tells the test the server holds this socket (the widget ignores a pong).
        server.send("ping");
      }),
    );
    const connected = (index: number) => expect.poll(() => connections[index]?.frames.includes("pong"), { timeout: LIVE_MS }).toBe(true);
    const conversationId = await converse(site, chatbotId);
    await connected(0);
    await postAsTeam(apiKey, conversationId, "Before the drop.", "agent");
    await agentMessages(site.page).first().waitFor({ timeout: LIVE_MS });
    expect(connections[0]!.frames.some((frame) => frame.includes("Before the drop."))).toBe(true);

    // The connection drops (a proxy's idle timeout, a network change).
    await connections[0]!.route.close({ code: 1006, reason: "dropped" });
    await connected(1);
    await postAsTeam(apiKey, conversationId, "After the drop.", "agent");
    await expect.poll(() => agentMessages(site.page).count(), { timeout: LIVE_MS }).toBe(2);
    expect(connections[1]!.frames.some((frame) => frame.includes("After the drop."))).toBe(true);
    expect(await transcript(site.page)).toEqual([
      "visitor: Hello there",
      expect.stringMatching(/^bot: /),
      "agent: Agent | Before the drop.",
      "agent: Agent | After the drop.",
    ]);
    expect(site.pageErrors).toEqual([]);
    await site.context.close();
  });

  it("backs off 1 s, 2 s, 4 s between refused sockets, and from 1 s again after a healthy one drops", async () => {
    const { chatbotId } = await createChatbot();
    const routes: WebSocketRoute[] = [];
    let pings = 0;
    const site = await openSite(browser, chatbotId, {}, (context) =>
      context.routeWebSocket(LIVE_PATH, (ws: WebSocketRoute) => {
        routes.push(ws);
        // The first three are refused at once; the fourth reaches the server and stays.
        if (routes.length <= 3) return ws.close({ code: 1011, reason: "refused" });
        const server = ws.connectToServer();
        ws.onMessage((message) => {
          if (message === "ping") pings++;
          server.send(message);
        });
      }),
    );
    const { page } = site;
    await page.clock.install();
    await page.reload();
    // From here the page's time moves only when the test moves it.
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 200);
    await converse(site, chatbotId);
    await expect.poll(() => routes.length, { timeout: LIVE_MS }).toBe(1);
    // Each wait is 50-100 % of its step: past the step, the next attempt has come.
    for (const [step, attempts] of [
      [1000, 2],
      [2000, 3],
      [4000, 4],
    ] as const) {
      await page.clock.runFor(step / 2 - 50);
      expect(routes.length).toBe(attempts - 1);
      await page.clock.runFor(step / 2 + 50);
      await expect.poll(() => routes.length, { timeout: LIVE_MS }).toBe(attempts);
    }
    // Healthy for a minute, then dropped: the next attempt within 1 s, not 8 s.
    await page.waitForTimeout(500); // real time, for the socket to open (the page's clock stands still)
    await page.clock.runFor(61_000);
    // Two pings: it was open for the whole minute.
    await expect.poll(() => pings, { timeout: LIVE_MS }).toBe(2);
    await routes[3]!.close({ code: 1006, reason: "dropped" });
    await page.waitForTimeout(200);
    await page.clock.runFor(1000);
    await expect.poll(() => routes.length, { timeout: LIVE_MS }).toBe(5);
    expect(site.pageErrors).toEqual([]);
    await site.context.close();
  });

  it("pings an idle socket every 30 s, lets it go when the page stays hidden, and catches up when seen again", async () => {
    const { chatbotId, apiKey } = await createChatbot();
    const site = await openSite(browser, chatbotId, {}, async (context) => {
      await context.addInitScript(TRACK_SOCKETS);
      await context.addInitScript(CONTROL_VISIBILITY);
    });
    const { page } = site;
    // The page's timers run on a clock the test moves (the network does not wait for it).
    await page.clock.install();
    await page.reload();
    const conversationId = await converse(site, chatbotId);
    await expect.poll(() => sockets(page), { timeout: LIVE_MS }).toEqual([{ url: expect.stringMatching(LIVE_PATH), state: 1 }]);
    await page.clock.runFor(61_000);
    expect(await page.evaluate(() => (globalThis as any).__sockets[0].sent)).toEqual(["ping", "ping"]);

    // Hidden a moment: nothing changes. Hidden five minutes: the socket is closed, no polling.
    await page.evaluate(() => (globalThis as any).__setHidden(true));
    await page.clock.runFor(60_000);
    expect((await sockets(page))[0]!.state).toBe(1);
    await page.clock.runFor(4 * 60_000 + 1000);
    await expect.poll(() => sockets(page), { timeout: LIVE_MS }).toEqual([{ url: expect.stringMatching(LIVE_PATH), state: 3 }]);
    await postAsTeam(apiKey, conversationId, "Sent while you were away.", "agent");
    const reads = recordReads(page);
    await page.clock.runFor(120_000);
    expect(reads.length).toBe(0);
    expect(await agentMessages(page).count()).toBe(0);

    // Seen again: a new socket, whose catch-up read brings what was missed.
    await page.evaluate(() => (globalThis as any).__setHidden(false));
    await agentMessages(page).first().waitFor({ timeout: LIVE_MS });
    expect((await sockets(page)).map((socket) => socket.state)).toEqual([3, 1]);
    expect(site.pageErrors).toEqual([]);
    await site.context.close();
  });

  it("carries a message sent to a conversation the team ended into a new one, stored exactly once", async () => {
    const { chatbotId, apiKey } = await createChatbot();
    const site = await openSite(browser, chatbotId, {}, (context) => context.addInitScript(TRACK_SOCKETS));
    const { page } = site;
    await setData(page, { "octocom:data:plan": "pro" });
    const first = await converse(site, chatbotId, "First question");
    const visitorId = (await widgetState(page, chatbotId)).visitor_id;
    await expect.poll(() => sockets(page), { timeout: LIVE_MS }).toEqual([{ url: expect.stringContaining(first), state: 1 }]);

    const ended = await api("PATCH", `/v1/conversations/${first}`, { token: apiKey, body: { status: "ended" } });
    expect(ended.status, ended.text).toBe(200);
    await setData(page, { "octocom:data:plan": "enterprise" });
    await messageBox(page).fill("Second question, after the end");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await page.getByText("A new conversation started").waitFor({ timeout: LIVE_MS });
    await expect.poll(() => botMessages(page).count(), { timeout: LIVE_MS }).toBe(2);

    const state = await widgetState(page, chatbotId);
    const second = state.conversation_id as string;
    expect(second).not.toBe(first);
    expect(state.visitor_id).toBe(visitorId);
    expect(state.outbox).toEqual([]);
    // The new start kept the visitor and carried the site's current custom data.
    expect(site.startBodies.length).toBe(2);
    expect(site.startBodies[1].visitor_id).toBe(visitorId);
    expect(site.startBodies[1].data).toEqual({ plan: "enterprise" });
    // The same client_message_id to the ended conversation (refused) and to the new one.
    const attempts = site.messageBodies.filter((body) => body.text === "Second question, after the end");
    expect(attempts.length).toBe(2);
    expect(attempts[1].client_message_id).toBe(attempts[0].client_message_id);

    const texts = async (id: string) =>
      (await api("GET", `/v1/conversations/${id}/messages`, { token: apiKey })).json.messages
        .filter((m: any) => m.role === "visitor")
        .map((m: any) => m.text);
    expect(await texts(first)).toEqual(["First question"]);
    expect(await texts(second)).toEqual(["Second question, after the end"]);
    expect(await visitorMessages(page).count()).toBe(2);
    // The note stands between the two conversations.
    const order = await page.evaluate(() =>
      [...(globalThis as any).document.querySelector("chat-context-widget").shadowRoot.querySelector("[role=log]").children].map(
        (node: any) => node.className,
      ),
    );
    expect(order).toEqual(["msg visitor", "msg bot", "sep", "msg visitor", "msg bot"]);

    // The old conversation's socket is closed; the new one's is live.
    await expect
      .poll(() => sockets(page), { timeout: LIVE_MS })
      .toEqual([
        { url: expect.stringContaining(first), state: 3 },
        { url: expect.stringContaining(second), state: 1 },
      ]);
    await postAsTeam(apiKey, second, "Picking up your new conversation.", "agent");
    await agentMessages(page).first().waitFor({ timeout: LIVE_MS });
    expect(site.pageErrors).toEqual([]);
    await site.context.close();
  });
});
