import { Hono } from "hono";
import { z } from "zod";
import { type Chatbot, findChatbotCached } from "../chatbots/storage";
import { conversationClient } from "../conversations/client";
import { CONVERSATION_ENDED, STORAGE_UNAVAILABLE } from "../conversations/conversation-object";
import { METADATA_LIMITS, type Warning } from "../conversations/metadata-rules";
import { ClientMessageId, MessagesPageQuery, MessageText, type VerifiedIdentity, type WidgetData } from "../conversations/model";
import { bearer, signConversationToken, verifyConversationToken } from "../shared/auth";
import { costHeader, OBJECT_COST_COUNTERS } from "../shared/cost";
import { newId } from "../shared/ids";
import { limitBody, parseWith, readJson } from "../shared/json-body";
import { WIDGET_KEY_PREFIX } from "../shared/key-prefixes";
import { badRequest, notFound, problem, unauthorized } from "../shared/problem";
import { isIanaTimezone } from "../shared/time";
import { listTriggersCached } from "../triggers/storage";
import { checkOrigin, type WidgetEnv, widgetCors } from "./cors";
import { verifyIdentityToken } from "./identity";
import { limitMessages, limitStarts } from "./rate-limits";
import { issueVisitorId, verifyVisitorId } from "./visitor-ids";

/**
 * The largest body a widget route admits: 200 pairs at the limits in plain ASCII
 * (a key of 188 characters, which is 200 with `chat-widget:`, and a value of
 * 50,000) with their JSON punctuation, plus room for the text and the envelope.
 */
export const WIDGET_BODY_LIMIT_BYTES =
  METADATA_LIMITS.maxPairs * (METADATA_LIMITS.keyMaxCodePoints - WIDGET_KEY_PREFIX.length + METADATA_LIMITS.valueMaxCodePoints + 6) +
  64 * 1024;

// Values are checked pair by pair (a bad pair never loses the message), so `data`
// only has to be an object here. It is checked, not rebuilt: z.record copies by
// assignment, which silently drops a `__proto__` key that JSON.parse kept as own.
const Data = z
  .custom<Record<string, unknown>>(
    (value) => typeof value === "object" && value !== null && !Array.isArray(value),
    "must be an object mapping keys to string values",
  )
  .default({});
// Checked after parsing, so a bad value is a warning and never a lost message.
const Timezone = z.unknown().optional();
const IdentityToken = z.unknown().optional();

const StartConversation = z.object({
  chatbot_id: z.string().min(1).max(64),
  // Any string: one the server did not issue for this chatbot is a warning, not an error.
  visitor_id: z.string().max(1024).optional(),
  data: Data,
  timezone: Timezone,
  identity_token: IdentityToken,
});

const PostMessage = z.object({
  text: MessageText,
  data: Data,
  timezone: Timezone,
  identity_token: IdentityToken,
  client_message_id: ClientMessageId.optional(),
});

const TIMEZONE_MAX_LENGTH = 100;

/** A timezone that is not a real IANA name (or not a string at all) is a warning, never a lost message. */
function checkTimezone(timezone: unknown): { timezone: string | null; warnings: Warning[] } {
  if (timezone == null || timezone === "") return { timezone: null, warnings: [] };
  return typeof timezone === "string" && timezone.length <= TIMEZONE_MAX_LENGTH && isIanaTimezone(timezone)
    ? { timezone, warnings: [] }
    : { timezone: null, warnings: [{ key: "timezone", reason: "invalid_timezone" }] };
}

/**
 * The pairs as the object takes them: a value that is not a string becomes null, which
 * the rules reject as `value_not_string`. However deeply a value nests, it never
 * reaches the object (a structured clone of it could overflow the stack).
 */
function widgetData(data: Record<string, unknown>): WidgetData {
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, typeof value === "string" ? value : null]));
}

/**
 * A sent identity token checked against the chatbot's secrets; a bad one is a warning.
 * Without a token there is nothing to wait for: null at once, not a promise of it.
 */
function identityOf(
  token: unknown,
  chatbot: Chatbot,
  tokenSecret: string | undefined,
  warnings: Warning[],
): Promise<VerifiedIdentity | null> | null {
  if (token === undefined || token === null || token === "") return null;
  return verifyIdentityToken(token, chatbot, tokenSecret).then((identity) => {
    if (!identity) warnings.push({ key: "identity_token", reason: "invalid_identity_token" });
    return identity;
  });
}

/** 503 where the object could not reach D1 for a write that had to land first; nothing was stored. */
async function unlessUnavailable<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof Error && error.message === STORAGE_UNAVAILABLE) {
      throw problem(
        "storage-unavailable",
        "The database did not accept the write; nothing was stored. Retry in a moment.",
        {},
        { "Retry-After": "1" },
      );
    }
    if (error instanceof Error && error.message === CONVERSATION_ENDED) {
      throw problem("conversation-ended", "This conversation has ended; start a new one with this message. Nothing was stored.");
    }
    throw error;
  }
}

export const widgetRoutes = new Hono<WidgetEnv>();
widgetRoutes.use(widgetCors);

/** After the token check: the budget is the verified conversation's, never an id anyone can name. */
const limitConversationMessages = limitMessages((c) => c.var.claims.c);

widgetRoutes.post("/conversations", limitStarts, limitBody(WIDGET_BODY_LIMIT_BYTES), async (c) => {
  const input = await readJson(c.req, StartConversation);
  const chatbot = await findChatbotCached(c.env.DB, input.chatbot_id);
  if (!chatbot) throw notFound("No chatbot with that id.");
  checkOrigin({ origin: c.req.header("Origin"), url: c.req.url }, chatbot, (verdict) => c.set("origin", verdict));
  const { timezone, warnings } = checkTimezone(input.timezone);
  const conversationId = newId("conv");
  let visitor = input.visitor_id === undefined ? null : await verifyVisitorId(c.env.TOKEN_SECRET, chatbot.id, input.visitor_id);
  if (input.visitor_id !== undefined && visitor === null) warnings.push({ key: "visitor_id", reason: "invalid_visitor_id" });
  const issued = visitor === null ? await issueVisitorId(c.env.TOKEN_SECRET, chatbot.id) : null;
  visitor ??= issued!.identifier;
  const identity = await identityOf(input.identity_token, chatbot, c.env.TOKEN_SECRET, warnings);
  const started = await unlessUnavailable(
    conversationClient(c.env, conversationId).start({
      conversationId,
      teamId: chatbot.team_id,
      chatbotId: chatbot.id,
      triggers: await listTriggersCached(c.env.DB, chatbot.id),
      visitorIdentifier: visitor,
      identity,
      identityRequired: chatbot.identity_verification === "required",
      data: widgetData(input.data),
      timezone,
      warnings,
    }),
  );
  const token = await signConversationToken(c.env.TOKEN_SECRET, {
    c: conversationId,
    b: chatbot.id,
    t: chatbot.team_id,
    p: started.info.participant_id,
  });
  c.header("Chat-Context-Cost", costHeader(started.cost, OBJECT_COST_COUNTERS));
  return c.json(
    {
      conversation_id: conversationId,
      token,
      participant_id: started.info.participant_id,
      visitor_id: issued?.visitorId ?? input.visitor_id,
      metadata: started.metadata,
    },
    201,
  );
});

/** The conversation token: signed, checked without a database read, bound to `:id`. */
widgetRoutes.use("/conversations/:id/*", async (c, next) => {
  // A browser cannot set headers on a WebSocket: the live route takes the token as `?token=`.
  const token = bearer(c.req.header("Authorization")) ?? (c.req.path.endsWith("/live") ? (c.req.query("token") ?? null) : null);
  if (!token) throw unauthorized("Send the conversation token as `Authorization: Bearer <token>`.");
  const claims = await verifyConversationToken(c.env.TOKEN_SECRET, token);
  if (!claims || claims.c !== c.req.param("id")) throw unauthorized("The conversation token is not valid for this conversation.");
  if (c.req.header("Origin")) {
    const chatbot = await findChatbotCached(c.env.DB, claims.b);
    if (!chatbot) throw notFound("No chatbot with that id.");
    checkOrigin({ origin: c.req.header("Origin"), url: c.req.url }, chatbot, (verdict) => c.set("origin", verdict));
  }
  c.set("claims", claims);
  await next();
});

/**
 * Live updates: a WebSocket served by the conversation's object with the hibernation API
 * (an idle socket costs the object nothing). It sends `{"type": "message", "message"}`
 * for every new message.
 */
widgetRoutes.get("/conversations/:id/live", (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket")
    throw badRequest("This route upgrades to a WebSocket: send `Upgrade: websocket`.");
  return conversationClient(c.env, c.var.claims.c).live(c.req.raw, "visitor");
});

widgetRoutes.post("/conversations/:id/messages", limitConversationMessages, limitBody(WIDGET_BODY_LIMIT_BYTES), async (c) => {
  const input = await readJson(c.req, PostMessage);
  const { timezone, warnings } = checkTimezone(input.timezone);
  // The chatbot's identity settings apply to every message (an isolate cache: no D1 read on a hit).
  const chatbot = await findChatbotCached(c.env.DB, c.var.claims.b);
  if (!chatbot) throw notFound("No chatbot with that id.");
  const verifying = identityOf(input.identity_token, chatbot, c.env.TOKEN_SECRET, warnings);
  const identity = verifying && (await verifying);
  const result = await unlessUnavailable(
    conversationClient(c.env, c.var.claims.c).postMessage({
      text: input.text,
      data: widgetData(input.data),
      timezone,
      warnings,
      identity,
      identityRequired: chatbot.identity_verification === "required",
      standInReply: chatbot.stand_in_replies,
      triggers: await listTriggersCached(c.env.DB, chatbot.id),
      clientMessageId: input.client_message_id ?? null,
    }),
  );
  c.header("Chat-Context-Cost", costHeader(result.cost, OBJECT_COST_COUNTERS));
  if (result.replayed) return c.body(result.json, 200, { "Content-Type": "application/json", "Idempotent-Replayed": "true" });
  return c.body(result.json, 201, { "Content-Type": "application/json" });
});

widgetRoutes.get("/conversations/:id/messages", async (c) => {
  const query = parseWith(MessagesPageQuery, c.req.query(), "query");
  return c.json(await conversationClient(c.env, c.var.claims.c).listMessages(query));
});
