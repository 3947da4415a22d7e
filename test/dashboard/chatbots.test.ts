import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/shared/ids";
import { insertDeliveries, recordAttempt } from "../../src/webhooks/storage";
import { BASE, call, countD1Statements, createChatbot, createTeam, startConversationWith } from "../support/api";
import { page, signIn } from "../support/dashboard";

/** A signed-in browser's GET of a dashboard page (no Origin: a navigation). */
async function readKeyOf(apiKey: string): Promise<string> {
  const read = await call("POST", "/v1/api-keys", { token: apiKey, body: { name: "viewer", scope: "read" } });
  expect(read.status).toBe(201);
  return read.json.key;
}

const HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "\u202Eevil"];

describe("dashboard chatbots list", () => {
  it("lists the team's chatbots only, each linked to its settings, with the create form", async () => {
    const team = await createTeam();
    const mine = await createChatbot(team.apiKey, { name: "Shop bot", allowed_origins: ["https://shop.example.com"] });
    const other = await createTeam();
    const theirs = await createChatbot(other.apiKey, { name: "Their secret bot" });
    const cookie = await signIn(team.apiKey, "/dashboard/chatbots");
    const list = await page("/dashboard/chatbots", cookie);
    expect(list.status).toBe(200);
    expect(list.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(list.text).toContain(`href="/dashboard/chatbots/${mine.id}"`);
    expect(list.text).toContain("Shop bot");
    expect(list.text).not.toContain(theirs.id);
    expect(list.text).not.toContain("Their secret bot");
    expect(list.text).toContain('aria-current="page">Chatbots');
    expect(list.text).toContain('<section aria-labelledby="create-heading" id="create"><h2 id="create-heading">Create chatbot</h2>');
    expect(list.text).toContain('<label for="new-chatbot-name">Name</label>');
  });

  it("says so when there are none yet", async () => {
    const team = await createTeam();
    const list = await page("/dashboard/chatbots", await signIn(team.apiKey, "/dashboard/chatbots"));
    expect(list.status).toBe(200);
    expect(list.text).toContain("No chatbots yet.");
  });

  it("sends a visitor without a session to sign in", async () => {
    const list = await page("/dashboard/chatbots");
    expect(list.status).toBe(303);
    expect(list.headers.get("Location")).toBe("/dashboard/login?next=%2Fdashboard%2Fchatbots");
  });

  it("offers a read key's session no create form", async () => {
    const team = await createTeam();
    await createChatbot(team.apiKey, { name: "Shop bot" });
    const list = await page("/dashboard/chatbots", await signIn(await readKeyOf(team.apiKey), "/dashboard/chatbots"));
    expect(list.status).toBe(200);
    expect(list.text).toContain("Shop bot");
    expect(list.text).not.toContain("data-chatbot-create");
    expect(list.text).not.toContain("Create chatbot</button>");
  });
});

describe("dashboard chatbot settings", () => {
  it("shows the name, origins, schema, identity settings and the widget snippet, sections in order", async () => {
    const team = await createTeam();
    const schema = { type: "object", properties: { plan: { enum: ["free", "pro"] } } };
    const bot = await createChatbot(team.apiKey, {
      name: "Shop bot",
      allowed_origins: ["https://shop.example.com", "http://localhost:3000"],
      participant_data_schema: schema,
    });
    const cookie = await signIn(team.apiKey, "/dashboard/chatbots");
    const settings = await page(`/dashboard/chatbots/${bot.id}`, cookie);
    expect(settings.status).toBe(200);
    expect(settings.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(settings.text).toContain('value="Shop bot"');
    expect(settings.text).toMatch(/<textarea id="allowed-origins"[^>]*>https:\/\/shop\.example\.com\nhttp:\/\/localhost:3000<\/textarea>/);
    expect(settings.text).toContain(JSON.stringify(schema, null, 2).replaceAll('"', "&quot;"));
    expect(settings.text).toContain(
      `&lt;script src=&quot;${BASE}/widget.js&quot; data-chatbot-id=&quot;${bot.id}&quot; async&gt;&lt;/script&gt;`,
    );
    expect(settings.text).toContain(`href="/playground/${bot.id}"`);
    expect(settings.text).toMatch(/<input type="radio" id="identity-off" name="identity_verification" value="off" checked=""/);
    expect(settings.text).toContain("<legend>Identity verification</legend>");
    expect(settings.text).toContain("No identity secret is set yet.");
    expect(settings.text).toContain("Create identity secret</button>");
    // Every section is a landmark named by its heading, in a fixed order.
    const sections = [...settings.text.matchAll(/<section aria-labelledby="([a-z-]+)-heading"/g)].map((match) => match[1]);
    expect(sections).toEqual(["general", "widget", "schema", "replies", "identity", "triggers", "custom-actions", "webhooks"]);
    expect(settings.text).toMatch(/<input type="checkbox" id="stand-in-replies" name="stand_in_replies" checked=""/);
  });

  it("says a secret is set once one is, and never shows it", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const rotated = await call("POST", `/v1/chatbots/${bot.id}/identity-secret`, { token: team.apiKey });
    expect(rotated.status).toBe(201);
    await call("PATCH", `/v1/chatbots/${bot.id}`, {
      token: team.apiKey,
      body: { identity_verification: "required", stand_in_replies: false },
    });
    const settings = await page(`/dashboard/chatbots/${bot.id}`, await signIn(team.apiKey, "/dashboard/chatbots"));
    expect(settings.text).toContain("An identity secret is set.");
    expect(settings.text).toContain("Rotate identity secret</button>");
    expect(settings.text).not.toContain(rotated.json.secret);
    expect(settings.text).toMatch(/id="identity-required" name="identity_verification" value="required" checked=""/);
    expect(settings.text).toMatch(/<input type="checkbox" id="stand-in-replies" name="stand_in_replies" data-pointer/);
  });

  it("answers the same 404 page for another team's chatbot, a missing id and junk", async () => {
    const team = await createTeam();
    const other = await createTeam();
    const theirs = await createChatbot(other.apiKey, { name: "Their secret bot" });
    const cookie = await signIn(team.apiKey, "/dashboard/chatbots");
    const bodies = [];
    for (const id of [theirs.id, "cb_00000000000000000000000000", "not-an-id", "%3Cscript%3E"]) {
      const response = await page(`/dashboard/chatbots/${id}`, cookie);
      expect(response.status).toBe(404);
      expect(response.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
      expect(response.text).toContain("Chatbot not found");
      expect(response.text).not.toContain("Their secret bot");
      bodies.push(response.text);
    }
    expect(new Set(bodies).size).toBe(1);
  });

  it("renders hostile names, origins and schema values as text", async () => {
    const team = await createTeam();
    const long = "x".repeat(50_000);
    const bot = await createChatbot(team.apiKey, {
      name: HOSTILE.join(" "),
      participant_data_schema: { type: "object", description: `</textarea><script>alert(1)</script>${HOSTILE.join("")}`, title: long },
    });
    const cookie = await signIn(team.apiKey, "/dashboard/chatbots");
    for (const path of ["/dashboard/chatbots", `/dashboard/chatbots/${bot.id}`]) {
      const response = await page(path, cookie);
      expect(response.status).toBe(200);
      expect(response.text).not.toContain("<script>alert(1)");
      expect(response.text).not.toContain("<img src=x");
      expect(response.text).not.toContain("</textarea><script>");
      expect(response.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      // The person's value is isolated for bidi wherever it is shown as text.
      expect(response.text).toMatch(
        /<bdi dir="auto">&lt;script&gt;alert\(1\)&lt;\/script&gt; &quot;&gt;&lt;img src=x onerror=alert\(1\)&gt; \u202Eevil<\/bdi>/,
      );
    }
    const settings = await page(`/dashboard/chatbots/${bot.id}`, cookie);
    expect(settings.text).toContain(long);
    // The whole page stays a page: the 50,000-character value is its bulk, once.
    expect(settings.text.length).toBeLessThan(long.length + 20_000);
  });

  it("shows a read key's session the settings without controls that change them", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, {
      name: "Shop bot",
      allowed_origins: ["https://shop.example.com"],
      participant_data_schema: { type: "object" },
    });
    const settings = await page(`/dashboard/chatbots/${bot.id}`, await signIn(await readKeyOf(team.apiKey), "/dashboard/chatbots"));
    expect(settings.status).toBe(200);
    expect(settings.text).toContain("https://shop.example.com");
    expect(settings.text).toMatch(/<input id="chatbot-name"[^>]* readonly=""/);
    expect(settings.text).toMatch(/<textarea id="allowed-origins"[^>]* readonly=""/);
    expect(settings.text).toMatch(/<textarea id="participant-data-schema"[^>]* readonly=""/);
    expect(settings.text).toMatch(/id="identity-off"[^>]* disabled=""/);
    expect(settings.text).toMatch(/id="identity-required"[^>]* disabled=""/);
    expect(settings.text).toMatch(/id="stand-in-replies"[^>]* disabled=""/);
    expect(settings.text).not.toMatch(/<button type="submit"[^>]*>\s*Save/);
    expect(settings.text).not.toContain("Save name and origins");
    expect(settings.text).not.toContain("data-rotate-secret");
    expect(settings.text).toContain("Copy snippet");
  });
});

describe("what the settings page's scripts rely on", () => {
  it("a session's PATCH of a bad schema answers pointers under /participant_data_schema; a bad origin its index", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const cookie = await signIn(team.apiKey, "/dashboard/chatbots");
    const patch = (body: unknown) =>
      exports.default.fetch(
        new Request(`${BASE}/v1/chatbots/${bot.id}`, {
          method: "PATCH",
          headers: { Cookie: cookie, Origin: BASE, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        }),
      );
    const schema = await patch({ participant_data_schema: { type: "objekt", properties: { age: { minimum: "ten" } } } });
    expect(schema.status).toBe(400);
    const problem = (await schema.json()) as { errors: { pointer: string; message: string }[] };
    expect(problem.errors.length).toBeGreaterThan(0);
    for (const error of problem.errors) expect(error.pointer.startsWith("/participant_data_schema/")).toBe(true);
    const origins = await patch({ allowed_origins: ["https://ok.example", "https://bad.example/path"] });
    expect(origins.status).toBe(400);
    expect(((await origins.json()) as { errors: { pointer: string }[] }).errors.map((error) => error.pointer)).toEqual([
      "/allowed_origins/1",
    ]);
  });
});

/** The HTML of the section landmark `id` (sections are not nested on this page). */
function sectionOf(html: string, id: string): string {
  const start = html.indexOf(`<section aria-labelledby="${id}-heading"`);
  expect(start, `section ${id}`).toBeGreaterThan(-1);
  return html.slice(start, html.indexOf("</section>", start));
}

async function addTrigger(apiKey: string, chatbotId: string, body: Record<string, unknown>) {
  const response = await call("POST", `/v1/chatbots/${chatbotId}/triggers`, { token: apiKey, body });
  expect(response.status).toBe(201);
  return response.json as { id: string };
}

async function addWebhook(apiKey: string, body: Record<string, unknown>) {
  const response = await call("POST", "/v1/webhooks", { token: apiKey, body });
  expect(response.status).toBe(201);
  return response.json as { id: string; secret: string };
}

describe("dashboard chatbot triggers", () => {
  it("lists the chatbot's triggers with when, delay, max fires and what they do, and the form to add one", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const other = await createChatbot(team.apiKey, { name: "Other bot" });
    const quiet = await addTrigger(team.apiKey, bot.id, {
      on: "conversation_inactive",
      delay_seconds: 5400,
      max_fires: 3,
      action: { type: "send_message", text: "Still there?" },
    });
    await addTrigger(team.apiKey, bot.id, {
      on: "message_received",
      action: { type: "update_participant_data", patch: { followed_up: true } },
    });
    await addTrigger(team.apiKey, bot.id, { on: "conversation_ended", action: { type: "end_conversation" } });
    await addTrigger(team.apiKey, other.id, { on: "conversation_started", action: { type: "send_message", text: "Not this bot's" } });
    const settings = await page(`/dashboard/chatbots/${bot.id}`, await signIn(team.apiKey, "/dashboard/chatbots"));
    expect(settings.status).toBe(200);
    const triggers = sectionOf(settings.text, "triggers");
    expect(triggers).toContain('<h2 id="triggers-heading">Triggers</h2>');
    expect([...triggers.matchAll(/<tr>\s*<th scope="row">/g)]).toHaveLength(3);
    expect(triggers).not.toContain("Not this bot&#39;s");
    expect(triggers).toContain("Conversation inactive");
    expect(triggers).toContain("1 hour 30 minutes");
    expect(triggers).toMatch(/<td class="count">3<\/td>/);
    expect(triggers).toContain('Send a message: <span class="action-detail"><bdi dir="auto">Still there?</bdi>');
    expect(triggers).toContain("{&quot;followed_up&quot;:true}");
    expect(triggers).toContain("End the conversation");
    // Each trigger's Delete asks for a confirmation (no window.confirm), named by what it deletes.
    expect(triggers).toContain(`data-url="/v1/chatbots/${bot.id}/triggers/${quiet.id}"`);
    expect(triggers).toContain('aria-label="Delete: trigger Conversation inactive: send a message"');
    expect(triggers).toContain('<span class="confirm-step" data-confirm-step="true" hidden="">');
    expect(triggers).toContain(">Confirm delete</button>");
    // The form: every control labelled; the delay shown only for inactivity (the script toggles it).
    for (const id of [
      "trigger-on",
      "trigger-delay",
      "trigger-max-fires",
      "trigger-action-type",
      "trigger-text",
      "trigger-patch",
      "trigger-action-id",
    ])
      expect(triggers).toContain(`<label for="${id}">`);
    expect(triggers).toMatch(/<div data-shown-for="conversation_inactive" hidden="">/);
    expect(triggers).toContain('data-pointer="/delay_seconds"');
    expect(triggers).toContain('data-pointer="/action/text"');
  });

  it("says when there are none, and renders hostile trigger values as text", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const cookie = await signIn(team.apiKey, "/dashboard/chatbots");
    expect(sectionOf((await page(`/dashboard/chatbots/${bot.id}`, cookie)).text, "triggers")).toContain("No triggers yet.");
    await addTrigger(team.apiKey, bot.id, { on: "conversation_started", action: { type: "send_message", text: HOSTILE.join(" ") } });
    await addTrigger(team.apiKey, bot.id, { on: "conversation_started", action: { type: "run_action", action_id: HOSTILE[0] } });
    await addTrigger(team.apiKey, bot.id, {
      on: "message_received",
      action: { type: "update_participant_data", patch: { note: `${HOSTILE[1]}${"x".repeat(50_000)}` } },
    });
    const settings = await page(`/dashboard/chatbots/${bot.id}`, cookie);
    const triggers = sectionOf(settings.text, "triggers");
    expect(triggers).not.toContain("<script>alert(1)");
    expect(triggers).not.toContain("<img src=x");
    expect(triggers).toContain(
      '<bdi dir="auto">&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img src=x onerror=alert(1)&gt; \u202Eevil</bdi>',
    );
    expect(triggers).toContain("<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>");
    // A long patch is shortened: the page does not carry 50,000 characters of it.
    expect(settings.text.length).toBeLessThan(40_000);
    expect(triggers).toContain("x…");
  });
});

describe("dashboard chatbot webhooks", () => {
  it("lists the webhooks for this chatbot and for all chatbots, never another chatbot's, and never a secret", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const other = await createChatbot(team.apiKey, { name: "Other bot" });
    const own = await addWebhook(team.apiKey, {
      url: "https://hooks.example.com/own",
      events: ["message.created", "conversation.ended"],
      chatbot_id: bot.id,
    });
    const all = await addWebhook(team.apiKey, { url: "https://hooks.example.com/all", events: ["participant.created"] });
    const theirs = await addWebhook(team.apiKey, {
      url: "https://hooks.example.com/theirs",
      events: ["message.created"],
      chatbot_id: other.id,
    });
    const foreignTeam = await createTeam();
    await addWebhook(foreignTeam.apiKey, { url: "https://hooks.example.com/foreign", events: ["message.created"] });
    const settings = await page(`/dashboard/chatbots/${bot.id}`, await signIn(team.apiKey, "/dashboard/chatbots"));
    const webhooks = sectionOf(settings.text, "webhooks");
    expect(webhooks).toContain('<h2 id="webhooks-heading">Webhooks</h2>');
    expect(webhooks).toContain("https://hooks.example.com/own");
    expect(webhooks).toContain("https://hooks.example.com/all");
    expect(webhooks).not.toContain("https://hooks.example.com/theirs");
    expect(webhooks).not.toContain(theirs.id);
    expect(webhooks).not.toContain("foreign");
    expect(webhooks).toContain("All of the team&#39;s chatbots");
    expect(webhooks).toContain("<code>conversation.ended</code>");
    expect(webhooks).toContain(`data-url="/v1/webhooks/${own.id}"`);
    expect(webhooks).toContain(`data-url="/v1/webhooks/${all.id}"`);
    expect(webhooks).toContain("No deliveries yet.");
    for (const secret of [own.secret, all.secret, theirs.secret]) expect(settings.text).not.toContain(secret);
    // The form: a URL, the events as checkboxes in a fieldset with its legend, and a place for the secret shown once.
    expect(webhooks).toContain('<label for="webhook-url">URL</label>');
    expect(webhooks).toMatch(/<fieldset data-pointer="\/events"[^>]*><legend>Events<\/legend>/);
    expect([...webhooks.matchAll(/<input type="checkbox" id="webhook-event-[a-z-]+" name="events"/g)]).toHaveLength(8);
    expect(webhooks).toMatch(/<div id="webhook-secret-output" class="secret" hidden="">/);
    expect(webhooks).toContain("Copy webhook secret");
  });

  it("shows each webhook's 10 newest deliveries with status, attempts, last status code and error, escaped", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const hook = await addWebhook(team.apiKey, { url: "https://hooks.example.com/d", events: ["message.created"], chatbot_id: bot.id });
    const start = Date.parse("2026-04-01T10:00:00Z");
    const made = Array.from({ length: 12 }, (_, i) => ({
      id: newId("dlv", start + i * 60_000),
      webhook_id: hook.id,
      event_id: newId("evt", start + i * 60_000),
      event_type: "message.created" as const,
      payload: "{}",
      created_at: new Date(start + i * 60_000).toISOString(),
    }));
    await insertDeliveries(env.DB, made);
    const newest = made[11]!;
    await recordAttempt(env.DB, newest.id, { status: "failed", statusCode: 502, error: `${HOSTILE.join(" ")}`, now: newest.created_at });
    await recordAttempt(env.DB, made[10]!.id, { status: "delivered", statusCode: 200, error: null, now: "2026-04-01T10:10:30.000Z" });
    const settings = await page(`/dashboard/chatbots/${bot.id}`, await signIn(team.apiKey, "/dashboard/chatbots"));
    const webhooks = sectionOf(settings.text, "webhooks");
    expect([...webhooks.matchAll(/<tr data-delivery-status=/g)]).toHaveLength(10);
    expect(webhooks).toMatch(
      /<tr data-delivery-status="failed">.*?<td class="delivery-failed">Failed<\/td><td class="count">1<\/td><td>502<\/td>/s,
    );
    expect(webhooks).toMatch(/<tr data-delivery-status="delivered">.*?Delivered<\/td>.*?2026-04-01 10:10 UTC/s);
    expect(webhooks).toContain('<td class="delivery-pending">Pending</td>');
    expect(webhooks).not.toContain("<script>alert(1)");
    expect(webhooks).toContain(
      '<bdi dir="auto">&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img src=x onerror=alert(1)&gt; \u202Eevil</bdi>',
    );
    // Newest first; the two oldest are past the 10 shown.
    expect(webhooks.indexOf("2026-04-01 10:11 UTC")).toBeLessThan(webhooks.indexOf("2026-04-01 10:02 UTC"));
    expect(webhooks).not.toContain("2026-04-01 10:01 UTC");
  });

  it("reads the settings page in eight statements after the session's, however many webhooks", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    for (let i = 0; i < 5; i++) await addWebhook(team.apiKey, { url: `https://hooks.example.com/${i}`, events: ["message.created"] });
    await addTrigger(team.apiKey, bot.id, { on: "conversation_started", action: { type: "end_conversation" } });
    for (let i = 0; i < 3; i++) await addAction(team.apiKey, { name: `Action ${i}`, code: "export default async () => 1;" });
    const cookie = await signIn(team.apiKey, "/dashboard/chatbots");
    const { result, statements } = await countD1Statements(() => page(`/dashboard/chatbots/${bot.id}`, cookie));
    expect(result.status).toBe(200);
    // The session's key, the chatbot, its triggers, the team's webhooks, their recent deliveries,
    // its actions, its newest conversations, the actions' last runs.
    expect(statements).toBe(8);
  });

  it("stays a bounded page at the limits: 50 triggers, 20 webhooks of long URLs, 10 deliveries each with long errors", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    for (let i = 0; i < 50; i++) {
      await addTrigger(team.apiKey, bot.id, { on: "conversation_started", action: { type: "send_message", text: "m".repeat(10_000) } });
    }
    const start = Date.parse("2026-04-01T10:00:00Z");
    for (let w = 0; w < 20; w++) {
      const hook = await addWebhook(team.apiKey, {
        url: `https://hooks.example.com/${"p".repeat(1_900)}${w}`,
        events: ["message.created"],
        chatbot_id: bot.id,
      });
      const made = Array.from({ length: 12 }, (_, i) => ({
        id: newId("dlv", start + i * 1000 + w),
        webhook_id: hook.id,
        event_id: newId("evt", start + i * 1000 + w),
        event_type: "message.created" as const,
        payload: "{}",
        created_at: new Date(start).toISOString(),
      }));
      await insertDeliveries(env.DB, made);
      for (const delivery of made) {
        await recordAttempt(env.DB, delivery.id, { status: "failed", statusCode: 500, error: "e".repeat(2_000), now: delivery.created_at });
      }
    }
    const cookie = await signIn(team.apiKey, "/dashboard/chatbots");
    const { result, statements } = await countD1Statements(() => page(`/dashboard/chatbots/${bot.id}`, cookie));
    // No actions here: their runs are not read.
    expect(statements).toBe(7);
    expect([...result.text.matchAll(/<tr data-delivery-status=/g)]).toHaveLength(200);
    expect(new TextEncoder().encode(result.text).length).toBeLessThan(260 * 1024);
  });

  it("shows a read key's session the triggers and webhooks without any control that changes them", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    await addTrigger(team.apiKey, bot.id, { on: "conversation_started", action: { type: "send_message", text: "Welcome!" } });
    await addWebhook(team.apiKey, { url: "https://hooks.example.com/ro", events: ["message.created"], chatbot_id: bot.id });
    const settings = await page(`/dashboard/chatbots/${bot.id}`, await signIn(await readKeyOf(team.apiKey), "/dashboard/chatbots"));
    expect(settings.status).toBe(200);
    const triggers = sectionOf(settings.text, "triggers");
    const webhooks = sectionOf(settings.text, "webhooks");
    expect(triggers).toContain("Welcome!");
    expect(webhooks).toContain("https://hooks.example.com/ro");
    for (const html of [triggers, webhooks]) {
      expect(html).not.toContain("data-confirm");
      expect(html).not.toContain("<form");
      expect(html).not.toContain("Delete");
    }
    expect(triggers).not.toContain(">Change</th>");
    expect(settings.text).not.toContain("webhook-secret-output");
  });
});

async function addAction(apiKey: string, body: Record<string, unknown>) {
  const response = await call("POST", "/v1/actions", { token: apiKey, body });
  expect(response.status, response.text).toBe(201);
  return response.json as { id: string; version: number };
}

/** A session's write to the API, as the page's scripts send it. */
function sessionWrite(cookie: string, method: string, path: string, body: unknown) {
  return exports.default.fetch(
    new Request(BASE + path, {
      method,
      headers: { Cookie: cookie, Origin: BASE, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

describe("dashboard chatbot actions", () => {
  it("lists this chatbot's actions and those for every chatbot, with editor, run form and create form", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const otherBot = await createChatbot(team.apiKey, { name: "Other bot" });
    const own = await addAction(team.apiKey, {
      name: "Lookup",
      code: "export default async () => 1;",
      chatbot_id: bot.id,
      allowed_hosts: ["api.example.com", "127.0.0.1:9000"],
      timeout_ms: 2500,
    });
    const shared = await addAction(team.apiKey, { name: "Shared one", code: "export default async () => 2;" });
    const foreign = await addAction(team.apiKey, {
      name: "Other bots only",
      code: "export default async () => 3;",
      chatbot_id: otherBot.id,
    });
    const stranger = await createTeam();
    const theirs = await addAction(stranger.apiKey, { name: "Their action", code: "export default async () => 4;" });
    const conversations: string[] = [];
    for (let i = 0; i < 22; i++) conversations.push((await startConversationWith(bot.id)).conversation_id);
    const elsewhere = await startConversationWith(otherBot.id);
    const settings = await page(`/dashboard/chatbots/${bot.id}`, await signIn(team.apiKey, "/dashboard/chatbots"));
    expect(settings.status).toBe(200);
    const html = sectionOf(settings.text, "custom-actions");
    expect(html).toContain('<h2 id="custom-actions-heading">Actions</h2>');
    expect(html).toContain(own.id);
    expect(html).toContain(shared.id);
    expect(html).not.toContain(foreign.id);
    expect(html).not.toContain(theirs.id);
    expect(html).toMatch(new RegExp(`<textarea id="action-${own.id}-hosts"[^>]*>api.example.com\n127.0.0.1:9000</textarea>`));
    expect(html).toMatch(new RegExp(`<input id="action-${own.id}-timeout"[^>]*value="2500"`));
    expect(html).toContain(`data-action-edit="true" data-action-id="${own.id}"`);
    expect(html).toContain(`aria-label="Delete: action Lookup"`);
    expect(html).toContain(`<label for="action-${own.id}-run-conversation">Conversation</label>`);
    // The chatbot's 20 newest conversations, and "no conversation" for a dry run.
    const options = [
      ...html
        .slice(html.indexOf(`id="action-${own.id}-run-conversation"`))
        .split("</select>")[0]!
        .matchAll(/<option value="([^"]*)"/g),
    ];
    expect(options.map((match) => match[1])).toEqual(["", ...conversations.slice(-20).reverse()]);
    expect(html).not.toContain(elsewhere.conversation_id);
    expect(html).toContain("No runs yet.");
    expect(html).toContain("Create action</h3>");
  });

  it("shows the last five runs with result, error and logs, recorded for a session's run and a failed one", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const action = await addAction(team.apiKey, {
      name: "Echo",
      chatbot_id: bot.id,
      code: 'export default async (context) => { console.log("echo", JSON.stringify(context.input)); if (context.input === "fail") throw new Error("asked to fail"); return { got: context.input, conversation: context.conversation_id }; };',
    });
    const started = await startConversationWith(bot.id);
    const cookie = await signIn(team.apiKey, "/dashboard/chatbots");
    const ran = await sessionWrite(cookie, "POST", `/v1/actions/${action.id}/run`, {
      conversation_id: started.conversation_id,
      input: "<b>hi</b>",
    });
    expect(ran.status).toBe(200);
    const failed = await sessionWrite(cookie, "POST", `/v1/actions/${action.id}/run`, { input: "fail" });
    expect(failed.status).toBe(422);
    const html = sectionOf((await page(`/dashboard/chatbots/${bot.id}`, cookie)).text, "custom-actions");
    const runs = html.slice(html.indexOf(`id="action-${action.id}-runs"`));
    expect(runs.indexOf("asked to fail")).toBeGreaterThan(-1);
    // Newest first: the failed dry run, then the run against the conversation.
    expect(runs.indexOf("asked to fail")).toBeLessThan(runs.indexOf("&lt;b&gt;hi&lt;/b&gt;"));
    expect(runs).toContain("no conversation");
    expect(runs).toContain(`href="/dashboard/conversations/${started.conversation_id}"`);
    expect(runs).toContain("echo &quot;&lt;b&gt;hi&lt;/b&gt;&quot;");
    expect(runs).toContain("&quot;got&quot;: &quot;&lt;b&gt;hi&lt;/b&gt;&quot;");
    expect(runs).not.toContain("<b>hi</b>");
    for (let i = 0; i < 6; i++) expect((await sessionWrite(cookie, "POST", `/v1/actions/${action.id}/run`, { input: i })).status).toBe(200);
    const again = sectionOf((await page(`/dashboard/chatbots/${bot.id}`, cookie)).text, "custom-actions");
    const lastRuns = again.slice(again.indexOf(`id="action-${action.id}-runs"`));
    expect([...lastRuns.matchAll(/<li class="run-(ok|failed)"/g)]).toHaveLength(5);
    expect(lastRuns).not.toContain("asked to fail");
  });

  it("renders hostile names, code, hosts and logs as text", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const hostile = HOSTILE.join(" ");
    const action = await addAction(team.apiKey, {
      name: hostile.slice(0, 100),
      chatbot_id: bot.id,
      code: `// ${hostile}\nexport default async () => { console.log(${JSON.stringify(hostile)}); return ${JSON.stringify("x".repeat(50_000))}; };`,
    });
    expect((await call("POST", `/v1/actions/${action.id}/run`, { token: team.apiKey, body: {} })).status).toBe(200);
    for (const cookie of [
      await signIn(team.apiKey, "/dashboard/chatbots"),
      await signIn(await readKeyOf(team.apiKey), "/dashboard/chatbots"),
    ]) {
      const settings = await page(`/dashboard/chatbots/${bot.id}`, cookie);
      expect(settings.status).toBe(200);
      expect(settings.text).not.toContain("<script>alert(1)</script>");
      expect(settings.text).not.toContain("<img src=x");
      expect(settings.text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
      // The stored result is cut; the page stays small.
      expect(new TextEncoder().encode(settings.text).length).toBeLessThan(120 * 1024);
    }
  });

  it("shows a read key's session the actions and their runs without any control", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const action = await addAction(team.apiKey, {
      name: "Lookup",
      chatbot_id: bot.id,
      code: "export default async () => 41 + 1;",
      allowed_hosts: ["api.example.com"],
    });
    expect((await call("POST", `/v1/actions/${action.id}/run`, { token: team.apiKey, body: {} })).status).toBe(200);
    const html = sectionOf(
      (await page(`/dashboard/chatbots/${bot.id}`, await signIn(await readKeyOf(team.apiKey), "/dashboard/chatbots"))).text,
      "custom-actions",
    );
    expect(html).toContain("export default async () =&gt; 41 + 1;");
    expect(html).toContain("api.example.com");
    expect(html).toContain('<pre class="run-text"><bdi dir="auto">42</bdi></pre>');
    expect(html).not.toContain("<form");
    expect(html).not.toContain("data-confirm");
    expect(html).not.toContain("<textarea");
    expect(html).not.toContain("<button");
  });

  it("a session's PATCH with a syntax error answers 400 with the line and column under /code", async () => {
    const team = await createTeam();
    const action = await addAction(team.apiKey, { name: "Lookup", code: "export default async () => 1;" });
    const response = await sessionWrite(await signIn(team.apiKey, "/dashboard/chatbots"), "PATCH", `/v1/actions/${action.id}`, {
      code: "export default async () => {\n  return 1 +;\n};",
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { pointer: string; message: string }[] };
    expect(problem.errors[0]!.pointer).toBe("/code");
    expect(problem.errors[0]!.message).toMatch(/line 2, column \d+/);
  });
});
