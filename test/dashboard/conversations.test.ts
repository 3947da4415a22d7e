import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, call, createChatbot, createTeam, sendMessageOk, startConversationWith } from "../support/api";
import { signIn } from "../support/dashboard";

/** A browser-like request to the Worker with the session cookie (and this origin, as fetch sends it). */
async function browser(path: string, options: { cookie?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie) headers.Cookie = options.cookie;
  const response = await exports.default.fetch(new Request(BASE + path, { headers, redirect: "manual" }));
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function putMetadata(apiKey: string, conversationId: string, key: string, value: string) {
  const response = await call("PUT", `/v1/conversations/${conversationId}/metadata/${encodeURIComponent(key)}`, {
    token: apiKey,
    body: { value },
  });
  if (response.status !== 200 && response.status !== 201) throw new Error(`metadata: ${response.status} ${response.text}`);
}

/** A team with a chatbot, a conversation of it, and a signed-in dashboard session. */
async function setUp(start: Record<string, unknown> = {}, chatbotName = "Shop bot") {
  const team = await createTeam();
  const bot = await createChatbot(team.apiKey, { name: chatbotName });
  const started = await startConversationWith(bot.id, start);
  const cookie = await signIn(team.apiKey);
  return { team, bot, started, cookie };
}

/** The text of the sidebar section headed `title` (its landmark), markup included. */
function section(html: string, id: string): string {
  const start = html.indexOf(`<section aria-labelledby="${id}-heading"`);
  expect(start, `section ${id}`).toBeGreaterThan(-1);
  return html.slice(start, html.indexOf("</section>", start));
}

/** The keys of the Metadata section, in the order shown. */
function keysShown(html: string): string[] {
  return [...section(html, "metadata").matchAll(/data-key="([^"]*)"/g)].map((match) => match[1]!);
}

const HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "\u202Eevil"];

describe("the conversation page", () => {
  it("shows the header, the messages oldest first, and the sidebar's Metadata, Customer and Participant data", async () => {
    const { started, cookie, bot } = await setUp({
      data: { user_id: "test-123", email: "test@example.com", name: "Ann Lee", plan: '{"tier":"pro","seats":3}' },
    });
    await sendMessageOk(started.conversation_id, started.token, { text: "First question" });
    await sendMessageOk(started.conversation_id, started.token, { text: "Second question" });
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(page.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(page.headers.get("Cache-Control")).toBe("no-store");

    const header = page.text.slice(
      page.text.indexOf('<header class="conversation-head"'),
      page.text.indexOf("</header>", page.text.indexOf("conversation-head")),
    );
    expect(header).toContain(started.conversation_id);
    expect(header).toContain("Shop bot");
    expect(header).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    expect(header).toMatch(/data-live="message-count">4</);

    // Oldest first: each visitor message is followed by its stand-in reply.
    const list = page.text.slice(page.text.indexOf('<ol class="messages"'), page.text.indexOf("</ol>"));
    expect(list).toContain('aria-live="polite"');
    const first = list.indexOf("First question");
    const second = list.indexOf("Second question");
    expect(first).toBeGreaterThan(-1);
    expect(second).toBeGreaterThan(first);
    expect(list.match(/<li /g)).toHaveLength(4);
    expect(list).toContain("Visitor");
    expect(list).toContain("Bot");

    expect(page.text).toMatch(/<aside[^>]*class="sidebar[ "]/);
    expect(keysShown(page.text)).toEqual(["chat-widget:email", "chat-widget:name", "chat-widget:plan", "chat-widget:user_id"]);
    const metadata = section(page.text, "metadata");
    expect(metadata).toContain("test-123");
    // A JSON value is shown pretty-printed.
    expect(metadata).toContain("{\n  &quot;tier&quot;: &quot;pro&quot;,\n  &quot;seats&quot;: 3\n}");

    const customer = section(page.text, "customer");
    expect(customer).toContain("test@example.com");
    expect(customer).toContain("Ann Lee");
    expect(customer).toMatch(/Verified<\/dt><dd[^>]*>No</);

    const data = section(page.text, "participant-data");
    expect(data).toContain(`href="/dashboard/participants/${started.participant_id}"`);
    expect(data).toContain("{}");
    expect(page.text).toContain(`data-conversation-id="${started.conversation_id}"`);
    void bot;
  });

  it("puts chat-widget keys first, then the others, each sorted", async () => {
    const { team, started, cookie } = await setUp({ data: { zeta: "1", alpha: "2" } });
    for (const key of ["zz-api", "Account", "b:api"]) await putMetadata(team.apiKey, started.conversation_id, key, "x");
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    expect(keysShown(page.text)).toEqual(["chat-widget:alpha", "chat-widget:zeta", "Account", "b:api", "zz-api"]);
  });

  it("answers the same 404 page for another team's conversation, a missing id and junk", async () => {
    const { started } = await setUp();
    const other = await createTeam();
    const cookie = await signIn(other.apiKey);
    const foreign = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    const missing = await browser("/dashboard/conversations/conv_00000000000000000000000000", { cookie });
    const junk = await browser(`/dashboard/conversations/${encodeURIComponent("<script>x</script>")}`, { cookie });
    for (const page of [foreign, missing, junk]) {
      expect(page.status).toBe(404);
      expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
      expect(page.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
      expect(page.text).toContain("Conversation not found");
      expect(page.text).not.toContain(started.conversation_id);
    }
    expect(foreign.text).toBe(missing.text);
    expect(junk.text).not.toContain("<script>x");
    const updates = await browser(`/dashboard/conversations/${started.conversation_id}/updates`, { cookie });
    expect(updates.status).toBe(404);
    expect(updates.text).not.toContain(started.conversation_id);
  });

  it("sends a visitor without a session to sign in", async () => {
    const { started } = await setUp();
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`);
    expect(page.status).toBe(303);
    expect(page.headers.get("Location")).toBe(
      `/dashboard/login?next=${encodeURIComponent(`/dashboard/conversations/${started.conversation_id}`)}`,
    );
  });

  it("shows hostile values as text, isolated for bidi, everywhere a person or visitor can set one", async () => {
    const [script, img, rlo] = HOSTILE as [string, string, string];
    const { team, started, cookie } = await setUp({ data: { name: script, email: "x@example.com", html: img, bidi: rlo } }, img);
    await putMetadata(team.apiKey, started.conversation_id, script, rlo);
    await sendMessageOk(started.conversation_id, started.token, { text: `${script} ${img} ${rlo}` });
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    expect(page.status).toBe(200);
    expect(page.text).not.toContain("<script>alert(1)");
    expect(page.text).not.toContain("<img src=x");
    expect(page.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page.text).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    // Every right-to-left override is inside an isolate, so it cannot reorder the page around it.
    const overrides = page.text.split("\u202E").length - 1;
    expect(overrides).toBeGreaterThanOrEqual(3);
    const isolated = [...page.text.matchAll(/<bdi dir="auto">[^<]*\u202Eevil/g)].length;
    expect(isolated).toBe(overrides);
    // The key in the "Show full value" label and data attributes is escaped too.
    expect(page.text).toContain('data-key="&lt;script&gt;alert(1)&lt;/script&gt;"');
  });

  it("renders 200 pairs of 50,000 characters in under 300 KB: long values collapsed, short ones whole", async () => {
    const { team, started, cookie } = await setUp({ data: { user_id: "test-123" } });
    const long = (i: number) => `${String(i).padStart(3, "0")}:${"é".repeat(49_996)}`;
    const keys = Array.from({ length: 199 }, (_, i) => `k${String(i).padStart(3, "0")}`);
    for (let i = 0; i < keys.length; i++) await putMetadata(team.apiKey, started.conversation_id, keys[i]!, long(i));
    const began = performance.now();
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    const renderMs = performance.now() - began;
    expect(page.status).toBe(200);
    const bytes = new TextEncoder().encode(page.text).length;
    console.log(`conversation page with 199 values of 50,000 characters: ${bytes} bytes, ${renderMs.toFixed(0)} ms`);
    expect(bytes).toBeLessThan(300 * 1024);
    const metadata = section(page.text, "metadata");
    // The short value is whole; each long one shows its start and a button named after its key.
    expect(metadata).toContain("test-123");
    expect(metadata.match(/>Show full value</g)).toHaveLength(199);
    expect(metadata).toContain('aria-label="Show full value of k000"');
    expect(metadata).toContain(`000:${"é".repeat(100)}`);
    expect(metadata).not.toContain("é".repeat(1000));
    expect(metadata).toContain("50,000 characters");
    // The full value is one request away, through the API with the session cookie.
    const full = await browser(`/v1/conversations/${started.conversation_id}/metadata/k007`, { cookie });
    expect(full.status).toBe(200);
    expect(JSON.parse(full.text).value).toBe(long(7));

    // The live updates stay small too: previews, never the values.
    const polled = performance.now();
    const updates = await browser(`/dashboard/conversations/${started.conversation_id}/updates`, { cookie });
    const pollMs = performance.now() - polled;
    expect(updates.status).toBe(200);
    console.log(`its live update: ${updates.text.length} bytes, ${pollMs.toFixed(0)} ms`);
    expect(new TextEncoder().encode(updates.text).length).toBeLessThan(200 * 1024);
    // What polling the API's whole metadata instead would move every two seconds.
    const whole = await browser(`/v1/conversations/${started.conversation_id}/metadata`, { cookie });
    console.log(`GET /v1/conversations/:id/metadata of the same: ${new TextEncoder().encode(whole.text).length} bytes`);
  });

  it("shows a 50,000-character JSON string collapsed, and never cuts a character in two", async () => {
    const { team, started, cookie } = await setUp();
    const json = JSON.stringify("x".repeat(49_998));
    await putMetadata(team.apiKey, started.conversation_id, "json", json);
    // Astral characters (two UTF-16 units each) straddle the cut at an odd offset.
    await putMetadata(team.apiKey, started.conversation_id, "emoji", `a${"😀".repeat(400)}`);
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    const metadata = section(page.text, "metadata");
    expect(metadata).toContain('aria-label="Show full value of json"');
    expect(metadata).toContain('aria-label="Show full value of emoji"');
    expect(metadata).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(metadata).toContain("401 characters");
  });

  it("shows the customer's timezone and whether an identity token verified them", async () => {
    const { started, cookie } = await setUp({ data: { email: "ann@example.com", phone: "+33 1 42 68 53 00" }, timezone: "Europe/Paris" });
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    const customer = section(page.text, "customer");
    expect(customer).toContain("Europe/Paris");
    expect(customer).toContain("ann@example.com");
    expect(customer).toContain("+33142685300");
  });

  it("pages messages 200 at a time, oldest first, with links to newer and to the earliest", async () => {
    const { started, cookie } = await setUp();
    // Each visitor message gets a stand-in reply: 101 messages make 202.
    for (let i = 0; i < 101; i++) await sendMessageOk(started.conversation_id, started.token, { text: `message ${i}` });
    const first = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    const list = first.text.slice(first.text.indexOf('<ol class="messages"'), first.text.indexOf("</ol>"));
    expect(list.match(/<li /g)).toHaveLength(200);
    expect(list).toContain(">message 0<");
    expect(list).not.toContain(">message 100<");
    expect(first.text).toContain("Messages 1 to 200 of 202");
    const newer = first.text.match(/href="\?after=([a-z]+_[0-9a-z]{26})"[^>]*>Newer messages/);
    expect(newer).not.toBeNull();
    // Live appending happens only on the last page: this one has newer messages to link to.
    expect(first.text).not.toContain("data-live-after");

    const second = await browser(`/dashboard/conversations/${started.conversation_id}?after=${newer![1]}`, { cookie });
    const rest = second.text.slice(second.text.indexOf('<ol class="messages"'), second.text.indexOf("</ol>"));
    expect(rest.match(/<li /g)).toHaveLength(2);
    expect(rest).toContain(">message 100<");
    expect(second.text).toContain("Earliest messages");
    expect(second.text).toContain("data-live-after=");

    // A cursor that is not an id is ignored: the first page.
    const junk = await browser(`/dashboard/conversations/${started.conversation_id}?after=${encodeURIComponent('"><b>')}`, { cookie });
    expect(junk.status).toBe(200);
    expect(junk.text).toContain(">message 0<");
  });

  it("lets a read-only key see the whole page", async () => {
    const { team, started } = await setUp({ data: { user_id: "r-1" } });
    const read = await call("POST", "/v1/api-keys", { token: team.apiKey, body: { name: "viewer", scope: "read" } });
    const cookie = await signIn(read.json.key);
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    expect(page.status).toBe(200);
    expect(page.text).toContain("r-1");
  });
});

describe("the conversation page's live updates", () => {
  it("answers new messages after the last one shown, the metadata in display order, and the customer", async () => {
    const { team, started, cookie } = await setUp({ data: { user_id: "u-1" } });
    await sendMessageOk(started.conversation_id, started.token, { text: "Hello" });
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    const lastId = page.text.match(/data-live-after="([^"]+)"/)![1]!;

    await sendMessageOk(started.conversation_id, started.token, { text: "Anyone there?", data: { email: "late@example.com" } });
    await putMetadata(team.apiKey, started.conversation_id, "crm:stage", "lead");
    const updates = await browser(`/dashboard/conversations/${started.conversation_id}/updates?after=${lastId}`, { cookie });
    expect(updates.status).toBe(200);
    expect(updates.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(updates.headers.get("Cache-Control")).toBe("no-store");
    const body = JSON.parse(updates.text);
    expect(body.messages.map((message: { text: string }) => message.text)[0]).toBe("Anyone there?");
    expect(body.messages).toHaveLength(2);
    expect(body.more_messages).toBe(false);
    expect(body.message_count).toBe(4);
    expect(body.metadata.map((entry: { key: string }) => entry.key)).toEqual(["chat-widget:email", "chat-widget:user_id", "crm:stage"]);
    expect(body.metadata[2]).toMatchObject({ key: "crm:stage", text: "lead", truncated: false, length: 4 });
    expect(body.metadata[2].sig).toMatch(/^[0-9a-f]{16}$/);
    expect(body.customer).toEqual({ name: null, email: "late@example.com", phone: null, timezone: null, verified: false });
    expect(body.participant_id).toBe(started.participant_id);

    // Without `after`, no messages: a page that is not the last polls only the sidebar.
    const sidebarOnly = JSON.parse((await browser(`/dashboard/conversations/${started.conversation_id}/updates`, { cookie })).text);
    expect(sidebarOnly.messages).toBeUndefined();
    // An empty `after`: from the first message (a conversation shown with none yet).
    const fromStart = JSON.parse((await browser(`/dashboard/conversations/${started.conversation_id}/updates?after=`, { cookie })).text);
    expect(fromStart.messages).toHaveLength(4);
  });

  it("answers 304 while nothing changed, and the new state once something does", async () => {
    const { team, started, cookie } = await setUp({ data: { user_id: "u-1" } });
    const path = `/dashboard/conversations/${started.conversation_id}/updates?after=`;
    const first = await browser(path, { cookie });
    const etag = first.headers.get("ETag")!;
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    const same = await browser(path, { cookie, headers: { "If-None-Match": etag } });
    expect(same.status).toBe(304);
    expect(same.text).toBe("");
    await putMetadata(team.apiKey, started.conversation_id, "chat-widget:user_id", "u-2");
    const changed = await browser(path, { cookie, headers: { "If-None-Match": etag } });
    expect(changed.status).toBe(200);
    expect(JSON.parse(changed.text).metadata[0].text).toBe("u-2");
  });

  it("signs a long value by its whole content, so a change past the preview is seen", async () => {
    const { team, started, cookie } = await setUp();
    const base = "a".repeat(1000);
    await putMetadata(team.apiKey, started.conversation_id, "notes", `${base}1`);
    const before = JSON.parse((await browser(`/dashboard/conversations/${started.conversation_id}/updates`, { cookie })).text).metadata[0];
    await putMetadata(team.apiKey, started.conversation_id, "notes", `${base}2`);
    const after = JSON.parse((await browser(`/dashboard/conversations/${started.conversation_id}/updates`, { cookie })).text).metadata[0];
    expect(before.truncated).toBe(true);
    expect(after.text).toBe(before.text);
    expect(after.length).toBe(before.length);
    expect(after.sig).not.toBe(before.sig);
  });

  it("refuses a malformed cursor with a problem", async () => {
    const { started, cookie } = await setUp();
    const response = await browser(`/dashboard/conversations/${started.conversation_id}/updates?after=nope`, { cookie });
    expect(response.status).toBe(400);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/problem\+json/);
  });
});

async function addTrigger(apiKey: string, chatbotId: string, body: Record<string, unknown>) {
  const response = await call("POST", `/v1/chatbots/${chatbotId}/triggers`, { token: apiKey, body });
  expect(response.status, response.text).toBe(201);
}

describe("the conversation page's state, agent answers and events", () => {
  it("shows the state in the header, End and the outcome for a write session, the agent form, and what fired", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    await addTrigger(team.apiKey, bot.id, { on: "conversation_started", action: { type: "send_message", text: "Welcome!" } });
    await addTrigger(team.apiKey, bot.id, { on: "conversation_started", action: { type: "run_action", action_id: HOSTILE[0] } });
    const started = await startConversationWith(bot.id);
    const cookie = await signIn(team.apiKey);
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<dd data-live="status">Open</dd>');
    expect(page.text).toContain('<dd data-live="outcome"><span class="unset">None</span></dd>');
    expect(page.text).toMatch(/<div data-live="ended" hidden="">/);
    expect(page.text).toContain('<button type="button" data-set-status="ended">End conversation</button>');
    expect(page.text).toContain('<label for="conversation-outcome">Outcome</label>');
    expect(page.text).toContain('data-pointer="/outcome"');
    // Answering as an agent, inside the Messages section.
    const messages = section(page.text, "messages");
    expect(messages).toContain('<label for="agent-text">Answer as agent</label>');
    expect(messages).toContain("Send as agent</button>");
    // Events: newest first, each with what fired, its status and detail (escaped, isolated).
    const events = section(page.text, "events");
    expect(events).toContain('<h2 id="events-heading">Events</h2>');
    const items = [...events.matchAll(/<li class="event event-(ok|failed)"/g)].map((match) => match[1]);
    expect(items).toEqual(["failed", "ok"]);
    expect(events).toContain("Conversation started → Send a message");
    expect(events).toContain("Conversation started → Run a custom action");
    expect(events).not.toContain("<script>alert(1)");
    expect(events).toMatch(/<bdi dir="auto">[^<]*&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    expect(events).toContain('<span class="event-status">Failed</span>');
    expect(events).toMatch(/<p class="help empty-events" hidden="">/);
  });

  it("shows an ended conversation as ended, with its outcome and time, and Reopen", async () => {
    const { team, started, cookie } = await setUp();
    const patched = await call("PATCH", `/v1/conversations/${started.conversation_id}`, {
      token: team.apiKey,
      body: { status: "ended", outcome: "resolved" },
    });
    expect(patched.status).toBe(200);
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie });
    expect(page.text).toContain('<dd data-live="status">Ended</dd>');
    expect(page.text).toContain('<dd data-live="outcome"><bdi dir="auto">resolved</bdi></dd>');
    expect(page.text).toContain(`<time datetime="${patched.json.ended_at}">`);
    expect(page.text).toMatch(/<div data-live="ended">/);
    expect(page.text).toContain('data-set-status="open">Reopen conversation</button>');
    expect(page.text).toContain('value="resolved"');
    expect(section(page.text, "events")).toContain("No trigger has fired in this conversation.");
  });

  it("gives a read key's session the state and events without End, the outcome field or the agent form", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    await addTrigger(team.apiKey, bot.id, { on: "conversation_started", action: { type: "end_conversation" } });
    const started = await startConversationWith(bot.id);
    const read = await call("POST", "/v1/api-keys", { token: team.apiKey, body: { name: "viewer", scope: "read" } });
    const page = await browser(`/dashboard/conversations/${started.conversation_id}`, { cookie: await signIn(read.json.key) });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<dd data-live="status">Ended</dd>');
    expect(section(page.text, "events")).toContain("Conversation started → End the conversation");
    for (const control of ["data-conversation-state", "data-set-status", "data-agent-answer", "agent-text", "conversation-outcome"])
      expect(page.text).not.toContain(control);
    // The only form is the header's sign-out.
    expect(page.text.match(/<form/g)).toHaveLength(1);
  });

  it("answers the state and the events in the live updates, so an open page follows them", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    await addTrigger(team.apiKey, bot.id, { on: "conversation_ended", action: { type: "send_message", text: "Bye <b>now</b>" } });
    const started = await startConversationWith(bot.id);
    const cookie = await signIn(team.apiKey);
    const path = `/dashboard/conversations/${started.conversation_id}/updates?after=`;
    const before = JSON.parse((await browser(path, { cookie })).text);
    expect(before.state).toEqual({ status: "open", outcome: null, ended_at: null, ended_label: "" });
    expect(before.events).toEqual([]);
    const ended = await call("PATCH", `/v1/conversations/${started.conversation_id}`, {
      token: team.apiKey,
      body: { status: "ended", outcome: "handoff" },
    });
    const after = JSON.parse((await browser(path, { cookie })).text);
    expect(after.state).toMatchObject({ status: "ended", outcome: "handoff", ended_at: ended.json.ended_at });
    expect(after.state.ended_label).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
    expect(after.events).toHaveLength(1);
    expect(after.events[0]).toMatchObject({ on: "Conversation ended", action: "Send a message", status: "ok" });
    expect(after.events[0].time).toMatch(/ UTC$/);
    expect(after.messages.at(-1).text).toBe("Bye <b>now</b>");
  });
});
