/** The conversation's Durable Object: one per conversation id. */
export function conversationStub(env: Env, conversationId: string) {
  return env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId));
}
