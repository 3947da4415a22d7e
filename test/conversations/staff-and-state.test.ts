import { describe, expect, it } from "vitest";
import {
  call,
  createChatbot,
  createTeam,
  expectFieldErrors,
  expectProblem,
  sendMessage,
  sendMessageOk,
  startConversation,
  startConversationWith,
} from "../support/api";

describe("bot and agent messages (POST /v1/conversations/:id/messages)", () => {
  it("stores a bot message by default and an agent's when asked, visible to the widget", async () => {
    const { team, conversation_id, token } = await startConversation();
    const bot = await call("POST", `/v1/conversations/${conversation_id}/messages`, {
      token: team.apiKey,
      body: { text: "Hello from our bot" },
    });
    expect(bot.status).toBe(201);
    expect(bot.json.message).toMatchObject({ role: "bot", text: "Hello from our bot" });
    const agent = await call("POST", `/v1/conversations/${conversation_id}/messages`, {
      token: team.apiKey,
      body: { text: "Ana here", role: "agent" },
    });
    expect(agent.json.message.role).toBe("agent");
    const seen = await call("GET", `/v1/widget/conversations/${conversation_id}/messages`, { token });
    expect(seen.json.messages.map((m: { role: string; text: string }) => `${m.role}:${m.text}`)).toEqual([
      "bot:Hello from our bot",
      "agent:Ana here",
    ]);
  });

  it("stores a retried message once (client_message_id) and refuses bad input", async () => {
    const { team, conversation_id } = await startConversation();
    const body = { text: "once", client_message_id: "bot-1" };
    const first = await call("POST", `/v1/conversations/${conversation_id}/messages`, { token: team.apiKey, body });
    const again = await call("POST", `/v1/conversations/${conversation_id}/messages`, { token: team.apiKey, body });
    expect(again.status).toBe(200);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    for (const [bad, pointer] of [
      [{ text: "" }, "/text"],
      [{ text: "x", role: "visitor" }, "/role"],
      [{ text: "x", role: "system" }, "/role"],
      [{ text: "x", client_message_id: "" }, "/client_message_id"],
      [{ text: "x", extra: 1 }, "/extra"],
    ] as const) {
      expectFieldErrors(await call("POST", `/v1/conversations/${conversation_id}/messages`, { token: team.apiKey, body: bad }), [pointer]);
    }
    const messages = await call("GET", `/v1/conversations/${conversation_id}/messages`, { token: team.apiKey });
    expect(messages.json.messages).toHaveLength(1);
  });

  it("answers 404 for another team's conversation", async () => {
    const { conversation_id } = await startConversation();
    const stranger = await createTeam();
    expectProblem(
      await call("POST", `/v1/conversations/${conversation_id}/messages`, { token: stranger.apiKey, body: { text: "x" } }),
      404,
    );
  });
});

describe("conversation state (PATCH /v1/conversations/:id)", () => {
  it("ends, labels and reopens a conversation; GET and the list index show it", async () => {
    const { team, chatbot, conversation_id } = await startConversation();
    const ended = await call("PATCH", `/v1/conversations/${conversation_id}`, {
      token: team.apiKey,
      body: { status: "ended", outcome: "purchase" },
    });
    expect(ended.status).toBe(200);
    expect(ended.json).toMatchObject({ id: conversation_id, status: "ended", outcome: "purchase" });
    expect(Date.parse(ended.json.ended_at)).not.toBeNaN();
    const again = await call("PATCH", `/v1/conversations/${conversation_id}`, { token: team.apiKey, body: { status: "ended" } });
    expect(again.json.ended_at).toBe(ended.json.ended_at);
    const got = await call("GET", `/v1/conversations/${conversation_id}`, { token: team.apiKey });
    expect(got.json).toMatchObject({ status: "ended", outcome: "purchase", ended_at: ended.json.ended_at });
    const reopened = await call("PATCH", `/v1/conversations/${conversation_id}`, {
      token: team.apiKey,
      body: { status: "open", outcome: null },
    });
    expect(reopened.json).toMatchObject({ status: "open", outcome: null, ended_at: null });
    const listed = await call("GET", `/v1/conversations?chatbot_id=${chatbot.id}`, { token: team.apiKey });
    expect(listed.json.conversations[0].id).toBe(conversation_id);
  });

  it("refuses a bad status or outcome with 400 naming the field", async () => {
    const { team, conversation_id } = await startConversation();
    for (const [body, pointer] of [
      [{ status: "closed" }, "/status"],
      [{ outcome: "Hand Off" }, "/outcome"],
      [{ outcome: "x".repeat(65) }, "/outcome"],
      [{ outcome: "" }, "/outcome"],
      [{ colour: "red" }, "/colour"],
    ] as const) {
      expectFieldErrors(await call("PATCH", `/v1/conversations/${conversation_id}`, { token: team.apiKey, body }), [pointer]);
    }
  });

  it("answers a widget message to an ended conversation with 409 conversation-ended and stores nothing", async () => {
    const { team, conversation_id, token } = await startConversation();
    await sendMessageOk(conversation_id, token, { text: "before", client_message_id: "w-1" });
    await call("PATCH", `/v1/conversations/${conversation_id}`, { token: team.apiKey, body: { status: "ended" } });
    const refused = await sendMessage(conversation_id, token, { text: "after" });
    expect(expectProblem(refused, 409).type).toBe("/problems/conversation-ended");
    // A retry of a message stored before the end still answers as the first time.
    expect((await sendMessage(conversation_id, token, { text: "before", client_message_id: "w-1" })).status).toBe(200);
    const messages = await call("GET", `/v1/conversations/${conversation_id}/messages`, { token: team.apiKey });
    expect(messages.json.messages.map((m: { text: string }) => m.text)).not.toContain("after");
  });
});

describe("stand_in_replies", () => {
  it("defaults to true; false leaves visitor messages for the team's own bot", async () => {
    const team = await createTeam();
    const quiet = await createChatbot(team.apiKey, { name: "Own bot", stand_in_replies: false });
    expect(quiet).toMatchObject({ stand_in_replies: false });
    const started = await startConversationWith(quiet.id);
    const sent = await sendMessageOk(started.conversation_id, started.token, { text: "hi" });
    expect(sent.json.reply).toBeUndefined();
    const messages = await call("GET", `/v1/conversations/${started.conversation_id}/messages`, { token: team.apiKey });
    expect(messages.json.messages.map((m: { role: string }) => m.role)).toEqual(["visitor"]);
    const loud = await createChatbot(team.apiKey);
    expect(loud).toMatchObject({ stand_in_replies: true });
    const patched = await call("PATCH", `/v1/chatbots/${quiet.id}`, { token: team.apiKey, body: { stand_in_replies: true } });
    expect(patched.json.stand_in_replies).toBe(true);
  });
});
