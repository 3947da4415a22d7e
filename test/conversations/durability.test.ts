import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  call,
  createChatbot,
  createTeam,
  expectProblem,
  failD1,
  flushProjection,
  sendMessage,
  sendMessageOk,
  startConversation,
  visitorTexts,
} from "../support/api";
import { getParticipant } from "../support/participants";

const objectOf = (conversationId: string) => env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId));

async function filterFinds(apiKey: string, chatbotId: string, key: string): Promise<string[]> {
  const response = await call("GET", `/v1/conversations?chatbot_id=${chatbotId}&metadata_key=${encodeURIComponent(key)}`, {
    token: apiKey,
  });
  expect(response.status).toBe(200);
  return response.json.conversations.map((conversation: { id: string }) => conversation.id);
}

describe("no acknowledged write lost, no projection gap", () => {
  it("keeps revisions monotonic across a restart, so a key written after a delete reaches the projection", async () => {
    const { team, chatbot, conversation_id, token } = await startConversation();
    const put = (key: string) =>
      call("PUT", `/v1/conversations/${conversation_id}/metadata/${key}`, { token: team.apiKey, body: { value: "v" } });
    expect((await put("rev-a")).status).toBe(201);
    expect((await put("rev-b")).status).toBe(201);
    await flushProjection(conversation_id);
    expect((await call("DELETE", `/v1/conversations/${conversation_id}/metadata/rev-b`, { token: team.apiKey })).status).toBe(204);
    await evictDurableObject(objectOf(conversation_id));
    expect((await put("rev-c")).status).toBe(201);
    await flushProjection(conversation_id);
    expect(await filterFinds(team.apiKey, chatbot.id, "rev-c")).toEqual([conversation_id]);
    expect(await filterFinds(team.apiKey, chatbot.id, "rev-b")).toEqual([]);
    await sendMessageOk(conversation_id, token, { text: "after", data: { later: "yes" } });
    await flushProjection(conversation_id);
    expect(await filterFinds(team.apiKey, chatbot.id, "chat-widget:later")).toEqual([conversation_id]);
  });

  it("keeps a customer change D1 refused in an outbox, says so, and retries it from the alarm", async () => {
    const { team, conversation_id, token, participant_id } = await startConversation();
    const restore = failD1(/^UPDATE participants SET/, 1);
    let answer: Awaited<ReturnType<typeof sendMessage>>;
    try {
      answer = await sendMessage(conversation_id, token, {
        text: "my email",
        data: { email: "late@example.com" },
        client_message_id: "out-1",
      });
    } finally {
      restore();
    }
    expect(answer.status).toBe(201);
    expect(answer.json.metadata.accepted).toEqual(["email"]);
    expect(answer.json.metadata.warnings).toContainEqual({ key: "email", reason: "customer_update_pending" });
    expect((await getParticipant(team.apiKey, participant_id)).email).toBeNull();
    // A replay of the message tells the same truth.
    const replay = await sendMessage(conversation_id, token, {
      text: "my email",
      data: { email: "late@example.com" },
      client_message_id: "out-1",
    });
    expect(replay.json).toEqual(answer.json);
    // Even across a restart, the alarm retries until D1 has it.
    await evictDurableObject(objectOf(conversation_id));
    expect(await runDurableObjectAlarm(objectOf(conversation_id))).toBe(true);
    expect((await getParticipant(team.apiKey, participant_id)).email).toBe("late@example.com");
  });

  it("retries while D1 stays down, and lands once it is back", async () => {
    const { team, conversation_id, token, participant_id } = await startConversation();
    const restore = failD1(/^UPDATE participants SET/);
    try {
      await sendMessageOk(conversation_id, token, { text: "x", data: { name: "Persistent" } });
      expect(await runDurableObjectAlarm(objectOf(conversation_id))).toBe(true);
      expect((await getParticipant(team.apiKey, participant_id)).name).toBeNull();
    } finally {
      restore();
    }
    expect(await runDurableObjectAlarm(objectOf(conversation_id))).toBe(true);
    expect((await getParticipant(team.apiKey, participant_id)).name).toBe("Persistent");
  });

  it("leaves no half-made conversation when start's D1 batch fails", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    const restore = failD1(/^INSERT INTO conversations/, 1);
    let response: Awaited<ReturnType<typeof call>>;
    try {
      response = await call("POST", "/v1/widget/conversations", { body: { chatbot_id: bot.id, data: { plan: "pro" } } });
    } finally {
      restore();
    }
    expectProblem(response, 503);
    expect(response.json.type).toBe("/problems/storage-unavailable");
    expect(response.headers.get("Retry-After")).toBe("1");
    const listed = await call("GET", `/v1/conversations?chatbot_id=${bot.id}`, { token: team.apiKey });
    expect(listed.json.conversations).toEqual([]);
    const participants = await call("GET", `/v1/participants?chatbot_id=${bot.id}`, { token: team.apiKey });
    expect(participants.json.participants).toEqual([]);
    // The retry works.
    expect((await call("POST", "/v1/widget/conversations", { body: { chatbot_id: bot.id } })).status).toBe(201);
  });

  it("loses nothing when the object restarts between messages", async () => {
    const { team, conversation_id, token } = await startConversation();
    for (let i = 0; i < 6; i++) {
      await sendMessageOk(conversation_id, token, { text: `m${i}`, data: { [`k${i}`]: `v${i}` }, client_message_id: `id-${i}` });
      if (i % 2 === 1) await evictDurableObject(objectOf(conversation_id));
    }
    // Retries of every message after the restarts store nothing.
    for (let i = 0; i < 6; i++) {
      expect((await sendMessage(conversation_id, token, { text: `m${i}`, client_message_id: `id-${i}` })).status).toBe(200);
    }
    expect(await visitorTexts(team.apiKey, conversation_id)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    const metadata = await call("GET", `/v1/conversations/${conversation_id}/metadata`, { token: team.apiKey });
    expect(Object.keys(metadata.json.metadata).sort()).toEqual(["k0", "k1", "k2", "k3", "k4", "k5"].map((k) => `chat-widget:${k}`));
  });
});
