import { describe, expect, it } from "vitest";
import { call, createChatbot, createTeam, sendMessageOk, startConversationWith } from "../support/api";
import { getParticipant } from "../support/participants";

/** The playground's data route, as a visitor's page reads it with its conversation token. */
async function playgroundData(conversationId: string, token: string) {
  const response = await call("GET", `/playground/api/conversations/${conversationId}`, { token });
  expect(response.status).toBe(200);
  return response.json;
}

describe("server-issued visitor ids", () => {
  it("issues a signed visitor id that links the next conversation to the same participant", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    const first = await startConversationWith(bot.id);
    expect(first.visitor_id).toMatch(/^vis_[0-9a-z]{26}\.[A-Za-z0-9_-]{43}$/);
    expect(first.visitor_id.length).toBeLessThanOrEqual(128);
    const again = await startConversationWith(bot.id, { visitor_id: first.visitor_id });
    expect(again.participant_id).toBe(first.participant_id);
    expect(again.visitor_id).toBe(first.visitor_id);
    expect(again.metadata.warnings).toEqual([]);
  });

  it("does not let a guessed identifier take over a participant", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    // A participant known by its web identifier (as an API user or an old widget made it).
    const victim = await call("POST", "/v1/participants", {
      token: team.apiKey,
      body: { chatbot_id: bot.id, channel: "web", identifier: "customer-42", name: "Victim", email: "victim@example.com" },
    });
    expect(victim.status).toBe(201);
    const attacker = await startConversationWith(bot.id, { visitor_id: "customer-42", data: { email: "attacker@example.com" } });
    expect(attacker.participant_id).not.toBe(victim.json.id);
    expect(attacker.visitor_id).not.toBe("customer-42");
    expect(attacker.metadata.warnings).toContainEqual({ key: "visitor_id", reason: "invalid_visitor_id" });
    const data = await playgroundData(attacker.conversation_id, attacker.token);
    expect(data.customer.name).toBeNull();
    expect(data.customer.email).toBe("attacker@example.com");
    await sendMessageOk(attacker.conversation_id, attacker.token, { text: "hi", data: { name: "Mallory" } });
    const untouched = await getParticipant(team.apiKey, victim.json.id);
    expect(untouched).toMatchObject({ name: "Victim", email: "victim@example.com" });
  });

  it("refuses another chatbot's visitor id, a forged signature and junk, each with a fresh id", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    const other = await createChatbot(team.apiKey);
    const foreign = await startConversationWith(other.id);
    const genuine = await startConversationWith(bot.id);
    const [identifier] = genuine.visitor_id.split(".");
    for (const visitorId of [foreign.visitor_id, `${identifier}.${"A".repeat(43)}`, identifier!, "x".repeat(1000), ""]) {
      const started = await startConversationWith(bot.id, { visitor_id: visitorId });
      expect(started.participant_id).not.toBe(genuine.participant_id);
      expect(started.participant_id).not.toBe(foreign.participant_id);
      expect(started.metadata.warnings).toContainEqual({ key: "visitor_id", reason: "invalid_visitor_id" });
    }
  });

  it("shows a visitor only the customer fields its own conversation wrote", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    const first = await startConversationWith(bot.id, { data: { email: "first@example.com" } });
    // The team adds a phone to the participant; a later conversation of the same visitor
    // writes only its name.
    const patched = await call("PATCH", `/v1/participants/${first.participant_id}`, {
      token: team.apiKey,
      body: { phone: "+14155550123" },
    });
    expect(patched.status).toBe(200);
    const second = await startConversationWith(bot.id, { visitor_id: first.visitor_id, data: { name: "Ann" } });
    const shown = await playgroundData(second.conversation_id, second.token);
    expect(shown.customer).toEqual({ name: "Ann", email: null, phone: null, timezone: null });
    // The messages route answers with the stand-in reply: it names only what this conversation wrote.
    const message = await sendMessageOk(second.conversation_id, second.token, { text: "hi" });
    expect(message.json.reply.text).not.toContain("+14155550123");
    expect(message.json.reply.text).not.toContain("first@example.com");
  });
});
