import { Hono } from "hono";
import { z } from "zod";
import { requireTeamChatbot } from "../chatbots/lookups";
import { Cursor } from "../shared/cursor";
import type { ApiEnv } from "../shared/hono-env";
import { newId } from "../shared/ids";
import { limitBody, parseWith, readJson } from "../shared/json-body";
import { notFound, problem } from "../shared/problem";
import { nowIso } from "../shared/time";
import { participantEvent } from "../webhooks/events";
import { publishInBackground } from "../webhooks/publish";
import { assertMatchesSchema } from "./data-schema";
import { Channel, DataObject, Email, Identifier, Name, Phone, Timezone } from "./fields";
import { etagOf } from "./if-match";
import { assertDataDepth, serializeData } from "./json-data";
import { DATA_WRITE_BODY_MAX_BYTES, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT } from "./limits";
import { requireTeamParticipant } from "./lookups";
import {
  findParticipantIdByNaturalKey,
  insertParticipant,
  listParticipants,
  type ParticipantRow,
  presentParticipant,
  updateCustomerFields,
} from "./storage";

/** POST /, GET /, GET /:id, PATCH /:id: the participant record and its customer fields. */
export const recordRoutes = new Hono<ApiEnv>();

const customerFields = {
  name: Name.nullable(),
  email: Email.nullable(),
  phone: Phone.nullable(),
  timezone: Timezone.nullable(),
};

const CreateParticipant = z
  .strictObject({
    chatbot_id: z.string(),
    channel: Channel,
    identifier: Identifier,
    ...customerFields,
    data: DataObject.optional(),
  })
  .partial({ name: true, email: true, phone: true, timezone: true });

const UpdateParticipant = z.strictObject(customerFields).partial();

const ListQuery = z.strictObject({
  chatbot_id: z.string().optional(),
  channel: Channel.optional(),
  identifier: Identifier.optional(),
  cursor: Cursor.optional(),
  limit: z.coerce.number().int().min(1).max(LIST_MAX_LIMIT).default(LIST_DEFAULT_LIMIT),
});

recordRoutes.post("/", limitBody(DATA_WRITE_BODY_MAX_BYTES), async (c) => {
  const input = await readJson(c.req, CreateParticipant);
  if (input.data) assertDataDepth(input.data);
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, input.chatbot_id);
  const conflict = async () => {
    const existing = await findParticipantIdByNaturalKey(c.env.DB, chatbot.id, input.channel, input.identifier);
    return existing
      ? problem("conflict", "A participant with this chatbot, channel and identifier already exists.", { existing: { id: existing } })
      : null;
  };
  const before = await conflict();
  if (before) throw before;
  const data = input.data ?? {};
  const text = serializeData(data);
  assertMatchesSchema(chatbot.participant_data_schema ? JSON.stringify(chatbot.participant_data_schema) : null, data);
  const now = nowIso();
  const row: ParticipantRow = {
    id: newId("part"),
    team_id: c.var.teamId,
    chatbot_id: chatbot.id,
    channel: input.channel,
    identifier: input.identifier,
    name: input.name ?? null,
    email: input.email ?? null,
    phone: input.phone ?? null,
    timezone: input.timezone ?? null,
    data: text,
    version: 1,
    created_at: now,
    updated_at: now,
  };
  const inserted = await insertParticipant(c.env.DB, row).run();
  if ((inserted.meta.changes ?? 0) === 0)
    throw (await conflict()) ?? problem("conflict", "The participant was created concurrently; retry.");
  const participant = presentParticipant(row);
  publishInBackground(c, [participantEvent("participant.created", c.var.teamId, participant)]);
  c.header("ETag", etagOf(1));
  c.header("Location", `/v1/participants/${row.id}`);
  return c.json(participant, 201);
});

recordRoutes.get("/", async (c) => {
  const query = parseWith(ListQuery, c.req.query(), "query");
  if (query.chatbot_id !== undefined) await requireTeamChatbot(c.env.DB, c.var.teamId, query.chatbot_id);
  const page = await listParticipants(c.env.DB, {
    teamId: c.var.teamId,
    chatbotId: query.chatbot_id,
    channel: query.channel,
    identifier: query.identifier,
    cursor: query.cursor,
    limit: query.limit,
  });
  return c.json({ participants: page.rows.map(presentParticipant), next_cursor: page.nextCursor });
});

recordRoutes.get("/:id", async (c) => {
  const row = await requireTeamParticipant(c.env.DB, c.var.teamId, c.req.param("id"));
  const etag = etagOf(row.version);
  c.header("ETag", etag);
  const ifNoneMatch = c.req.header("If-None-Match");
  if (ifNoneMatch?.split(",").some((tag) => tag.trim() === etag || tag.trim() === "*")) return c.body(null, 304);
  return c.json(presentParticipant(row));
});

recordRoutes.patch("/:id", limitBody(16 * 1024), async (c) => {
  const input = await readJson(c.req, UpdateParticipant);
  const row = await requireTeamParticipant(c.env.DB, c.var.teamId, c.req.param("id"));
  const now = nowIso();
  if (Object.keys(input).length > 0) {
    const result = await updateCustomerFields(c.env.DB, { participantId: row.id, teamId: c.var.teamId }, input, now).run();
    if ((result.meta.changes ?? 0) === 0) throw notFound("No participant with that id.");
  }
  const updated = { ...row, ...input, updated_at: Object.keys(input).length > 0 ? now : row.updated_at };
  c.header("ETag", etagOf(row.version));
  return c.json(presentParticipant(updated));
});
