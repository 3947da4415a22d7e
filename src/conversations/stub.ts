import { z } from "zod";

/** The conversation's Durable Object: one per conversation id. */
export function conversationStub(env: Env, conversationId: string) {
  return env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId));
}

/** The page of messages both the API and the widget read: oldest first, `limit` after `after`. */
export const MessagesPageQuery = z.object({
  after: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
