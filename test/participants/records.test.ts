import { describe, expect, it } from "vitest";
import { call, createTeam, expectProblem, startConversation } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { createParticipant, getParticipant, listParticipants, teamWithChatbot } from "../support/participants";

describe("participant records", () => {
  it("creates a participant with ETag and Location, and answers 409 with the existing id", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const created = await call("POST", "/v1/participants", {
      token: apiKey,
      body: {
        chatbot_id: chatbot.id,
        channel: "whatsapp",
        identifier: "+37060000001",
        name: " Ona ",
        timezone: "Europe/Vilnius",
        data: { plan: "pro" },
      },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("ETag")).toBe('"1"');
    expect(created.headers.get("Location")).toBe(`/v1/participants/${created.json.id}`);
    expect(created.json).toMatchObject({
      chatbot_id: chatbot.id,
      channel: "whatsapp",
      identifier: "+37060000001",
      name: "Ona",
      timezone: "Europe/Vilnius",
      email: null,
      phone: null,
      data: { plan: "pro" },
      version: 1,
    });
    expect(Object.keys(created.json).sort()).toEqual(
      [
        "id",
        "chatbot_id",
        "channel",
        "identifier",
        "name",
        "email",
        "phone",
        "timezone",
        "data",
        "version",
        "verified",
        "created_at",
        "updated_at",
      ].sort(),
    );

    const again = await call("POST", "/v1/participants", {
      token: apiKey,
      body: { chatbot_id: chatbot.id, channel: "whatsapp", identifier: "+37060000001", data: { plan: "free" } },
    });
    expect(expectProblem(again, 409).existing).toEqual({ id: created.json.id });
    expect((await getParticipant(apiKey, created.json.id)).data).toEqual({ plan: "pro" });

    // Same identifier on another channel or chatbot is another participant.
    const otherChannel = await call("POST", "/v1/participants", {
      token: apiKey,
      body: { chatbot_id: chatbot.id, channel: "telegram", identifier: "+37060000001" },
    });
    expect(otherChannel.status).toBe(201);
    expect(otherChannel.json.id).not.toBe(created.json.id);
  });

  it("validates the create body, naming the fields", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const bad = async (body: unknown, pointer: string) => {
      const problem = expectProblem(await call("POST", "/v1/participants", { token: apiKey, body }), 400);
      expect(problem.errors.map((e: any) => e.pointer)).toContain(pointer);
      expect(problem.detail).toContain(pointer.slice(1));
    };
    await bad({ chatbot_id: chatbot.id, identifier: "a" }, "/channel");
    await bad({ chatbot_id: chatbot.id, channel: "Web Chat", identifier: "a" }, "/channel");
    await bad({ chatbot_id: chatbot.id, channel: "api", identifier: "" }, "/identifier");
    await bad({ chatbot_id: chatbot.id, channel: "api", identifier: "a", timezone: "Mars/Olympus" }, "/timezone");
    await bad({ chatbot_id: chatbot.id, channel: "api", identifier: "a", data: [1, 2] }, "/data");
    await bad({ chatbot_id: chatbot.id, channel: "api", identifier: "a", email: "not-an-email" }, "/email");
    const unknown = expectProblem(
      await call("POST", "/v1/participants", {
        token: apiKey,
        body: { chatbot_id: chatbot.id, channel: "api", identifier: "a", surprise: 1 },
      }),
      400,
    );
    expect(unknown.detail).toContain("surprise");
    const malformed = await call("POST", "/v1/participants", {
      token: apiKey,
      rawBody: '{"chatbot_id": ',
      headers: { "Content-Type": "application/json" },
    });
    expect(expectProblem(malformed, 400).type).toBe("/problems/malformed-json");
    expect(await listParticipants(apiKey, chatbot.id)).toEqual([]);
  });

  it("answers 404 for a junk id, and lists none of another team's participants", async () => {
    const mine = await teamWithChatbot();
    const theirs = await teamWithChatbot();
    await createParticipant(theirs.apiKey, theirs.chatbot.id, { data: { secret: 1 } });
    const key = mine.apiKey;
    expectProblem(await call("GET", `/v1/participants/not-an-id`, { token: key }), 404);
    const all = await call("GET", "/v1/participants", { token: key });
    expect(all.status).toBe(200);
    expect(all.json.participants).toEqual([]);
  });

  it("lists with filters and cursor pagination in creation order", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await createParticipant(apiKey, chatbot.id, { identifier: `p${i}`, channel: i % 2 ? "sms" : "api" })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await call("GET", `/v1/participants?chatbot_id=${chatbot.id}&limit=2${cursor ? `&cursor=${cursor}` : ""}`, {
        token: apiKey,
      });
      expect(page.status).toBe(200);
      expect(page.json.participants.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.participants.map((p: any) => p.id));
      cursor = page.json.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
    const sms = await call("GET", `/v1/participants?chatbot_id=${chatbot.id}&channel=sms`, { token: apiKey });
    expect(sms.json.participants.map((p: any) => p.identifier)).toEqual(["p1", "p3"]);
    const one = await call("GET", `/v1/participants?chatbot_id=${chatbot.id}&channel=api&identifier=p2`, { token: apiKey });
    expect(one.json.participants.map((p: any) => p.id)).toEqual([ids[2]]);
    expect(one.json.next_cursor).toBeNull();
    expect(expectProblem(await call("GET", `/v1/participants?limit=0`, { token: apiKey }), 400).errors[0].pointer).toBe("/limit");
    expectProblem(await call("GET", `/v1/participants?cursor=bogus`, { token: apiKey }), 400);
  });

  it("gets with ETag and answers If-None-Match with 304", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { a: 1 } });
    const got = await call("GET", `/v1/participants/${p.id}`, { token: apiKey });
    expect(got.headers.get("ETag")).toBe('"1"');
    expect(got.json.data).toEqual({ a: 1 });
    const notModified = await call("GET", `/v1/participants/${p.id}`, { token: apiKey, headers: { "If-None-Match": '"1"' } });
    expect(notModified.status).toBe(304);
  });

  it("patches customer fields: real IANA timezones only, null clears, data version unchanged", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { a: 1 } });
    const patched = await call("PATCH", `/v1/participants/${p.id}`, {
      token: apiKey,
      body: { name: "Jonas", email: "jonas@example.com", phone: "+1 415 555 0123", timezone: "America/New_York" },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({
      name: "Jonas",
      email: "jonas@example.com",
      phone: "+14155550123",
      timezone: "America/New_York",
      version: 1,
    });
    const badZone = await call("PATCH", `/v1/participants/${p.id}`, { token: apiKey, body: { timezone: "Europe/Atlantis" } });
    expect(expectProblem(badZone, 400).errors[0].pointer).toBe("/timezone");
    const badPhone = await call("PATCH", `/v1/participants/${p.id}`, { token: apiKey, body: { phone: "12" } });
    expect(expectProblem(badPhone, 400).errors[0].pointer).toBe("/phone");
    expectProblem(await call("PATCH", `/v1/participants/${p.id}`, { token: apiKey, body: { data: {} } }), 400);
    const cleared = await call("PATCH", `/v1/participants/${p.id}`, { token: apiKey, body: { email: null } });
    expect(cleared.json.email).toBeNull();
    const stored = await getParticipant(apiKey, p.id);
    expect(stored).toMatchObject({ name: "Jonas", email: null, timezone: "America/New_York", version: 1, data: { a: 1 } });
  });

  it("shows web participants made by the widget, with the browser's timezone", async () => {
    const conversation = await startConversation({ timezone: "Asia/Tokyo", data: { name: "Aiko" } });
    const identifier = conversation.visitor_id.split(".")[0];
    const listed = await call("GET", `/v1/participants?chatbot_id=${conversation.chatbot.id}&channel=web&identifier=${identifier}`, {
      token: conversation.team.apiKey,
    });
    expect(listed.json.participants).toHaveLength(1);
    expect(listed.json.participants[0]).toMatchObject({ id: conversation.participant_id, timezone: "Asia/Tokyo", name: "Aiko", data: {} });
    // Another team never sees it.
    const other = await createTeam();
    expectProblem(await call("GET", `/v1/participants/${conversation.participant_id}`, { token: other.apiKey }), 404);
  });

  it("does not let /:id routes take /export, /import or /by-identifier", async () => {
    const { apiKey } = await teamWithChatbot();
    const exported = await call("GET", "/v1/participants/export", { token: apiKey });
    expect(expectProblem(exported, 400).detail).toMatch(/chatbot_id/);
    const imported = await call("POST", "/v1/participants/import", {
      token: apiKey,
      rawBody: "identifier,channel\n",
      headers: { "Content-Type": "text/csv" },
    });
    expect(expectProblem(imported, 400).detail).toMatch(/chatbot_id/);
  });
});

// Another team's key finds neither the team's chatbots nor its participants (the very 404 of a
// missing id), and no refused request creates or changes anyone.
describeApiKeyAuth({
  setup: async () => {
    const { team, apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id, { data: { secret: "s3cret" } });
    return { team, ids: { chatbot: chatbot.id, participant: participant.id }, secrets: ["s3cret"] };
  },
  routes: [
    { method: "POST", path: () => "/v1/participants", body: ({ chatbot }) => ({ chatbot_id: chatbot, channel: "api", identifier: "x" }) },
    { method: "GET", path: ({ chatbot }) => `/v1/participants?chatbot_id=${chatbot}` },
    { method: "GET", path: ({ participant }) => `/v1/participants/${participant}` },
    { method: "PATCH", path: ({ participant }) => `/v1/participants/${participant}`, body: () => ({ name: "Mallory" }) },
  ],
  unchanged: async ({ team, ids }) => {
    expect(await getParticipant(team.apiKey, ids.participant)).toMatchObject({ version: 1, name: null, data: { secret: "s3cret" } });
    expect(await listParticipants(team.apiKey, ids.chatbot)).toHaveLength(1);
  },
});
