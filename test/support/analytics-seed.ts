import { env } from "cloudflare:workers";
import { insertWebConversation, updateConversationState, upsertProjectedMetadata } from "../../src/conversations/storage";
import { upsertWebParticipant } from "../../src/participants/storage";
import { newId } from "../../src/shared/ids";

/** A conversation to seed: the UTC day it starts (at noon), its widget keys (without prefix), its outcome and status. */
export type Seeded = { day: string; metadata: Record<string, string>; outcome: string | null; status?: "open" | "ended" };

/** Conversations seeded straight through the storage layer, as the object's alarm projects them. */
export async function seedProjection(teamId: string, chatbotId: string, conversations: Record<string, Seeded>) {
  const ids: Record<string, string> = {};
  for (const [name, seeded] of Object.entries(conversations)) {
    const id = newId("conv");
    const visitor = `vis-${name}-${Math.random().toString(36).slice(2)}`;
    const customer = { name: null, email: null, phone: null, timezone: null };
    const startedAt = `${seeded.day}T12:00:00.000Z`;
    await env.DB.batch([
      upsertWebParticipant(env.DB, {
        id: newId("part"),
        teamId,
        chatbotId,
        identifier: visitor,
        verified: false,
        customer,
        now: startedAt,
      }),
      insertWebConversation(env.DB, { id, teamId, chatbotId, identifier: visitor, startedAt }),
      updateConversationState(env.DB, {
        id,
        status: seeded.status ?? "open",
        outcome: seeded.outcome,
        endedAt: seeded.status === "ended" ? startedAt : null,
      }),
      ...Object.entries(seeded.metadata).flatMap(([key, value]) =>
        upsertProjectedMetadata(env.DB, { conversationId: id, chatbotId, key: `chat-widget:${key}`, value }),
      ),
    ]);
    ids[name] = id;
  }
  return ids;
}
