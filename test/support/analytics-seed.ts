import { env } from "cloudflare:workers";
import {
  insertWebConversation,
  updateConversationCounters,
  updateConversationState,
  upsertProjectedMetadata,
} from "../../src/conversations/storage";
import { upsertWebParticipant } from "../../src/participants/storage";
import { newId } from "../../src/shared/ids";

/** A conversation to seed: when it started, its widget keys (without prefix), its state. */
export type ExportSeed = {
  startedAt: string;
  metadata?: Record<string, string>;
  outcome?: string | null;
  status?: "open" | "ended";
  messages?: number;
};

/** A conversation as it was seeded, with its id. */
export type SeededConversation = ExportSeed & { id: string; participantId: string };

/**
 * Conversations written straight through the storage layer, one after another (so their
 * `seq` follows the list's order), as the conversation object and its alarm project them.
 */
export async function seedConversations(teamId: string, chatbotId: string, list: ExportSeed[]): Promise<SeededConversation[]> {
  const seeded: SeededConversation[] = [];
  for (const seed of list) {
    const id = newId("conv");
    const visitor = `vis-${Math.random().toString(36).slice(2)}`;
    const [participant] = await env.DB.batch<{ id: string }>([
      upsertWebParticipant(env.DB, {
        id: newId("part"),
        teamId,
        chatbotId,
        identifier: visitor,
        verified: false,
        customer: { name: null, email: null, phone: null, timezone: null },
        now: seed.startedAt,
      }),
      insertWebConversation(env.DB, { id, teamId, chatbotId, identifier: visitor, startedAt: seed.startedAt }),
      updateConversationState(env.DB, {
        id,
        status: seed.status ?? "open",
        outcome: seed.outcome ?? null,
        endedAt: seed.status === "ended" ? seed.startedAt : null,
      }),
      updateConversationCounters(env.DB, { id, messageCount: seed.messages ?? 0, lastMessageAt: seed.messages ? seed.startedAt : null }),
      ...Object.entries(seed.metadata ?? {}).flatMap(([key, value]) =>
        upsertProjectedMetadata(env.DB, { conversationId: id, chatbotId, key: `chat-widget:${key}`, value }),
      ),
    ]);
    seeded.push({ ...seed, id, participantId: participant!.results[0]!.id });
  }
  return seeded;
}

/** A conversation to seed by name: the UTC day it starts (at noon), its widget keys (without prefix), its outcome and status. */
export type Seeded = { day: string; metadata: Record<string, string>; outcome: string | null; status?: "open" | "ended" };

/** Conversations seeded by name (see seedConversations): their ids by name. */
export async function seedProjection(
  teamId: string,
  chatbotId: string,
  conversations: Record<string, Seeded>,
): Promise<Record<string, string>> {
  const names = Object.keys(conversations);
  const seeded = await seedConversations(
    teamId,
    chatbotId,
    Object.values(conversations).map((seed) => ({ ...seed, startedAt: `${seed.day}T12:00:00.000Z` })),
  );
  return Object.fromEntries(seeded.map((conversation, i) => [names[i]!, conversation.id]));
}
