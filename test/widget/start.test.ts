import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  call,
  createChatbot,
  createTeam,
  expectFieldErrors,
  expectProblem,
  getConversation,
  startConversation,
  startConversationWith,
} from "../support/api";
import { participantRow } from "../support/participants";

describe("POST /v1/widget/conversations", () => {
  it("starts a conversation with a web participant and a token", async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const response = await call("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbot.id } });
    expect(response.status).toBe(201);
    expect(response.json).toEqual({
      conversation_id: expect.stringMatching(/^conv_[0-9a-z]{26}$/),
      token: expect.stringMatching(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/),
      participant_id: expect.stringMatching(/^part_[0-9a-z]{26}$/),
      visitor_id: expect.stringMatching(/^vis_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/),
      metadata: { accepted: [], rejected: [], warnings: [] },
    });
    const participant = await participantRow(response.json.participant_id);
    const identifier = response.json.visitor_id.split(".")[0];
    expect(participant).toMatchObject({ team_id: team.id, chatbot_id: chatbot.id, channel: "web", identifier });
    const conversation = await env.DB.prepare("SELECT * FROM conversations WHERE id = ?").bind(response.json.conversation_id).first();
    expect(conversation).toMatchObject({
      team_id: team.id,
      chatbot_id: chatbot.id,
      channel: "web",
      participant_id: response.json.participant_id,
    });
  });

  it("makes a visitor id where none is sent", async () => {
    const first = await startConversation();
    const second = await startConversation();
    expect(first.visitor_id).toMatch(/^vis_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/);
    expect(second.visitor_id).not.toBe(first.visitor_id);
    // The participant's identifier is the visitor id without its signature.
    expect((await participantRow(first.participant_id)).identifier).toBe(first.visitor_id.split(".")[0]);
  });

  it("keeps one participant per chatbot and visitor across conversations", async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const otherChatbot = await createChatbot(team.apiKey);
    const first = await startConversationWith(chatbot.id);
    const second = await startConversationWith(chatbot.id, { visitor_id: first.visitor_id });
    // A visitor id is signed for one chatbot: another chatbot issues its own.
    const elsewhere = await startConversationWith(otherChatbot.id, { visitor_id: first.visitor_id });
    expect(second.conversation_id).not.toBe(first.conversation_id);
    expect(second.participant_id).toBe(first.participant_id);
    // Rule 1 of participant data: another chatbot has its own record.
    expect(elsewhere.participant_id).not.toBe(first.participant_id);
  });

  it("stores the starting data as metadata and reports it", async () => {
    const conversation = await startConversation({ data: { user_id: "42", plan: "gold", "": "x", count: 3 } });
    expect(conversation.metadata).toEqual({
      accepted: ["user_id", "plan"],
      rejected: [
        { key: "", reason: "key_empty" },
        { key: "count", reason: "value_not_string" },
      ],
      warnings: [],
    });
    const read = await getConversation(conversation.team.apiKey, conversation.conversation_id);
    expect(read.metadata).toEqual({ "chat-widget:plan": "gold", "chat-widget:user_id": "42" });
  });

  it("stores a valid timezone on the participant", async () => {
    const conversation = await startConversation({ timezone: "Europe/Vilnius" });
    expect(conversation.metadata.warnings).toEqual([]);
    expect((await participantRow(conversation.participant_id)).timezone).toBe("Europe/Vilnius");
  });

  it("warns of an invalid timezone and still starts", async () => {
    const conversation = await startConversation({ timezone: "Mars/Olympus_Mons" });
    expect(conversation.metadata.warnings).toEqual([{ key: "timezone", reason: "invalid_timezone" }]);
    expect((await participantRow(conversation.participant_id)).timezone).toBeNull();
  });

  it("answers 404 for an unknown chatbot", async () => {
    const response = await call("POST", "/v1/widget/conversations", { body: { chatbot_id: "cb_00000000000000000000000000" } });
    expectProblem(response, 404);
  });

  it("names the failing fields", async () => {
    expectFieldErrors(await call("POST", "/v1/widget/conversations", { body: {} }), ["/chatbot_id"]);
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    expectFieldErrors(
      await call("POST", "/v1/widget/conversations", {
        body: { chatbot_id: chatbot.id, visitor_id: 12, data: ["a"] },
      }),
      ["/visitor_id", "/data"],
    );
    expectFieldErrors(await call("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbot.id, data: "a=b" } }), ["/data"]);
    expectFieldErrors(await call("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbot.id, data: null } }), ["/data"]);
  });

  it("answers malformed JSON with 400", async () => {
    const response = await call("POST", "/v1/widget/conversations", {
      rawBody: '{"chatbot_id": ',
      headers: { "Content-Type": "application/json" },
    });
    expect(expectProblem(response, 400).type).toBe("/problems/malformed-json");
  });
});
