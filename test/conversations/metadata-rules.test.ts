import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, flushProjection, getConversation, manyPairs, sendMessageOk, startConversation, visitorTexts } from "../support/api";

/** A conversation and a `send(data)` that posts one message carrying `data`. */
async function conversationWith(startData: Record<string, unknown> = {}) {
  const conversation = await startConversation({ data: startData });
  return {
    ...conversation,
    send: async (data: Record<string, unknown>, text = "message") =>
      (await sendMessageOk(conversation.conversation_id, conversation.token, { text, data })).json.metadata,
    sendRaw: async (json: string) => {
      const response = await call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
        token: conversation.token,
        rawBody: json,
      });
      expect(response.status).toBe(201);
      return response.json.metadata;
    },
    stored: async (): Promise<Record<string, string>> =>
      (await getConversation(conversation.team.apiKey, conversation.conversation_id)).metadata,
    visitorTexts: () => visitorTexts(conversation.team.apiKey, conversation.conversation_id),
  };
}

describe("rule 1: prefix mapping", () => {
  it("stores each key as chat-widget:<key>", async () => {
    const conversation = await conversationWith();
    await conversation.send({ user_id: "u-1", "octocom:data:nested": "kept as sent", "a:b": "c" });
    expect(await conversation.stored()).toEqual({
      "chat-widget:user_id": "u-1",
      "chat-widget:octocom:data:nested": "kept as sent",
      "chat-widget:a:b": "c",
    });
  });

  it("rejects an empty key with key_empty and keeps the rest", async () => {
    const conversation = await conversationWith();
    expect(await conversation.send({ "": "nothing", fine: "yes" })).toEqual({
      accepted: ["fine"],
      rejected: [{ key: "", reason: "key_empty" }],
      warnings: [],
    });
    expect(await conversation.stored()).toEqual({ "chat-widget:fine": "yes" });
  });
});

describe("rule 2: strings only", () => {
  it("rejects each non-string value with value_not_string; the message and valid pairs are stored", async () => {
    const conversation = await conversationWith();
    const answer = await conversation.send(
      { number: 42, zero: 0, nothing: null, object: { a: 1 }, list: ["a"], yes: true, no: false, good: "string", json: '{"a":1}' },
      "mixed bag",
    );
    expect(answer.accepted).toEqual(["good", "json"]);
    expect(answer.rejected).toEqual(
      ["number", "zero", "nothing", "object", "list", "yes", "no"].map((key) => ({ key, reason: "value_not_string" })),
    );
    expect(await conversation.stored()).toEqual({ "chat-widget:good": "string", "chat-widget:json": '{"a":1}' });
    expect(await conversation.visitorTexts()).toEqual(["mixed bag"]);
  });

  it("stores HTML- and script-shaped values verbatim", async () => {
    const conversation = await conversationWith();
    const values = {
      script: "<script>alert(1)</script>",
      attribute: '"><img src=x onerror=alert(1)>',
      entity: "&lt;b&gt; &amp; &#x3C;",
      template: "{{constructor.constructor('alert(1)')()}}",
      sql: "'); DROP TABLE metadata; --",
    };
    expect((await conversation.send(values)).accepted).toEqual(Object.keys(values));
    const stored = await conversation.stored();
    for (const [key, value] of Object.entries(values)) expect(stored[`chat-widget:${key}`]).toBe(value);
    const one = await call("GET", `/v1/conversations/${conversation.conversation_id}/metadata/chat-widget:attribute`, {
      token: conversation.team.apiKey,
    });
    expect(one.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(one.json.value).toBe(values.attribute);
  });

  it("keeps odd Unicode intact, in the object and in the D1 projection", async () => {
    const conversation = await conversationWith();
    const values: Record<string, string> = {
      emoji: "👩‍👩‍👧‍👦 🇱🇹 👋🏽",
      rtl: "مرحبا بالعالم \u202eevil\u202c",
      combining: "e\u0301 Z\u0351\u0311\u0300",
      nul: "before\u0000after",
      only_nul: "\u0000",
      bom: "\ufeffstart",
      "ключ 🔑": "value under a non-ASCII key",
    };
    expect((await conversation.send(values)).accepted).toEqual(Object.keys(values));
    const expected = Object.fromEntries(Object.entries(values).map(([key, value]) => [`chat-widget:${key}`, value]));
    expect(await conversation.stored()).toEqual(expected);

    await flushProjection(conversation.conversation_id);
    const projection = await env.DB.prepare("SELECT key, value FROM conversation_metadata WHERE conversation_id = ?")
      .bind(conversation.conversation_id)
      .all<{ key: string; value: string }>();
    expect(Object.fromEntries(projection.results.map((row) => [row.key, row.value]))).toEqual(expected);
  });

  it("tells values apart after a NUL (no C-string comparison)", async () => {
    const conversation = await conversationWith();
    await conversation.send({ nul: "same\u0000one" });
    await conversation.send({ nul: "same\u0000two" });
    expect((await conversation.stored())["chat-widget:nul"]).toBe("same\u0000two");
    await flushProjection(conversation.conversation_id);
    const row = await env.DB.prepare("SELECT value FROM conversation_metadata WHERE conversation_id = ? AND key = ?")
      .bind(conversation.conversation_id, "chat-widget:nul")
      .first<{ value: string }>();
    expect(row!.value).toBe("same\u0000two");
  });

  it("keeps keys that differ only after a NUL apart", async () => {
    const conversation = await conversationWith();
    expect((await conversation.send({ "n\u0000a": "first", "n\u0000b": "second" })).accepted).toEqual(["n\u0000a", "n\u0000b"]);
    expect(await conversation.stored()).toEqual({ "chat-widget:n\u0000a": "first", "chat-widget:n\u0000b": "second" });
    await flushProjection(conversation.conversation_id);
    const rows = await env.DB.prepare("SELECT key FROM conversation_metadata WHERE conversation_id = ? ORDER BY key")
      .bind(conversation.conversation_id)
      .all<{ key: string }>();
    expect(rows.results.map((row) => row.key)).toEqual(["chat-widget:n\u0000a", "chat-widget:n\u0000b"]);
  });

  it("handles __proto__ and constructor as ordinary keys", async () => {
    const conversation = await conversationWith();
    const answer = await conversation.sendRaw(
      '{"text":"proto","data":{"__proto__":"p","constructor":"c","toString":"t","hasOwnProperty":"h"}}',
    );
    expect(answer.accepted).toEqual(["__proto__", "constructor", "toString", "hasOwnProperty"]);
    const stored = await conversation.stored();
    expect(Object.keys(stored).sort()).toEqual(
      ["chat-widget:__proto__", "chat-widget:constructor", "chat-widget:hasOwnProperty", "chat-widget:toString"].sort(),
    );
    expect(stored["chat-widget:__proto__"]).toBe("p");
  });

  it("does not let a __proto__ value reach other keys", async () => {
    const conversation = await conversationWith();
    const answer = await conversation.sendRaw('{"text":"proto","data":{"__proto__":{"polluted":"yes"},"fine":"ok"}}');
    expect(answer.rejected).toEqual([{ key: "__proto__", reason: "value_not_string" }]);
    expect(await conversation.stored()).toEqual({ "chat-widget:fine": "ok" });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("rejects keys and values that are not well-formed Unicode, keeping the message", async () => {
    const conversation = await conversationWith();
    const answer = await conversation.sendRaw('{"text":"lone surrogates","data":{"k\\ud800":"v","v":"\\udc00x","ok":"yes"}}');
    expect(answer.accepted).toEqual(["ok"]);
    expect(answer.rejected).toEqual([
      { key: "k\ud800", reason: "key_invalid_unicode" },
      { key: "v", reason: "value_invalid_unicode" },
    ]);
    expect(await conversation.visitorTexts()).toEqual(["lone surrogates"]);
  });
});

describe("rule 3: limits in code points", () => {
  it("admits a stored key of 200 code points and rejects 201 (raw key 188 vs 189)", async () => {
    const conversation = await conversationWith();
    const answer = await conversation.send({ ["a".repeat(188)]: "fits", ["b".repeat(189)]: "too long" });
    expect(answer.accepted).toEqual(["a".repeat(188)]);
    expect(answer.rejected).toEqual([{ key: "b".repeat(189), reason: "key_too_long" }]);
    expect(Object.keys(await conversation.stored())).toEqual([`chat-widget:${"a".repeat(188)}`]);
  });

  it("counts an astral character in a key as one", async () => {
    const conversation = await conversationWith();
    const fits = "𝒜".repeat(188); // 376 UTF-16 units, 188 code points
    const tooLong = "𝒜".repeat(189);
    const mixed = `${"a".repeat(187)}😀`;
    const answer = await conversation.send({ [fits]: "1", [tooLong]: "2", [mixed]: "3" });
    expect(answer.accepted).toEqual([fits, mixed]);
    expect(answer.rejected).toEqual([{ key: tooLong, reason: "key_too_long" }]);
    const stored = await conversation.stored();
    expect(stored[`chat-widget:${fits}`]).toBe("1");
    expect(stored[`chat-widget:${mixed}`]).toBe("3");
  });

  it("admits a value of 50,000 code points and rejects 50,001", async () => {
    const conversation = await conversationWith();
    const answer = await conversation.send({ fits: "x".repeat(50_000), over: "y".repeat(50_001) });
    expect(answer.accepted).toEqual(["fits"]);
    expect(answer.rejected).toEqual([{ key: "over", reason: "value_too_long" }]);
    expect((await conversation.stored())["chat-widget:fits"]).toHaveLength(50_000);
  });

  it("counts astral characters in values as one", async () => {
    const conversation = await conversationWith();
    const fits = "𝒜".repeat(50_000); // 100,000 UTF-16 units
    const over = "𝒜".repeat(50_001);
    // 50,001 UTF-16 units but 50,000 code points: the limit is not in UTF-16 units.
    const mixed = `${"m".repeat(49_999)}😀`;
    const answer = await conversation.send({ fits, over, mixed });
    expect(answer.accepted).toEqual(["fits", "mixed"]);
    expect(answer.rejected).toEqual([{ key: "over", reason: "value_too_long" }]);
    const stored = await conversation.stored();
    expect(stored["chat-widget:fits"] === fits).toBe(true);
    expect(stored["chat-widget:mixed"] === mixed).toBe(true);
  });

  it("accepts the 200th pair and rejects the 201st with pair_limit_reached", async () => {
    const conversation = await conversationWith(manyPairs(199));
    expect(conversation.metadata.accepted).toHaveLength(199);
    const answer = await conversation.send({ two_hundredth: "in", two_hundred_first: "out", also_out: "out" });
    expect(answer.accepted).toEqual(["two_hundredth"]);
    expect(answer.rejected).toEqual([
      { key: "two_hundred_first", reason: "pair_limit_reached" },
      { key: "also_out", reason: "pair_limit_reached" },
    ]);
    const stored = await conversation.stored();
    expect(Object.keys(stored)).toHaveLength(200);
    expect(stored["chat-widget:two_hundredth"]).toBe("in");
    expect(stored).not.toHaveProperty("chat-widget:two_hundred_first");
  });

  it("still accepts updates and unchanged pairs at the cap", async () => {
    const conversation = await conversationWith(manyPairs(200));
    const answer = await conversation.send({ k000: "updated", k001: "v", k199: "updated too", brand_new: "no room" });
    expect(answer.accepted).toEqual(["k000", "k001", "k199"]);
    expect(answer.rejected).toEqual([{ key: "brand_new", reason: "pair_limit_reached" }]);
    const stored = await conversation.stored();
    expect(Object.keys(stored)).toHaveLength(200);
    expect(stored["chat-widget:k000"]).toBe("updated");
    expect(stored["chat-widget:k199"]).toBe("updated too");
  });

  it("counts special keys toward the cap", async () => {
    const conversation = await conversationWith(manyPairs(200));
    const answer = await conversation.send({ email: "late@example.com" });
    expect(answer.rejected).toEqual([{ key: "email", reason: "pair_limit_reached" }]);
    const read = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(read.customer.email).toBeNull();
  });

  it("does not count rejected pairs toward the cap", async () => {
    const conversation = await conversationWith(manyPairs(199));
    const answer = await conversation.send({ bad: 1, "": "x", ["z".repeat(189)]: "long", last: "fits" });
    expect(answer.accepted).toEqual(["last"]);
    expect(Object.keys(await conversation.stored())).toHaveLength(200);
  });

  it("frees a place when the API deletes a key", async () => {
    const conversation = await conversationWith(manyPairs(200));
    expect((await conversation.send({ newcomer: "x" })).rejected).toHaveLength(1);
    const deleted = await call("DELETE", `/v1/conversations/${conversation.conversation_id}/metadata/chat-widget:k000`, {
      token: conversation.team.apiKey,
    });
    expect(deleted.status).toBe(204);
    expect((await conversation.send({ newcomer: "x", another: "y" })).accepted).toEqual(["newcomer"]);
  });
});

describe("rule 4: upsert", () => {
  it("replaces a value sent again and lists unchanged keys as accepted", async () => {
    const conversation = await conversationWith({ plan: "free", user_id: "7" });
    const answer = await conversation.send({ plan: "pro", user_id: "7" });
    expect(answer).toEqual({ accepted: ["plan", "user_id"], rejected: [], warnings: [] });
    expect(await conversation.stored()).toEqual({ "chat-widget:plan": "pro", "chat-widget:user_id": "7" });
  });

  it("keeps keys that are no longer sent", async () => {
    const conversation = await conversationWith({ first: "1" });
    await conversation.send({ second: "2" });
    await conversation.send({});
    await conversation.send({ third: "3" });
    expect(await conversation.stored()).toEqual({ "chat-widget:first": "1", "chat-widget:second": "2", "chat-widget:third": "3" });
  });

  it("keeps the stored value when a new one is refused", async () => {
    const conversation = await conversationWith({ plan: "free" });
    const answer = await conversation.send({ plan: 5 });
    expect(answer.rejected).toEqual([{ key: "plan", reason: "value_not_string" }]);
    expect((await conversation.stored())["chat-widget:plan"]).toBe("free");
  });

  it("stores an empty string value", async () => {
    const conversation = await conversationWith({ cleared: "something" });
    expect((await conversation.send({ cleared: "" })).accepted).toEqual(["cleared"]);
    expect((await conversation.stored())["chat-widget:cleared"]).toBe("");
  });
});
