import { describe, expect, it } from "vitest";
import { MESSAGE_TEXT_MAX_CODE_POINTS } from "../../src/conversations/model";
import { call, expectFieldErrors, expectProblem, sendMessage, sendMessageOk, startConversation } from "../support/api";

function listMessages(conversationId: string, token: string, query = "") {
  return call("GET", `/v1/widget/conversations/${conversationId}/messages${query}`, { token });
}

describe("POST /v1/widget/conversations/:id/messages", () => {
  it("stores the message and answers with it and its metadata outcome", async () => {
    const conversation = await startConversation();
    const response = await sendMessage(conversation.conversation_id, conversation.token, {
      text: "Where is my order?",
      data: { order: "A-1" },
    });
    expect(response.status).toBe(201);
    expect(response.json.message).toEqual({
      id: expect.stringMatching(/^msg_[0-9a-z]{26}$/),
      role: "visitor",
      text: "Where is my order?",
      created_at: expect.any(String),
    });
    expect(response.json.metadata).toEqual({ accepted: ["order"], rejected: [], warnings: [] });
    expect(response.json.reply).toMatchObject({ role: "bot", text: expect.stringContaining("chat-widget:order") });
  });

  it("needs no data", async () => {
    const conversation = await startConversation();
    const response = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "just text" });
    expect(response.json.metadata).toEqual({ accepted: [], rejected: [], warnings: [] });
  });

  it("names the failing fields", async () => {
    const conversation = await startConversation();
    const send = (body: unknown) =>
      call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, { token: conversation.token, body });
    expectFieldErrors(await send({}), ["/text"]);
    expectFieldErrors(await send({ text: "" }), ["/text"]);
    expectFieldErrors(await send({ text: " \n\t " }), ["/text"]);
    expectFieldErrors(await send({ text: 12 }), ["/text"]);
    expectFieldErrors(await send({ text: "hi", data: [["a", "b"]] }), ["/data"]);
    // A timezone that is not a string is a warning, not a lost message (test/widget/hostile-input.test.ts).
    expectFieldErrors(await send({ text: "\ud800 lone surrogate" }), ["/text"]);
    expectFieldErrors(await send(null), [""]);
    // None of them was stored.
    expect((await listMessages(conversation.conversation_id, conversation.token)).json.messages).toEqual([]);
  });

  it("admits text up to its limit in code points, astral characters counting one", async () => {
    const conversation = await startConversation();
    const atLimit = "𝒜".repeat(MESSAGE_TEXT_MAX_CODE_POINTS);
    expect((await sendMessage(conversation.conversation_id, conversation.token, { text: atLimit })).status).toBe(201);
    expectFieldErrors(await sendMessage(conversation.conversation_id, conversation.token, { text: `${atLimit}a` }), ["/text"]);
  });

  it("answers malformed JSON with 400", async () => {
    const conversation = await startConversation();
    const response = await call("POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
      token: conversation.token,
      rawBody: '{"text": "hi",}',
    });
    expect(expectProblem(response, 400).type).toBe("/problems/malformed-json");
  });

  it("stores odd text verbatim", async () => {
    const conversation = await startConversation();
    const texts = ['<script>alert("x")</script>', "a\u0000b", "שלום 👋🏽 e\u0301", "line\r\nbreak"];
    for (const text of texts) await sendMessageOk(conversation.conversation_id, conversation.token, { text });
    const visitor = (await listMessages(conversation.conversation_id, conversation.token)).json.messages.filter(
      (message: { role: string }) => message.role === "visitor",
    );
    expect(visitor.map((message: { text: string }) => message.text)).toEqual(texts);
  });
});

describe("GET /v1/widget/conversations/:id/messages", () => {
  it("lists messages oldest first, the visitor's and the bot's", async () => {
    const conversation = await startConversation();
    const first = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "one" });
    const second = await sendMessageOk(conversation.conversation_id, conversation.token, { text: "two" });
    const response = await listMessages(conversation.conversation_id, conversation.token);
    expect(response.status).toBe(200);
    const messages = response.json.messages;
    expect(messages.map((message: { role: string }) => message.role)).toEqual(["visitor", "bot", "visitor", "bot"]);
    expect(messages[0]).toEqual(first.json.message);
    expect(messages[1]).toEqual(first.json.reply);
    expect(messages[2]).toEqual(second.json.message);
    for (const message of messages) expect(Object.keys(message).sort()).toEqual(["created_at", "id", "role", "text"]);
  });

  it("pages with after and limit", async () => {
    const conversation = await startConversation();
    for (const text of ["a", "b", "c"]) await sendMessageOk(conversation.conversation_id, conversation.token, { text });
    const all = (await listMessages(conversation.conversation_id, conversation.token)).json;
    expect(all.messages).toHaveLength(6);
    expect(all.next_cursor).toBeNull();

    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: any = (await listMessages(conversation.conversation_id, conversation.token, `?limit=4${after ? `&after=${after}` : ""}`))
        .json;
      expect(page.messages.length).toBeLessThanOrEqual(4);
      seen.push(...page.messages.map((message: { id: string }) => message.id));
      after = page.next_cursor;
    } while (after);
    expect(seen).toEqual(all.messages.map((message: { id: string }) => message.id));
  });

  it("validates the query", async () => {
    const conversation = await startConversation();
    for (const limit of ["0", "1001", "abc", "1.5"]) {
      expectFieldErrors(await listMessages(conversation.conversation_id, conversation.token, `?limit=${limit}`), ["/limit"]);
    }
  });
});
