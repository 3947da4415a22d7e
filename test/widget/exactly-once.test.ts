import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, expectFieldErrors, getConversation, sendMessage, startConversation, visitorTexts } from "../support/api";
import { costOf } from "../support/cost";

const objectOf = (conversationId: string) => env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId));

describe("exactly-once widget messages (client_message_id)", () => {
  it("stores a retried message once and answers the retry with the first answer", async () => {
    const { team, conversation_id, token } = await startConversation();
    const body = { text: "order #12", client_message_id: "m-1", data: { plan: "pro" } };
    const first = await sendMessage(conversation_id, token, body);
    expect(first.status).toBe(201);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    const retry = await sendMessage(conversation_id, token, body);
    expect(retry.status).toBe(200);
    expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
    expect(retry.json).toEqual(first.json);
    expect(costOf(retry).doRowsWritten).toBe(0);
    expect(await visitorTexts(team.apiKey, conversation_id)).toEqual(["order #12"]);
  });

  it("changes nothing on a retry that carries other data, and the conversation goes on after it", async () => {
    const { team, conversation_id, token } = await startConversation({ data: { plan: "free" } });
    const first = await sendMessage(conversation_id, token, { text: "one", client_message_id: "r-1", data: { plan: "pro" } });
    expect(first.status).toBe(201);
    // The retry's data would change a pair, add a key and a customer field: none of it is kept.
    const retry = await sendMessage(conversation_id, token, {
      text: "one",
      client_message_id: "r-1",
      data: { plan: "enterprise", extra: "x", email: "someone@example.com" },
      timezone: "Europe/Paris",
    });
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual(first.json);
    expect(costOf(retry)).toMatchObject({ doRowsRead: 1, doRowsWritten: 0, d1RowsWritten: 0 });
    const conversation = await getConversation(team.apiKey, conversation_id);
    expect(conversation.metadata).toEqual({ "chat-widget:plan": "pro" });
    const next = await sendMessage(conversation_id, token, { text: "two", client_message_id: "r-2", data: { plan: "pro" } });
    expect(next.status).toBe(201);
    expect(next.json.reply.text).toContain("This conversation holds 1 metadata key.");
    const listed = await call("GET", `/v1/widget/conversations/${conversation_id}/messages`, { token });
    expect(listed.json.messages.map((message: { id: string }) => message.id)).toEqual([
      first.json.message.id,
      first.json.reply.id,
      next.json.message.id,
      next.json.reply.id,
    ]);
    expect(await visitorTexts(team.apiKey, conversation_id)).toEqual(["one", "two"]);
  });

  it("stores concurrent duplicates once", async () => {
    const { team, conversation_id, token } = await startConversation();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => sendMessage(conversation_id, token, { text: "same", client_message_id: "dup" })),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((answer) => JSON.stringify(answer.json))).size).toBe(1);
    expect(await visitorTexts(team.apiKey, conversation_id)).toEqual(["same"]);
  });

  it("remembers ids across an object restart, and per conversation only", async () => {
    const { team, conversation_id, token } = await startConversation();
    const other = await startConversation();
    expect((await sendMessage(conversation_id, token, { text: "a", client_message_id: "keep" })).status).toBe(201);
    await evictDurableObject(objectOf(conversation_id));
    expect((await sendMessage(conversation_id, token, { text: "a", client_message_id: "keep" })).status).toBe(200);
    expect((await sendMessage(other.conversation_id, other.token, { text: "a", client_message_id: "keep" })).status).toBe(201);
    expect(await visitorTexts(team.apiKey, conversation_id)).toEqual(["a"]);
  });

  it("refuses a malformed client_message_id with 400 and stores nothing", async () => {
    const { team, conversation_id, token } = await startConversation();
    for (const id of ["", "x".repeat(65), "tab\there", "é", 5]) {
      expectFieldErrors(await sendMessage(conversation_id, token, { text: "no", client_message_id: id }), ["/client_message_id"]);
    }
    expect(await visitorTexts(team.apiKey, conversation_id)).toEqual([]);
  });

  it("costs one index row over a message without it, and nothing more to read", async () => {
    const { conversation_id, token } = await startConversation();
    const plain = costOf(await sendMessage(conversation_id, token, { text: "one" }));
    const keyed = costOf(await sendMessage(conversation_id, token, { text: "two", client_message_id: "c-2" }));
    // Measured, not assumed: the figures go in docs/conversations.md.
    expect(keyed.doRowsWritten).toBeGreaterThanOrEqual(plain.doRowsWritten);
    expect(keyed.doRowsWritten - plain.doRowsWritten).toBeLessThanOrEqual(1);
    expect(keyed.doRowsRead - plain.doRowsRead).toBeLessThanOrEqual(1);
    const response = await call("GET", `/v1/widget/conversations/${conversation_id}/messages`, { token });
    expect(response.json.messages.map((message: { text: string }) => message.text)).toContain("two");
  });
});
