import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  call,
  createChatbot,
  createTeam,
  expectFieldErrors,
  expectProblem,
  flushProjection,
  getConversation,
  manyPairs,
  sendMessageOk,
  startConversation,
  startConversationWith,
} from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";

const metadataPath = (conversationId: string, key: string) => `/v1/conversations/${conversationId}/metadata/${encodeURIComponent(key)}`;

async function projection(conversationId: string) {
  const rows = await env.DB.prepare("SELECT key, value FROM conversation_metadata WHERE conversation_id = ?")
    .bind(conversationId)
    .all<{ key: string; value: string }>();
  return Object.fromEntries(rows.results.map((row) => [row.key, row.value]));
}

describe("GET /v1/conversations", () => {
  it("lists a chatbot's conversations in pages that cover all without overlap", async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const otherChatbot = await createChatbot(team.apiKey);
    const started: string[] = [];
    for (let i = 0; i < 7; i++) started.push((await startConversationWith(chatbot.id)).conversation_id);
    await startConversationWith(otherChatbot.id);

    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const response = await call("GET", `/v1/conversations?chatbot_id=${chatbot.id}&limit=3${cursor ? `&cursor=${cursor}` : ""}`, {
        token: team.apiKey,
      });
      expect(response.status).toBe(200);
      pages.push(response.json.conversations.map((conversation: { id: string }) => conversation.id));
      cursor = response.json.next_cursor;
      if (pages.length > 5) throw new Error("pagination does not end");
    } while (cursor);

    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...started].sort());
  });

  it("ends with next_cursor null on an exactly full page", async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    for (let i = 0; i < 2; i++) await startConversationWith(chatbot.id);
    const response = await call("GET", `/v1/conversations?chatbot_id=${chatbot.id}&limit=2`, { token: team.apiKey });
    expect(response.json.conversations).toHaveLength(2);
    expect(response.json.next_cursor).toBeNull();
  });

  it("shows each conversation's index fields, with counts after the flush", async () => {
    const conversation = await startConversation();
    await sendMessageOk(conversation.conversation_id, conversation.token, { text: "hello" });
    await flushProjection(conversation.conversation_id);
    const response = await call("GET", `/v1/conversations?chatbot_id=${conversation.chatbot.id}`, { token: conversation.team.apiKey });
    expect(response.json.conversations).toEqual([
      {
        id: conversation.conversation_id,
        chatbot_id: conversation.chatbot.id,
        channel: "web",
        participant_id: conversation.participant_id,
        started_at: expect.any(String),
        last_message_at: expect.any(String),
        message_count: 2,
      },
    ]);
  });

  it("never shows another team's conversations", async () => {
    const mine = await startConversation();
    const theirs = await startConversation();
    const all = await call("GET", "/v1/conversations?limit=100", { token: mine.team.apiKey });
    expect(all.json.conversations.map((conversation: { id: string }) => conversation.id)).toEqual([mine.conversation_id]);
    // Another team's chatbot answers as a missing one does, as participants do.
    const byTheirChatbot = await call("GET", `/v1/conversations?chatbot_id=${theirs.chatbot.id}`, { token: mine.team.apiKey });
    expect(expectProblem(byTheirChatbot, 404).detail).toBe("No chatbot with that id.");
    const byNoChatbot = await call("GET", "/v1/conversations?chatbot_id=cb_00000000000000000000000000", { token: mine.team.apiKey });
    expect(expectProblem(byNoChatbot, 404).detail).toBe(byTheirChatbot.json.detail);
  });

  it("filters by metadata key and value once flushed to D1", async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const gold = await startConversationWith(chatbot.id, { data: { plan: "gold" } });
    const free = await startConversationWith(chatbot.id, { data: { plan: "free" } });
    const none = await startConversationWith(chatbot.id, { data: { other: "x" } });
    for (const conversation of [gold, free, none]) await flushProjection(conversation.conversation_id);

    const list = async (query: string) =>
      (await call("GET", `/v1/conversations?chatbot_id=${chatbot.id}&${query}`, { token: team.apiKey })).json.conversations
        .map((conversation: { id: string }) => conversation.id)
        .sort();
    expect(await list("metadata_key=chat-widget:plan")).toEqual([gold.conversation_id, free.conversation_id].sort());
    expect(await list("metadata_key=chat-widget:plan&metadata_value=gold")).toEqual([gold.conversation_id]);
    expect(await list("metadata_key=chat-widget:plan&metadata_value=platinum")).toEqual([]);
    expect(await list("metadata_key=plan")).toEqual([]);

    // A later change reaches the filter with the next flush.
    await sendMessageOk(free.conversation_id, free.token, { text: "upgrade", data: { plan: "gold" } });
    await flushProjection(free.conversation_id);
    expect(await list("metadata_key=chat-widget:plan&metadata_value=gold")).toEqual([gold.conversation_id, free.conversation_id].sort());
  });

  it("filters on values holding a NUL exactly", async () => {
    const conversation = await startConversation({ data: { tag: "a\u0000b" } });
    await flushProjection(conversation.conversation_id);
    const list = async (value: string) =>
      (
        await call("GET", `/v1/conversations?metadata_key=chat-widget:tag&metadata_value=${encodeURIComponent(value)}`, {
          token: conversation.team.apiKey,
        })
      ).json.conversations.length;
    expect(await list("a\u0000b")).toBe(1);
    expect(await list("a")).toBe(0);
  });

  it("validates the query", async () => {
    const team = await createTeam();
    for (const limit of ["0", "101", "-1", "abc", "2.5"]) {
      expectFieldErrors(await call("GET", `/v1/conversations?limit=${limit}`, { token: team.apiKey }), ["/limit"]);
    }
    expect((await call("GET", "/v1/conversations?limit=100", { token: team.apiKey })).status).toBe(200);
    expect((await call("GET", "/v1/conversations?limit=1", { token: team.apiKey })).status).toBe(200);
    expectFieldErrors(await call("GET", "/v1/conversations?metadata_key=", { token: team.apiKey }), ["/metadata_key"]);
    expectProblem(await call("GET", "/v1/conversations?metadata_value=gold", { token: team.apiKey }), 400);
  });
});

describe("GET /v1/conversations/:id", () => {
  it("gives the customer, metadata, counts and times", async () => {
    const conversation = await startConversation({ data: { email: "c@example.com", name: "Cat", plan: "pro" } });
    const before = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(before).toEqual({
      id: conversation.conversation_id,
      chatbot_id: conversation.chatbot.id,
      channel: "web",
      participant_id: conversation.participant_id,
      customer: { name: "Cat", email: "c@example.com", phone: null },
      metadata: { "chat-widget:email": "c@example.com", "chat-widget:name": "Cat", "chat-widget:plan": "pro" },
      message_count: 0,
      started_at: expect.any(String),
      last_message_at: null,
      // The conversation's state (second round).
      status: "open",
      outcome: null,
      ended_at: null,
    });

    const sent = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "hi", data: { plan: "max" } });
    // Read straight from the object: no flush needed.
    const after = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(after.message_count).toBe(2);
    expect(after.last_message_at).toBe(sent.json.reply.created_at);
    expect(after.metadata["chat-widget:plan"]).toBe("max");
    expect(after.started_at).toBe(before.started_at);
    expect(Date.parse(after.last_message_at)).toBeGreaterThanOrEqual(Date.parse(after.started_at));
  });

  it("flushes counters and times to the D1 index", async () => {
    const conversation = await startConversation();
    await sendMessageOk(conversation.conversation_id, conversation.token, { text: "one" });
    const sent = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "two" });
    expect(await flushProjection(conversation.conversation_id)).toBe(true);
    const row = await env.DB.prepare("SELECT message_count, last_message_at FROM conversations WHERE id = ?")
      .bind(conversation.conversation_id)
      .first();
    expect(row).toEqual({ message_count: 4, last_message_at: sent.json.reply.created_at });
  });

  it("answers 404 for an unknown id", async () => {
    const team = await createTeam();
    expectProblem(await call("GET", "/v1/conversations/conv_00000000000000000000000000", { token: team.apiKey }), 404);
  });
});

describe("conversation metadata API", () => {
  it("reads all metadata and one key", async () => {
    const conversation = await startConversation({ data: { plan: "pro" } });
    const all = await call("GET", `/v1/conversations/${conversation.conversation_id}/metadata`, { token: conversation.team.apiKey });
    expect(all.status).toBe(200);
    expect(all.json).toEqual({ metadata: { "chat-widget:plan": "pro" } });
    const one = await call("GET", metadataPath(conversation.conversation_id, "chat-widget:plan"), { token: conversation.team.apiKey });
    expect(one.status).toBe(200);
    expect(one.json).toEqual({ key: "chat-widget:plan", value: "pro", updated_at: expect.any(String) });
    expectProblem(
      await call("GET", metadataPath(conversation.conversation_id, "chat-widget:absent"), { token: conversation.team.apiKey }),
      404,
    );
  });

  it("PUT creates (201) then replaces (200) any key", async () => {
    const conversation = await startConversation();
    const apiKey = conversation.team.apiKey;
    const key = "crm:segment / VIP ✨";
    const created = await call("PUT", metadataPath(conversation.conversation_id, key), { token: apiKey, body: { value: "gold" } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ key, value: "gold", updated_at: expect.any(String) });
    const replaced = await call("PUT", metadataPath(conversation.conversation_id, key), { token: apiKey, body: { value: "platinum" } });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({ key, value: "platinum" });
    const same = await call("PUT", metadataPath(conversation.conversation_id, key), { token: apiKey, body: { value: "platinum" } });
    expect(same.status).toBe(200);
    expect((await getConversation(apiKey, conversation.conversation_id)).metadata).toEqual({ [key]: "platinum" });
  });

  it("PUT applies the same limits, answering 422 with the reason", async () => {
    const conversation = await startConversation();
    const apiKey = conversation.team.apiKey;
    const put = (key: string, value: string) =>
      call("PUT", metadataPath(conversation.conversation_id, key), { token: apiKey, body: { value } });

    expect((await put("k".repeat(200), "fits")).status).toBe(201);
    expect(expectProblem(await put("k".repeat(201), "x"), 422)).toMatchObject({ reason: "key_too_long", key: "k".repeat(201) });
    expect((await put(`astral${"𝒜".repeat(194)}`, "fits")).status).toBe(201);
    expect(expectProblem(await put(`astral${"𝒜".repeat(195)}`, "x"), 422).reason).toBe("key_too_long");

    expect((await put("long", "𝒜".repeat(50_000))).status).toBe(201);
    expect(expectProblem(await put("too-long", "v".repeat(50_001)), 422).reason).toBe("value_too_long");
    expect(expectProblem(await put("long", "𝒜".repeat(50_001)), 422).reason).toBe("value_too_long");
    // The refused replacement left the old value.
    const long = await call("GET", metadataPath(conversation.conversation_id, "long"), { token: apiKey });
    expect(long.json.value === "𝒜".repeat(50_000)).toBe(true);
  });

  it("PUT admits a value at the limit however the client escapes its JSON", async () => {
    const conversation = await startConversation();
    // As Python's json.dumps writes it: each astral character a 12-byte surrogate pair escape.
    const escaped = `{"value": "${"\\ud835\\udc9c".repeat(50_000)}"}`;
    expect(escaped.length).toBeGreaterThan(600_000);
    const response = await call("PUT", metadataPath(conversation.conversation_id, "escaped"), {
      token: conversation.team.apiKey,
      rawBody: escaped,
    });
    expect(response.status).toBe(201);
    expect(response.json.value === "𝒜".repeat(50_000)).toBe(true);
  });

  it("PUT refuses a new key at 200 pairs with pair_limit_reached, and replaces existing ones", async () => {
    const conversation = await startConversation({ data: manyPairs(200) });
    const apiKey = conversation.team.apiKey;
    const refused = await call("PUT", metadataPath(conversation.conversation_id, "one-too-many"), { token: apiKey, body: { value: "x" } });
    expect(expectProblem(refused, 422)).toMatchObject({ type: "/problems/metadata-limit", reason: "pair_limit_reached" });
    const replaced = await call("PUT", metadataPath(conversation.conversation_id, "chat-widget:k000"), {
      token: apiKey,
      body: { value: "new" },
    });
    expect(replaced.status).toBe(200);
    expect(Object.keys((await getConversation(apiKey, conversation.conversation_id)).metadata)).toHaveLength(200);
  });

  it("PUT of a special key updates the customer, or warns", async () => {
    const conversation = await startConversation();
    const apiKey = conversation.team.apiKey;
    const good = await call("PUT", metadataPath(conversation.conversation_id, "chat-widget:email"), {
      token: apiKey,
      body: { value: "api@example.com" },
    });
    expect(good.json.warnings).toEqual([]);
    const bad = await call("PUT", metadataPath(conversation.conversation_id, "chat-widget:phone"), {
      token: apiKey,
      body: { value: "nope" },
    });
    expect(bad.status).toBe(201);
    expect(bad.json.warnings).toEqual([{ key: "chat-widget:phone", reason: "invalid_phone" }]);
    expect((await getConversation(apiKey, conversation.conversation_id)).customer).toEqual({
      name: null,
      email: "api@example.com",
      phone: null,
    });
  });

  it("PUT validates its body", async () => {
    const conversation = await startConversation();
    const path = metadataPath(conversation.conversation_id, "k");
    const apiKey = conversation.team.apiKey;
    for (const value of [42, null, true, { a: 1 }, ["a"]]) {
      expectFieldErrors(await call("PUT", path, { token: apiKey, body: { value } }), ["/value"]);
    }
    expectFieldErrors(await call("PUT", path, { token: apiKey, body: {} }), ["/value"]);
    expectFieldErrors(await call("PUT", path, { token: apiKey, body: { value: "v", extra: 1 } }), ["/extra"]);
    expect(expectProblem(await call("PUT", path, { token: apiKey, rawBody: "value=v" }), 400).type).toBe("/problems/malformed-json");
    expectProblem(await call("PUT", path, { token: apiKey, rawBody: JSON.stringify({ value: "v".repeat(640 * 1024) }) }), 413);
    expectProblem(await call("GET", path, { token: apiKey }), 404);
  });

  it("DELETE removes a key (204, then 404) here and from the D1 projection", async () => {
    const conversation = await startConversation({ data: { plan: "pro", keep: "me" } });
    await flushProjection(conversation.conversation_id);
    expect(await projection(conversation.conversation_id)).toEqual({ "chat-widget:plan": "pro", "chat-widget:keep": "me" });

    const path = metadataPath(conversation.conversation_id, "chat-widget:plan");
    const deleted = await call("DELETE", path, { token: conversation.team.apiKey });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    expectProblem(await call("GET", path, { token: conversation.team.apiKey }), 404);
    expectProblem(await call("DELETE", path, { token: conversation.team.apiKey }), 404);
    // Gone from D1 at once, without waiting for the alarm.
    expect(await projection(conversation.conversation_id)).toEqual({ "chat-widget:keep": "me" });
    expect((await getConversation(conversation.team.apiKey, conversation.conversation_id)).metadata).toEqual({ "chat-widget:keep": "me" });
  });

  it("DELETE during a flush still leaves the key out of the projection", async () => {
    const conversation = await startConversation();
    // Over one D1 batch of changed keys, so the flush is still writing when the delete comes.
    await sendMessageOk(conversation.conversation_id, conversation.token, { text: "many", data: manyPairs(60) });
    const stub = env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversation.conversation_id));
    const flushing = flushProjection(conversation.conversation_id);
    const deleting = stub.deleteMetadata("chat-widget:k059");
    expect(await deleting).toBe(true);
    await flushing;
    const left = await projection(conversation.conversation_id);
    expect(Object.keys(left)).toHaveLength(59);
    expect(left).not.toHaveProperty("chat-widget:k059");
  });

  it("a widget message does not bring a deleted key back", async () => {
    const conversation = await startConversation({ data: { plan: "pro" } });
    await call("DELETE", metadataPath(conversation.conversation_id, "chat-widget:plan"), { token: conversation.team.apiKey });
    await sendMessageOk(conversation.conversation_id, conversation.token, { text: "no data" });
    expect((await getConversation(conversation.team.apiKey, conversation.conversation_id)).metadata).toEqual({});
  });
});

describe("GET /v1/conversations/:id/messages", () => {
  it("lists messages oldest first with their roles", async () => {
    const conversation = await startConversation();
    await sendMessageOk(conversation.conversation_id, conversation.token, { text: "first" });
    await sendMessageOk(conversation.conversation_id, conversation.token, { text: "second" });
    const response = await call("GET", `/v1/conversations/${conversation.conversation_id}/messages`, { token: conversation.team.apiKey });
    expect(response.status).toBe(200);
    const messages = response.json.messages;
    expect(messages.map((m: { role: string }) => m.role)).toEqual(["visitor", "bot", "visitor", "bot"]);
    expect(messages[0].text).toBe("first");
    expect(messages[2].text).toBe("second");
    const times = messages.map((m: { created_at: string }) => Date.parse(m.created_at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it("pages with after and limit", async () => {
    const conversation = await startConversation();
    for (const text of ["a", "b"]) await sendMessageOk(conversation.conversation_id, conversation.token, { text });
    const path = `/v1/conversations/${conversation.conversation_id}/messages`;
    const first = (await call("GET", `${path}?limit=3`, { token: conversation.team.apiKey })).json;
    expect(first.messages).toHaveLength(3);
    const second = (await call("GET", `${path}?limit=3&after=${first.next_cursor}`, { token: conversation.team.apiKey })).json;
    expect(second.messages.map((m: { text: string }) => m.text)).toHaveLength(1);
    expect(second.next_cursor).toBeNull();
    expectFieldErrors(await call("GET", `${path}?limit=0`, { token: conversation.team.apiKey }), ["/limit"]);
  });
});

// Another team's key finds none of a conversation's routes (the very 404 of a missing id), reads none
// of its metadata or messages, and no refused request changes them.
describeApiKeyAuth({
  setup: async () => {
    const conversation = await startConversation({ data: { secret: "s3cret" } });
    await sendMessageOk(conversation.conversation_id, conversation.token, { text: "private words" });
    return {
      team: conversation.team,
      ids: { conversation: conversation.conversation_id },
      secrets: ["s3cret", "private words"],
      otherCredentials: { "the conversation's widget token": `Bearer ${conversation.token}` },
    };
  },
  routes: [
    { method: "GET", path: () => "/v1/conversations", teamWide: true },
    { method: "GET", path: ({ conversation }) => `/v1/conversations/${conversation}` },
    { method: "GET", path: ({ conversation }) => `/v1/conversations/${conversation}/metadata` },
    { method: "GET", path: ({ conversation }) => metadataPath(conversation, "chat-widget:secret") },
    { method: "PUT", path: ({ conversation }) => metadataPath(conversation, "chat-widget:secret"), body: () => ({ value: "overwritten" }) },
    { method: "PUT", path: ({ conversation }) => metadataPath(conversation, "planted"), body: () => ({ value: "x" }) },
    { method: "DELETE", path: ({ conversation }) => metadataPath(conversation, "chat-widget:secret") },
    { method: "GET", path: ({ conversation }) => `/v1/conversations/${conversation}/messages` },
  ],
  unchanged: async ({ team, ids }) => {
    expect((await getConversation(team.apiKey, ids.conversation)).metadata).toEqual({ "chat-widget:secret": "s3cret" });
  },
});
