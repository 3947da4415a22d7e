import { Hono } from "hono";
import { z } from "zod";
import { requireApiKey, type ApiVariables } from "../shared/auth";
import { limitBody, parseWith, readJson } from "../shared/json-body";
import { notFound, problem } from "../shared/problem";
import { conversationStub, MessagesPageQuery } from "./stub";
import { METADATA_LIMITS } from "./metadata-rules";

type ConversationRow = {
  id: string;
  chatbot_id: string;
  channel: string;
  participant_id: string;
  started_at: string;
  last_message_at: string | null;
  message_count: number;
};

const ListQuery = z.object({
  chatbot_id: z.string().max(64).optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  metadata_key: z.string().min(1).max(METADATA_LIMITS.keyMaxCodePoints * 2).optional(),
  metadata_value: z.string().max(METADATA_LIMITS.valueMaxCodePoints * 2).optional(),
});

const PutMetadata = z.strictObject({ value: z.string() });

// A value of 50,000 code points is at most 200,000 bytes of UTF-8, but 600,000 where a
// client escapes non-ASCII (Python's json.dumps does by default): an astral character is
// then a surrogate pair of `\uXXXX` escapes, 12 bytes. Room for that and the envelope.
const PUT_METADATA_BODY_LIMIT = 640 * 1024;

export const conversationRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();
conversationRoutes.use(requireApiKey);

/** The team's conversation, or 404: another team's id is as absent as a missing one. */
async function findConversation(db: D1Database, teamId: string, id: string) {
  const row = await db
    .prepare(
      `SELECT c.id, c.chatbot_id, c.channel, c.participant_id, c.started_at, c.last_message_at, c.message_count,
              p.name, p.email, p.phone
       FROM conversations c JOIN participants p ON p.id = c.participant_id
       WHERE c.id = ? AND c.team_id = ?`,
    )
    .bind(id, teamId)
    .first<ConversationRow & { name: string | null; email: string | null; phone: string | null }>();
  if (!row) throw notFound("No conversation with that id.");
  return row;
}

conversationRoutes.get("/", async (c) => {
  const query = parseWith(ListQuery, c.req.query(), "query");
  if (query.metadata_value !== undefined && query.metadata_key === undefined) {
    throw problem("bad-request", 400, "metadata_value filters only together with metadata_key.");
  }
  const where = ["c.team_id = ?"];
  const params: unknown[] = [c.var.teamId];
  if (query.chatbot_id) where.push("c.chatbot_id = ?"), params.push(query.chatbot_id);
  if (query.cursor) where.push("c.id < ?"), params.push(query.cursor);
  if (query.metadata_key !== undefined) {
    where.push(
      `EXISTS (SELECT 1 FROM conversation_metadata m WHERE m.conversation_id = c.id AND m.key = ?${query.metadata_value !== undefined ? " AND m.value = ?" : ""})`,
    );
    params.push(query.metadata_key);
    if (query.metadata_value !== undefined) params.push(query.metadata_value);
  }
  const { results } = await c.env.DB.prepare(
    `SELECT c.id, c.chatbot_id, c.channel, c.participant_id, c.started_at, c.last_message_at, c.message_count
     FROM conversations c WHERE ${where.join(" AND ")} ORDER BY c.id DESC LIMIT ?`,
  )
    .bind(...params, query.limit + 1)
    .all<ConversationRow>();
  const page = results.slice(0, query.limit);
  return c.json({ conversations: page, next_cursor: results.length > query.limit ? page[page.length - 1]!.id : null });
});

conversationRoutes.get("/:id", async (c) => {
  const row = await findConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const snapshot = await conversationStub(c.env, row.id).snapshot();
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
  });
});

conversationRoutes.get("/:id/metadata", async (c) => {
  const row = await findConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  return c.json({ metadata: await conversationStub(c.env, row.id).readMetadata() });
});

conversationRoutes.get("/:id/metadata/:key", async (c) => {
  const row = await findConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const entry = await conversationStub(c.env, row.id).readMetadataKey(c.req.param("key"));
  if (!entry) throw notFound("This conversation has no metadata under that key.");
  return c.json(entry);
});

conversationRoutes.put("/:id/metadata/:key", limitBody(PUT_METADATA_BODY_LIMIT), async (c) => {
  const { value } = await readJson(c, PutMetadata);
  const row = await findConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const key = c.req.param("key");
  const result = await conversationStub(c.env, row.id).putMetadata(key, value);
  if (!result.ok) {
    throw problem("metadata-limit", 422, `The pair was refused: ${result.reason}.`, { key, reason: result.reason });
  }
  return c.json({ ...result.entry, warnings: result.warnings }, result.created ? 201 : 200);
});

conversationRoutes.delete("/:id/metadata/:key", async (c) => {
  const row = await findConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  const deleted = await conversationStub(c.env, row.id).deleteMetadata(c.req.param("key"));
  if (!deleted) throw notFound("This conversation has no metadata under that key.");
  return c.body(null, 204);
});

conversationRoutes.get("/:id/messages", async (c) => {
  const query = parseWith(MessagesPageQuery, c.req.query(), "query");
  const row = await findConversation(c.env.DB, c.var.teamId, c.req.param("id"));
  return c.json(await conversationStub(c.env, row.id).listMessages(query));
});
