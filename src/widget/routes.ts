import { Hono } from "hono";
import { z } from "zod";
import { findChatbotCached } from "../chatbots/storage";
import { conversationClient } from "../conversations/client";
import { METADATA_LIMITS, type Warning } from "../conversations/metadata-rules";
import { MessagesPageQuery } from "../conversations/model";
import { bearer, signConversationToken, verifyConversationToken } from "../shared/auth";
import { costHeader, OBJECT_COST_COUNTERS } from "../shared/cost";
import { codePointLength } from "../shared/encoding";
import { newId } from "../shared/ids";
import { limitBody, parseWith, readJson } from "../shared/json-body";
import { WIDGET_KEY_PREFIX } from "../shared/key-prefixes";
import { notFound, unauthorized } from "../shared/problem";
import { isIanaTimezone } from "../shared/time";
import { checkOrigin, type WidgetEnv, widgetCors } from "./cors";

/** Longest visitor message, in code points (a design decision: docs/conversations.md). */
export const MESSAGE_TEXT_MAX_CODE_POINTS = 10_000;

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
const Timezone = z.string().max(100).nullish();

const StartConversation = z.object({
  chatbot_id: z.string().min(1).max(64),
  visitor_id: z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, "must be 1 to 128 printable ASCII characters")
    .optional(),
  data: Data,
  timezone: Timezone,
});

const PostMessage = z.object({
  text: z
    .string()
    .refine((text) => text.trim().length > 0, "must not be empty")
    .refine((text) => codePointLength(text) <= MESSAGE_TEXT_MAX_CODE_POINTS, `must be at most ${MESSAGE_TEXT_MAX_CODE_POINTS} characters`)
    .refine((text) => text.isWellFormed(), "must be well-formed Unicode"),
  data: Data,
  timezone: Timezone,
});

/** A timezone that is not a real IANA name is a warning, never a lost message. */
function checkTimezone(timezone: string | null | undefined): { timezone: string | null; warnings: Warning[] } {
  if (timezone == null || timezone === "") return { timezone: null, warnings: [] };
  return isIanaTimezone(timezone)
    ? { timezone, warnings: [] }
    : { timezone: null, warnings: [{ key: "timezone", reason: "invalid_timezone" }] };
}

export const widgetRoutes = new Hono<WidgetEnv>();
widgetRoutes.use(widgetCors);

widgetRoutes.post("/conversations", limitBody(WIDGET_BODY_LIMIT_BYTES), async (c) => {
  const input = await readJson(c.req, StartConversation);
  const chatbot = await findChatbotCached(c.env.DB, input.chatbot_id);
  if (!chatbot) throw notFound("No chatbot with that id.");
  checkOrigin({ origin: c.req.header("Origin"), url: c.req.url }, chatbot, (verdict) => c.set("origin", verdict));
  const { timezone, warnings } = checkTimezone(input.timezone);
  const conversationId = newId("conv");
  const visitorId = input.visitor_id ?? newId("vis");
  const started = await conversationClient(c.env, conversationId).start({
    conversationId,
    teamId: chatbot.team_id,
    chatbotId: chatbot.id,
    visitorId,
    data: input.data,
    timezone,
    warnings,
  });
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
      visitor_id: visitorId,
      metadata: started.metadata,
    },
    201,
  );
});

/** The conversation token: signed, checked without a database read, bound to `:id`. */
widgetRoutes.use("/conversations/:id/*", async (c, next) => {
  const token = bearer(c.req.header("Authorization"));
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

widgetRoutes.post("/conversations/:id/messages", limitBody(WIDGET_BODY_LIMIT_BYTES), async (c) => {
  const input = await readJson(c.req, PostMessage);
  const { timezone, warnings } = checkTimezone(input.timezone);
  const result = await conversationClient(c.env, c.var.claims.c).postMessage({ text: input.text, data: input.data, timezone, warnings });
  c.header("Chat-Context-Cost", costHeader(result.cost, OBJECT_COST_COUNTERS));
  return c.body(result.json, 201, { "Content-Type": "application/json" });
});

widgetRoutes.get("/conversations/:id/messages", async (c) => {
  const query = parseWith(MessagesPageQuery, c.req.query(), "query");
  return c.json(await conversationClient(c.env, c.var.claims.c).listMessages(query));
});
