import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { EVENT_TYPES, newEventId } from "../../src/webhooks/events";
import { publishEvents } from "../../src/webhooks/publish";
import { MAX_WEBHOOKS } from "../../src/webhooks/routes";
import { BASE, call, createChatbot, createTeam, expectFieldErrors, expectProblem } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { readResponse } from "../support/responses";
import { createWebhook, deliveriesOf, HOOK_URL, recordingQueue } from "./support";

/** The Worker under another deployment's variables (ALLOW_LOCAL_WEBHOOKS). */
async function callWith(vars: Record<string, string>, method: string, path: string, token: string, body?: unknown) {
  const ctx = createExecutionContext();
  const request = new Request(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const response = await app.fetch(request, { ...env, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return readResponse(response);
}

function base64Bytes(text: string): number {
  return atob(text).length;
}

describe("POST /v1/webhooks", () => {
  it("creates a webhook and shows its secret this once: whsec_ and the base64 of 32 random bytes", async () => {
    const team = await createTeam();
    const response = await call("POST", "/v1/webhooks", {
      token: team.apiKey,
      body: { url: HOOK_URL, events: ["participant.data.updated", "participant.created", "participant.created"] },
    });
    expect(response.status, response.text).toBe(201);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const created = response.json;
    expect(Object.keys(created).sort()).toEqual(["chatbot_id", "created_at", "events", "id", "secret", "url"]);
    expect(created.id).toMatch(/^wh_[0-9a-z]{26}$/);
    expect(response.headers.get("Location")).toBe(`/v1/webhooks/${created.id}`);
    expect(created).toMatchObject({ url: HOOK_URL, chatbot_id: null, events: ["participant.created", "participant.data.updated"] });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(base64Bytes(created.secret.slice("whsec_".length))).toBe(32);
    const other = await createWebhook(team.apiKey);
    expect(other.secret).not.toBe(created.secret);

    // Never again: not on a read, not in a list, and not in plain text in the database.
    const read = await call("GET", `/v1/webhooks/${created.id}`, { token: team.apiKey });
    expect(read.status).toBe(200);
    expect(read.json).toEqual({ id: created.id, url: HOOK_URL, events: created.events, chatbot_id: null, created_at: created.created_at });
    const list = await call("GET", "/v1/webhooks", { token: team.apiKey });
    expect(list.text).not.toContain(created.secret.slice(6));
    expect(list.json.webhooks.map((webhook: { id: string }) => webhook.id)).toEqual([created.id, other.id]);
    const row = await env.DB.prepare("SELECT secret FROM webhooks WHERE id = ?").bind(created.id).first<{ secret: string }>();
    expect(row!.secret).toMatch(/^v1\./);
    expect(row!.secret).not.toContain(created.secret.slice(6));
  });

  it("takes every event type the design lists", async () => {
    const team = await createTeam();
    expect(EVENT_TYPES).toEqual([
      "conversation.started",
      "message.created",
      "conversation.metadata.updated",
      "conversation.ended",
      "conversation.inactive",
      "participant.created",
      "participant.data.updated",
      "schedule.fired",
    ]);
    const created = await createWebhook(team.apiKey, { events: [...EVENT_TYPES].reverse() });
    expect(created.events).toEqual(EVENT_TYPES);
  });

  it("subscribes to one chatbot of the team; another team's chatbot and junk answer 404", async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    expect((await createWebhook(team.apiKey, { chatbot_id: chatbot.id })).chatbot_id).toBe(chatbot.id);
    expect((await createWebhook(team.apiKey, { chatbot_id: null })).chatbot_id).toBeNull();
    const intruder = await createTeam();
    for (const chatbotId of [chatbot.id, "cb_00000000000000000000000000", "junk"]) {
      const refused = await call("POST", "/v1/webhooks", {
        token: intruder.apiKey,
        body: { url: HOOK_URL, events: ["message.created"], chatbot_id: chatbotId },
      });
      expect(expectProblem(refused, 404).detail).toBe("No chatbot with that id.");
    }
    expect((await call("GET", "/v1/webhooks", { token: intruder.apiKey })).json.webhooks).toEqual([]);
  });

  it("names each invalid field, and stores nothing", async () => {
    const team = await createTeam();
    const post = (body: unknown) => call("POST", "/v1/webhooks", { token: team.apiKey, body });
    expectFieldErrors(await post({ url: HOOK_URL, events: [] }), ["/events"]);
    expectFieldErrors(await post({ url: HOOK_URL, events: ["participant.created", "participant.deleted"] }), ["/events/1"]);
    expectFieldErrors(await post({ url: HOOK_URL, events: "message.created" }), ["/events"]);
    expectFieldErrors(await post({ events: ["message.created"] }), ["/url"]);
    expectFieldErrors(await post({ url: 42, events: ["message.created"] }), ["/url"]);
    expectFieldErrors(await post({ url: HOOK_URL, events: ["message.created"], secret: "whsec_mine" }), ["/secret"]);
    expectFieldErrors(await post({ url: HOOK_URL, events: ["message.created"], chatbot_id: 7 }), ["/chatbot_id"]);
    expect(expectProblem(await call("POST", "/v1/webhooks", { token: team.apiKey, rawBody: "{" }), 400).type).toBe(
      "/problems/malformed-json",
    );
    expect(expectProblem(await call("POST", "/v1/webhooks", { token: team.apiKey, rawBody: "x".repeat(17 * 1024) }), 413).type).toBe(
      "/problems/payload-too-large",
    );
    expect((await call("GET", "/v1/webhooks", { token: team.apiKey })).json.webhooks).toEqual([]);
  });

  it("refuses every URL the rules refuse with 400 at /url: scheme, credentials, loopback, private, link-local, unspecified, multicast", async () => {
    const team = await createTeam();
    const urls = [
      "http://hooks.example.com/x",
      "ftp://hooks.example.com/x",
      "hooks.example.com/x",
      "https://user:secret@hooks.example.com/x",
      "http://127.0.0.1:9000/hook",
      "https://localhost/hook",
      "https://[::1]/hook",
      "https://2130706433/hook",
      "https://10.1.2.3/hook",
      "https://172.20.0.1/hook",
      "https://192.168.0.10/hook",
      "https://[fd00::1]/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://[fe80::1]/hook",
      "https://0.0.0.0/hook",
      "https://224.0.0.251/hook",
      "https://[ff02::1]/hook",
      "https://[::ffff:10.0.0.1]/hook",
    ];
    for (const url of urls) {
      const refused = await call("POST", "/v1/webhooks", { token: team.apiKey, body: { url, events: ["message.created"] } });
      expectFieldErrors(refused, ["/url"]);
    }
    expect((await call("GET", "/v1/webhooks", { token: team.apiKey })).json.webhooks).toEqual([]);
  });

  it("takes http to loopback hosts only where the deployment sets ALLOW_LOCAL_WEBHOOKS=true, and private addresses never", async () => {
    const team = await createTeam();
    const allowed = { ALLOW_LOCAL_WEBHOOKS: "true" };
    for (const url of ["http://127.0.0.1:9000/hook", "http://localhost:8080/hook", "http://[::1]:7000/hook"]) {
      const created = await callWith(allowed, "POST", "/v1/webhooks", team.apiKey, { url, events: ["message.created"] });
      expect(created.status, `${url}: ${created.text}`).toBe(201);
      expect(created.json.url).toBe(new URL(url).href);
    }
    for (const url of ["http://hooks.example.com/x", "http://10.0.0.1/hook", "https://192.168.1.1/hook", "https://169.254.169.254/"]) {
      expectFieldErrors(await callWith(allowed, "POST", "/v1/webhooks", team.apiKey, { url, events: ["message.created"] }), ["/url"]);
    }
    for (const value of ["false", "1", "yes", ""]) {
      const refused = await callWith({ ALLOW_LOCAL_WEBHOOKS: value }, "POST", "/v1/webhooks", team.apiKey, {
        url: "http://127.0.0.1:9000/hook",
        events: ["message.created"],
      });
      expectFieldErrors(refused, ["/url"]);
    }
  });

  it(`holds a team to ${MAX_WEBHOOKS} webhooks (409), and a deletion frees a place`, async () => {
    const team = await createTeam();
    const made = [];
    for (let i = 0; i < MAX_WEBHOOKS; i++) made.push(await createWebhook(team.apiKey, { url: `${HOOK_URL}/${i}` }));
    const refused = await call("POST", "/v1/webhooks", { token: team.apiKey, body: { url: HOOK_URL, events: ["message.created"] } });
    expect(expectProblem(refused, 409)).toMatchObject({ type: "/problems/conflict", limit: MAX_WEBHOOKS });
    expect((await call("DELETE", `/v1/webhooks/${made[0]!.id}`, { token: team.apiKey })).status).toBe(204);
    await createWebhook(team.apiKey);
  });
});

describe("GET and DELETE /v1/webhooks/:id", () => {
  it("deletes a webhook: 204, then 404 on every route of it, and gone from the list", async () => {
    const team = await createTeam();
    const kept = await createWebhook(team.apiKey);
    const gone = await createWebhook(team.apiKey);
    const deleted = await call("DELETE", `/v1/webhooks/${gone.id}`, { token: team.apiKey });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    for (const [method, path] of [
      ["GET", `/v1/webhooks/${gone.id}`],
      ["GET", `/v1/webhooks/${gone.id}/deliveries`],
      ["DELETE", `/v1/webhooks/${gone.id}`],
    ] as const) {
      expect(expectProblem(await call(method, path, { token: team.apiKey }), 404).detail).toBe("No webhook with that id.");
    }
    expect((await call("GET", "/v1/webhooks", { token: team.apiKey })).json.webhooks.map((w: { id: string }) => w.id)).toEqual([kept.id]);
  });

  it("answers junk and missing ids 404", async () => {
    const team = await createTeam();
    for (const id of ["junk", "wh_00000000000000000000000000", "WH_00000000000000000000000000"]) {
      expectProblem(await call("GET", `/v1/webhooks/${id}`, { token: team.apiKey }), 404);
      expectProblem(await call("DELETE", `/v1/webhooks/${id}`, { token: team.apiKey }), 404);
    }
  });
});

describe("GET /v1/webhooks/:id/deliveries", () => {
  it("lists deliveries newest first, in pages", async () => {
    const team = await createTeam();
    const webhook = await createWebhook(team.apiKey, { events: ["participant.created", "participant.data.updated"] });
    expect(await deliveriesOf(team.apiKey, webhook.id)).toEqual({ deliveries: [], next_cursor: null });
    const start = Date.parse("2026-03-01T00:00:00.000Z");
    const events = Array.from({ length: 5 }, (_, i) => ({
      id: newEventId(start + i * 1000),
      type: i % 2 === 0 ? ("participant.created" as const) : ("participant.data.updated" as const),
      teamId: team.id,
      chatbotId: null,
      timestamp: new Date(start + i * 1000).toISOString(),
      data: { n: i },
    }));
    await publishEvents(recordingQueue().env, events);

    const first = await deliveriesOf(team.apiKey, webhook.id, "?limit=2");
    expect(first.deliveries).toHaveLength(2);
    expect(Object.keys(first.deliveries[0]!).sort()).toEqual([
      "attempts",
      "created_at",
      "delivered_at",
      "event_type",
      "id",
      "last_error",
      "last_status_code",
      "status",
    ]);
    expect(first.deliveries[0]).toMatchObject({
      event_type: "participant.created",
      status: "pending",
      attempts: 0,
      last_status_code: null,
      last_error: null,
      delivered_at: null,
    });
    const second = await deliveriesOf(team.apiKey, webhook.id, `?limit=2&cursor=${first.next_cursor}`);
    const third = await deliveriesOf(team.apiKey, webhook.id, `?limit=2&cursor=${second.next_cursor}`);
    expect(third.next_cursor).toBeNull();
    const types = [...first.deliveries, ...second.deliveries, ...third.deliveries].map((delivery) => delivery.event_type);
    expect(types).toEqual([
      "participant.created",
      "participant.data.updated",
      "participant.created",
      "participant.data.updated",
      "participant.created",
    ]);
    const all = (await deliveriesOf(team.apiKey, webhook.id)).deliveries.map((delivery) => delivery.id);
    expect(all).toEqual([...all].sort().reverse());
    expect(all).toEqual([...first.deliveries, ...second.deliveries, ...third.deliveries].map((delivery) => delivery.id));
  });

  it("refuses a bad cursor or limit with 400", async () => {
    const team = await createTeam();
    const webhook = await createWebhook(team.apiKey);
    for (const query of ["?cursor=junk", "?limit=0", "?limit=101", "?limit=x", "?status=failed"]) {
      expect(expectProblem(await call("GET", `/v1/webhooks/${webhook.id}/deliveries${query}`, { token: team.apiKey }), 400).type).toBe(
        "/problems/validation-failed",
      );
    }
  });
});

describeApiKeyAuth({
  setup: async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const webhook = await createWebhook(team.apiKey);
    return { team, ids: { webhook: webhook.id, chatbot: chatbot.id }, secrets: [webhook.secret.slice(6)] };
  },
  routes: [
    {
      method: "POST",
      path: () => "/v1/webhooks",
      body: ({ chatbot }) => ({ url: HOOK_URL, events: ["message.created"], chatbot_id: chatbot }),
    },
    { method: "GET", path: () => "/v1/webhooks", teamWide: true },
    { method: "GET", path: ({ webhook }) => `/v1/webhooks/${webhook}` },
    { method: "DELETE", path: ({ webhook }) => `/v1/webhooks/${webhook}` },
    { method: "GET", path: ({ webhook }) => `/v1/webhooks/${webhook}/deliveries` },
  ],
  unchanged: async ({ team, ids }) => {
    const list = await call("GET", "/v1/webhooks", { token: team.apiKey });
    expect(list.json.webhooks.map((webhook: { id: string }) => webhook.id)).toEqual([ids.webhook]);
  },
});
