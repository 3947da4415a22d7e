import { describe, expect, it } from "vitest";
import { call, createChatbot, createTeam, sendMessageOk, startConversationWith } from "../support/api";
import { createWebhook, deliveriesOf, eventually } from "./support";

/** The event types of a webhook's deliveries once `count` have been recorded, oldest first. */
async function typesOnceThere(apiKey: string, webhookId: string, count: number): Promise<string[]> {
  return eventually(async () => {
    const { deliveries } = await deliveriesOf(apiKey, webhookId);
    return deliveries.length >= count ? deliveries.map((delivery) => delivery.event_type).reverse() : undefined;
  });
}

describe("events of conversations reach webhooks", () => {
  it("publishes participant.created for a new visitor only, and each conversation event", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Events bot" });
    const hook = await createWebhook(team.apiKey, {
      events: ["participant.created", "conversation.started", "message.created", "conversation.metadata.updated", "conversation.ended"],
      chatbot_id: bot.id,
    });
    const first = await startConversationWith(bot.id, { data: { plan: "pro" } });
    expect(await typesOnceThere(team.apiKey, hook.id, 2)).toEqual(["participant.created", "conversation.started"]);
    // The same visitor again: a new conversation, not a new participant.
    await startConversationWith(bot.id, { visitor_id: first.visitor_id });
    await sendMessageOk(first.conversation_id, first.token, { text: "hi", data: { plan: "team" } });
    await call("PATCH", `/v1/conversations/${first.conversation_id}`, {
      token: team.apiKey,
      body: { status: "ended", outcome: "resolved" },
    });
    const types = await typesOnceThere(team.apiKey, hook.id, 7);
    expect(types.filter((type) => type === "participant.created")).toHaveLength(1);
    expect(types.slice(2).sort()).toEqual(
      ["conversation.started", "message.created", "message.created", "conversation.metadata.updated", "conversation.ended"].sort(),
    );
  });
});
