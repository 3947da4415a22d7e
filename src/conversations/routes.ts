import { Hono } from "hono";
import { z } from "zod";
import { conditionsOf, Filters } from "../analytics/filters";
import { requireApiKey } from "../api-keys/auth";
import { requireTeamChatbot } from "../chatbots/lookups";
import { costHeader, newCost } from "../shared/cost";
import { Cursor } from "../shared/cursor";
import type { ApiEnv } from "../shared/hono-env";
import { limitBody, parseWith, readJson } from "../shared/json-body";
import { badRequest, notFound, problem } from "../shared/problem";
import { listTriggersCached } from "../triggers/storage";
import { conversationClient } from "./client";
import { METADATA_LIMITS } from "./metadata-rules";
import { ClientMessageId, MessagesPageQuery, MessageText } from "./model";
import { findTeamConversation, listConversations } from "./storage";

const ListQuery = z.object({
  chatbot_id: z.string().max(64).optional(),
  cursor: Cursor.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  metadata_key: z
    .string()
    .min(1)
    .max(METADATA_LIMITS.keyMaxCodePoints * 2)
    .optional(),
  metadata_value: z
    .string()
    .max(METADATA_LIMITS.valueMaxCodePoints * 2)
    .optional(),
  /** A JSON array of analytics filters ({key, op, value}), all of which must hold (docs/analytics.md). */
  filter: z
    .string()
    .max(16 * 1024)
    .optional(),
});

/** The `filter` parameter's filters: JSON text, validated as the analytics body's `filters`. */
function filtersOf(text: string | undefined) {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(`The filter query parameter is not valid JSON: ${(error as Error).message}`, [
      { pointer: "", message: "is not valid JSON", code: "invalid_json" },
    ]);
  }
  return conditionsOf(parseWith(Filters, value, "filter query parameter"));
}

const PutMetadata = z.strictObject({ value: z.string() });

// A value of 50,000 code points is at most 200,000 bytes of UTF-8, but 600,000 where a
// client escapes non-ASCII (Python's json.dumps does by default): an astral character is
// then a surrogate pair of `\uXXXX` escapes, 12 bytes. Room for that and the envelope.
const PUT_METADATA_BODY_LIMIT = 640 * 1024;

export const conversationRoutes = new Hono<ApiEnv>();
conversationRoutes.use(requireApiKey);

/**
 * The metadata key of a `/:id/metadata/:key` URL, percent-decoded. Hono leaves a
 * segment it cannot decode as it is, which would name another key: refuse it.
 */
function metadataKeyOf(url: string): string {
  const raw = new URL(url).pathname.split("/").pop() ?? "";
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badRequest("The metadata key in the path has percent-escapes that are not UTF-8; encode the key with encodeURIComponent.");
  }
}

/** The team's conversation, or 404: another team's id is as absent as a missing one. */
async function requireTeamConversation(db: D1Database, teamId: string, id: string) {
  const row = await findTeamConversation(db, teamId, id);
  if (!row) throw notFound("No conversation with that id.");
  return row;
}

conversationRoutes.get("/", async (c) => {
  const query = parseWith(ListQuery, c.req.query(), "query");
  if (query.metadata_value !== undefined && query.metadata_key === undefined) {
    throw badRequest("metadata_value filters only together with metadata_key.");
  }
  // Another team's chatbot answers as a missing one does, not as an empty list.
  if (query.chatbot_id !== undefined) await requireTeamChatbot(c.env.DB, c.var.teamId, query.chatbot_id);
  const cost = newCost();
  const page = await listConversations(
    c.env.DB,
    {
      teamId: c.var.teamId,
      chatbotId: query.chatbot_id,
      cursor: query.cursor,
      limit: query.limit,
      metadata: query.metadata_key === undefined ? undefined : { key: query.metadata_key, value: query.metadata_value },
      filters: filtersOf(query.filter),
    },
    cost,
  );
  // The rows read tell a rare value read from its index from a walk of the chatbot.
  return c.json({ conversations: page.rows, next_cursor: page.nextCursor }, 200, { "Chat-Context-Cost": costHeader(cost, ["d1RowsRead"]) });
});

conversationRoutes.get("/:id", async (c) => {
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const snapshot = await conversationClient(c.env, row.id).snapshot();
  return c.json({
    id: row.id,
    chatbot_id: row.chatbot_id,
    channel: row.channel,
    participant_id: row.participant_id,
    customer: { name: row.name, email: row.email, phone: row.phone },
    metadata: snapshot.metadata,
    message_count: snapshot.message_count,
    started_at: row.started_at,
    last_message_at: snapshot.last_message_at,
    ...snapshot.state,
  });
});

// 1-64 lowercase letters, digits, `_` and `-`: `handoff`, `purchase`, `resolved`.
const Outcome = z.string().regex(/^[a-z0-9_-]{1,64}$/, "must be 1 to 64 characters of a-z, 0-9, _ and -");
const PatchConversation = z.strictObject({ status: z.enum(["open", "ended"]).optional(), outcome: Outcome.nullable().optional() });

conversationRoutes.patch("/:id", limitBody(4 * 1024), async (c) => {
  const patch = await readJson(c.req, PatchConversation);
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const client = conversationClient(c.env, row.id);
  if (patch.status !== undefined || patch.outcome !== undefined)
    await client.setState(patch, await listTriggersCached(c.env.DB, row.chatbot_id));
  const snapshot = await client.snapshot();
  return c.json({
    id: row.id,
    chatbot_id: row.chatbot_id,
    channel: row.channel,
    participant_id: snapshot.info.participant_id,
    customer: { name: row.name, email: row.email, phone: row.phone },
    metadata: snapshot.metadata,
    message_count: snapshot.message_count,
    started_at: row.started_at,
    last_message_at: snapshot.last_message_at,
    ...snapshot.state,
  });
});

/** The team's live view (the dashboard's conversation page): messages, metadata changes and state. */
conversationRoutes.get("/:id/live", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket")
    throw badRequest("This route upgrades to a WebSocket: send `Upgrade: websocket`.");
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  return conversationClient(c.env, row.id).live(c.req.raw, "staff");
});

/** What the chatbot's triggers did in this conversation, oldest first. */
conversationRoutes.get("/:id/events", async (c) => {
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  return c.json({ events: await conversationClient(c.env, row.id).listEvents() });
});

const StaffMessage = z.strictObject({
  text: MessageText,
  role: z.enum(["bot", "agent"]).default("bot"),
  client_message_id: ClientMessageId.optional(),
});

/** A bot's or an agent's answer. The same client_message_id again answers 200 with the first message. */
conversationRoutes.post("/:id/messages", limitBody(64 * 1024), async (c) => {
  const input = await readJson(c.req, StaffMessage);
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const result = await conversationClient(c.env, row.id).postStaffMessage({
    role: input.role,
    text: input.text,
    clientMessageId: input.client_message_id ?? null,
  });
  if (result.replayed) c.header("Idempotent-Replayed", "true");
  return c.json({ message: result.message }, result.replayed ? 200 : 201);
});

conversationRoutes.get("/:id/metadata", async (c) => {
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  return c.json({ metadata: await conversationClient(c.env, row.id).readMetadata() });
});

conversationRoutes.get("/:id/metadata/:key", async (c) => {
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const entry = await conversationClient(c.env, row.id).readMetadataKey(metadataKeyOf(c.req.url));
  if (!entry) throw notFound("This conversation has no metadata under that key.");
  return c.json(entry);
});

conversationRoutes.put("/:id/metadata/:key", limitBody(PUT_METADATA_BODY_LIMIT), async (c) => {
  const { value } = await readJson(c.req, PutMetadata);
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const key = metadataKeyOf(c.req.url);
  const result = await conversationClient(c.env, row.id).putMetadata(key, value);
  if (!result.ok) {
    throw problem("metadata-limit", `The pair was refused: ${result.reason}.`, { key, reason: result.reason });
  }
  return c.json({ ...result.entry, warnings: result.warnings }, result.created ? 201 : 200);
});

conversationRoutes.delete("/:id/metadata/:key", async (c) => {
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const deleted = await conversationClient(c.env, row.id).deleteMetadata(metadataKeyOf(c.req.url));
  if (!deleted) throw notFound("This conversation has no metadata under that key.");
  return c.body(null, 204);
});

conversationRoutes.get("/:id/messages", async (c) => {
  const query = parseWith(MessagesPageQuery, c.req.query(), "query");
  const row = await requireTeamConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  return c.json(await conversationClient(c.env, row.id).listMessages(query));
});
