import { Hono } from "hono";
import { findChatbot } from "../chatbots/storage";
import { conversationClient } from "../conversations/client";
import { bearer, verifyConversationToken } from "../shared/auth";
import type { AppEnv } from "../shared/hono-env";
import { WIDGET_KEY_PREFIX } from "../shared/key-prefixes";
import { unauthorized } from "../shared/problem";
import { chatbotNotFoundPage, PAGE_HEADERS, playgroundPage } from "./page";

/**
 * The playground: `/playground/:chatbot_id` embeds the widget beside a panel that shows
 * what the conversation stored (its widget metadata and the customer record), and the
 * Octocom spec's DevTools snippets. The pages themselves are in ./page.ts.
 */
export const playgroundRoutes = new Hono<AppEnv>();

/**
 * The panel's data: the conversation's widget metadata (keys with WIDGET_KEY_PREFIX), read
 * from its Durable Object (the truth, not the D1 projection that lags), and the customer
 * fields this conversation itself wrote: never the participant's whole record, which other
 * conversations and the team may have filled. Authorized by the conversation token the
 * widget holds, so a playground page only ever sees its own conversation.
 */
playgroundRoutes.get("/api/conversations/:id", async (c) => {
  const token = bearer(c.req.header("Authorization"));
  if (!token) throw unauthorized("Send the conversation token as `Authorization: Bearer <token>`.");
  const claims = await verifyConversationToken(c.env.TOKEN_SECRET, token);
  if (!claims || claims.c !== c.req.param("id")) throw unauthorized("The conversation token is not valid for this conversation.");
  const snapshot = await conversationClient(c.env, claims.c).snapshot();
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(snapshot.metadata)) if (key.startsWith(WIDGET_KEY_PREFIX)) metadata[key] = value;
  c.header("Cache-Control", "no-store");
  return c.json({
    conversation_id: claims.c,
    participant_id: snapshot.info.participant_id,
    metadata,
    customer: snapshot.customer_written,
    verified: snapshot.verified,
    message_count: snapshot.message_count,
  });
});

playgroundRoutes.get("/:chatbot_id", async (c) => {
  const id = c.req.param("chatbot_id");
  const chatbot = id.length <= 64 ? await findChatbot(c.env.DB, id) : null;
  if (!chatbot) return c.html(chatbotNotFoundPage(id), 404, PAGE_HEADERS);
  return c.html(playgroundPage(chatbot, new URL(c.req.url).origin), 200, PAGE_HEADERS);
});
