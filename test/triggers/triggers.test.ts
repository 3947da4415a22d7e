import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createChatbot, createTeam, expectFieldErrors, expectProblem, sendMessageOk, startConversationWith } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { getParticipant } from "../support/participants";

const objectOf = (conversationId: string) => env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function botWithTriggers(triggers: Record<string, unknown>[], chatbot: Record<string, unknown> = {}) {
  const team = await createTeam();
  const bot = await createChatbot(team.apiKey, { name: "Trigger bot", stand_in_replies: false, ...chatbot });
  const ids: string[] = [];
  for (const trigger of triggers) {
    const created = await call("POST", `/v1/chatbots/${bot.id}/triggers`, { token: team.apiKey, body: trigger });
    expect(created.status, created.text).toBe(201);
    ids.push(created.json.id);
  }
  return { team, bot, ids };
}

async function eventsOf(apiKey: string, conversationId: string) {
  const response = await call("GET", `/v1/conversations/${conversationId}/events`, { token: apiKey });
  expect(response.status).toBe(200);
  return response.json.events as {
    trigger_id: string;
    on: string;
    action_type: string;
    status: string;
    detail: string;
    fired_at: string;
    due_at: string | null;
  }[];
}

async function texts(apiKey: string, conversationId: string) {
  const response = await call("GET", `/v1/conversations/${conversationId}/messages`, { token: apiKey });
  return response.json.messages.map((m: { role: string; text: string }) => `${m.role}:${m.text}`);
}

describe("trigger routes", () => {
  it("creates, lists and deletes a chatbot's triggers", async () => {
    const { team, bot, ids } = await botWithTriggers([{ on: "conversation_started", action: { type: "send_message", text: "Welcome!" } }]);
    const listed = await call("GET", `/v1/chatbots/${bot.id}/triggers`, { token: team.apiKey });
    expect(listed.json.triggers).toEqual([
      {
        id: ids[0],
        on: "conversation_started",
        delay_seconds: null,
        max_fires: 1,
        action: { type: "send_message", text: "Welcome!" },
        created_at: expect.any(String),
      },
    ]);
    expect((await call("DELETE", `/v1/chatbots/${bot.id}/triggers/${ids[0]}`, { token: team.apiKey })).status).toBe(204);
    expect((await call("DELETE", `/v1/chatbots/${bot.id}/triggers/${ids[0]}`, { token: team.apiKey })).status).toBe(404);
  });

  it("names each bad field", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    const post = (body: unknown) => call("POST", `/v1/chatbots/${bot.id}/triggers`, { token: team.apiKey, body });
    const send = { type: "send_message", text: "x" };
    expectFieldErrors(await post({ on: "conversation_inactive", action: send }), ["/delay_seconds"]);
    expectFieldErrors(await post({ on: "conversation_inactive", delay_seconds: 9, action: send }), ["/delay_seconds"]);
    expectFieldErrors(await post({ on: "conversation_inactive", delay_seconds: 604_801, action: send }), ["/delay_seconds"]);
    expectFieldErrors(await post({ on: "message_received", delay_seconds: 60, action: send }), ["/delay_seconds"]);
    expectFieldErrors(await post({ on: "page_viewed", action: send }), ["/on"]);
    expectFieldErrors(await post({ on: "message_received", action: { type: "launch_rocket" } }), ["/action/type"]);
    expectFieldErrors(await post({ on: "message_received", action: { type: "send_message", text: "" } }), ["/action/text"]);
    expectFieldErrors(await post({ on: "message_received", max_fires: 0, action: send }), ["/max_fires"]);
  });

  describeApiKeyAuth({
    setup: async () => {
      const team = await createTeam();
      const bot = await createChatbot(team.apiKey);
      const created = await call("POST", `/v1/chatbots/${bot.id}/triggers`, {
        token: team.apiKey,
        body: { on: "message_received", action: { type: "send_message", text: "t" } },
      });
      return { team, ids: { chatbot: bot.id, trigger: created.json.id } };
    },
    routes: [
      {
        method: "POST",
        path: (ids: Record<string, string>) => `/v1/chatbots/${ids.chatbot}/triggers`,
        body: () => ({ on: "message_received", action: { type: "end_conversation" } }),
      },
      { method: "GET", path: (ids: Record<string, string>) => `/v1/chatbots/${ids.chatbot}/triggers` },
      { method: "DELETE", path: (ids: Record<string, string>) => `/v1/chatbots/${ids.chatbot}/triggers/${ids.trigger}` },
    ],
  });
});

describe("triggers firing in a conversation", () => {
  it("fires conversation_started and message_received (bounded by max_fires), and lists what fired", async () => {
    const { team, bot, ids } = await botWithTriggers([
      { on: "conversation_started", action: { type: "send_message", text: "Welcome!" } },
      { on: "message_received", max_fires: 2, action: { type: "send_message", text: "Got it." } },
    ]);
    const started = await startConversationWith(bot.id);
    for (const text of ["one", "two", "three"]) await sendMessageOk(started.conversation_id, started.token, { text });
    expect(await texts(team.apiKey, started.conversation_id)).toEqual([
      "bot:Welcome!",
      "visitor:one",
      "bot:Got it.",
      "visitor:two",
      "bot:Got it.",
      "visitor:three",
    ]);
    const events = await eventsOf(team.apiKey, started.conversation_id);
    expect(events.map((e) => `${e.trigger_id === ids[0] ? "started" : "received"}:${e.status}`)).toEqual([
      "started:ok",
      "received:ok",
      "received:ok",
    ]);
  });

  it("updates participant data (schema-checked: a refusal is a failed event) and ends the conversation, which fires conversation_ended", async () => {
    const { team, bot } = await botWithTriggers(
      [
        { on: "message_received", max_fires: 3, action: { type: "update_participant_data", patch: { stage: "engaged" } } },
        { on: "message_received", action: { type: "update_participant_data", patch: { stage: 42 } } },
        { on: "message_received", action: { type: "run_action", action_id: "act_x" } },
        { on: "message_received", action: { type: "end_conversation" } },
        { on: "conversation_ended", action: { type: "send_message", text: "Bye!" } },
      ],
      { participant_data_schema: { type: "object", properties: { stage: { type: "string" } } } },
    );
    const started = await startConversationWith(bot.id);
    await sendMessageOk(started.conversation_id, started.token, { text: "hello" });
    const events = await eventsOf(team.apiKey, started.conversation_id);
    expect(events.map((e) => `${e.action_type}:${e.status}`)).toEqual([
      "update_participant_data:ok",
      "update_participant_data:failed",
      "run_action:failed",
      "send_message:ok",
      "end_conversation:ok",
    ]);
    expect(events[1]!.detail).toMatch(/stage/);
    expect((await getParticipant(team.apiKey, started.participant_id)).data).toEqual({ stage: "engaged" });
    const conversation = await call("GET", `/v1/conversations/${started.conversation_id}`, { token: team.apiKey });
    expect(conversation.json.status).toBe("ended");
    expect((await texts(team.apiKey, started.conversation_id)).at(-1)).toBe("bot:Bye!");
  });

  it("fires conversation_inactive after its delay of quiet, within 2 s of due, re-armed by each visitor message", async () => {
    const { team, bot, ids } = await botWithTriggers([
      { on: "conversation_inactive", delay_seconds: 10, max_fires: 2, action: { type: "send_message", text: "Still there?" } },
    ]);
    const started = await startConversationWith(bot.id);
    await sendMessageOk(started.conversation_id, started.token, { text: "first" });
    await pause(4_000);
    await sendMessageOk(started.conversation_id, started.token, { text: "second" }); // re-arms: due 10 s from now
    await pause(7_000);
    expect(await eventsOf(team.apiKey, started.conversation_id)).toEqual([]);
    await pause(4_500);
    const events = await eventsOf(team.apiKey, started.conversation_id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ trigger_id: ids[0], on: "conversation_inactive", status: "ok" });
    const lateness = Date.parse(events[0]!.fired_at) - Date.parse(events[0]!.due_at!);
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(2_000);
    expect((await texts(team.apiKey, started.conversation_id)).at(-1)).toBe("bot:Still there?");
  }, 30_000);

  it("never fires a trigger deleted after it was armed", async () => {
    const { team, bot, ids } = await botWithTriggers([
      { on: "conversation_inactive", delay_seconds: 10, action: { type: "send_message", text: "Still there?" } },
    ]);
    const started = await startConversationWith(bot.id);
    await sendMessageOk(started.conversation_id, started.token, { text: "first" });
    expect((await call("DELETE", `/v1/chatbots/${bot.id}/triggers/${ids[0]}`, { token: team.apiKey })).status).toBe(204);
    await pause(10_500);
    await runDurableObjectAlarm(objectOf(started.conversation_id));
    expect(await eventsOf(team.apiKey, started.conversation_id)).toEqual([]);
    expect(await texts(team.apiKey, started.conversation_id)).toEqual(["visitor:first"]);
  }, 30_000);

  it("does not fire on conversations that started before the trigger existed, for conversation_started", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Late bot", stand_in_replies: false });
    const old = await startConversationWith(bot.id);
    await call("POST", `/v1/chatbots/${bot.id}/triggers`, {
      token: team.apiKey,
      body: { on: "conversation_started", action: { type: "send_message", text: "Hi" } },
    });
    await sendMessageOk(old.conversation_id, old.token, { text: "late" });
    expect(await texts(team.apiKey, old.conversation_id)).toEqual(["visitor:late"]);
    expectProblem(await call("GET", "/v1/conversations/conv_00000000000000000000000000/events", { token: team.apiKey }), 404);
  });
});
