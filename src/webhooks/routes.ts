import { Hono } from "hono";
import { z } from "zod";
import { requireApiKey } from "../api-keys/auth";
import { requireTeamChatbot } from "../chatbots/lookups";
import { Cursor } from "../shared/cursor";
import type { ApiEnv } from "../shared/hono-env";
import { ID_PATTERN, newId } from "../shared/ids";
import { limitBody, parseWith, readJson } from "../shared/json-body";
import { notFound, problem } from "../shared/problem";
import { nowIso } from "../shared/time";
import { EVENT_TYPES } from "./events";
import { webhookSettings } from "./settings";
import { newWebhookSecret, sealWebhookSecret } from "./signature";
import {
  deleteWebhook,
  findTeamWebhook,
  insertWebhookWithinLimit,
  listDeliveries,
  listTeamWebhooks,
  presentWebhook,
  type Webhook,
} from "./storage";
import { checkWebhookUrl } from "./url-rules";

/** Live webhooks a team may hold: enough for every integration, few enough to fan out to on each event. */
export const MAX_WEBHOOKS = 20;
const DELIVERIES_DEFAULT_LIMIT = 50;
const DELIVERIES_MAX_LIMIT = 100;

/** The body's schema, with the URL rules of this deployment (loopback only where allowed). */
function createSchema(allowLocal: boolean) {
  return z.strictObject({
    url: z.string().superRefine((value, context) => {
      const verdict = checkWebhookUrl(value, allowLocal);
      if (!verdict.ok) context.addIssue({ code: "custom", message: verdict.reason });
    }),
    events: z.array(z.enum(EVENT_TYPES)).min(1).max(50),
    chatbot_id: z.string().nullable().default(null),
  });
}
const CreateWebhook = { local: createSchema(true), remote: createSchema(false) };

const DeliveriesQuery = z.strictObject({
  cursor: Cursor.optional(),
  limit: z.coerce.number().int().min(1).max(DELIVERIES_MAX_LIMIT).default(DELIVERIES_DEFAULT_LIMIT),
});

async function requireTeamWebhook(db: D1Database, teamId: string, id: string): Promise<Webhook> {
  const webhook = ID_PATTERN.test(id) ? await findTeamWebhook(db, teamId, id) : null;
  if (!webhook) throw notFound("No webhook with that id.");
  return webhook;
}

/** /v1/webhooks: a team's endpoints for events, and their deliveries (docs/webhooks.md). */
export const webhookRoutes = new Hono<ApiEnv>();
webhookRoutes.use(requireApiKey);

webhookRoutes.post("/", limitBody(16 * 1024), async (c) => {
  const settings = webhookSettings(c.env);
  const input = await readJson(c.req, settings.allowLocal ? CreateWebhook.local : CreateWebhook.remote);
  const chatbot = input.chatbot_id === null ? null : await requireTeamChatbot(c.env.DB, c.var.teamId, input.chatbot_id);
  const secret = newWebhookSecret();
  const webhook: Webhook = {
    id: newId("wh"),
    team_id: c.var.teamId,
    chatbot_id: chatbot?.id ?? null,
    // As parsed: the URL that was checked is the one delivered to.
    url: new URL(input.url).href,
    events: EVENT_TYPES.filter((type) => input.events.includes(type)),
    secret: await sealWebhookSecret(c.env.TOKEN_SECRET, secret),
    created_at: nowIso(),
  };
  if (!(await insertWebhookWithinLimit(c.env.DB, webhook, MAX_WEBHOOKS))) {
    throw problem("conflict", `The team already holds ${MAX_WEBHOOKS} webhooks; delete one before creating another.`, {
      limit: MAX_WEBHOOKS,
    });
  }
  // The secret is shown this once (stored sealed): keep it out of every cache.
  return c.json({ ...presentWebhook(webhook), secret }, 201, { "Cache-Control": "no-store", Location: `/v1/webhooks/${webhook.id}` });
});

webhookRoutes.get("/", async (c) => {
  const webhooks = await listTeamWebhooks(c.env.DB, c.var.teamId);
  return c.json({ webhooks: webhooks.map(presentWebhook) });
});

webhookRoutes.get("/:id", async (c) => {
  return c.json(presentWebhook(await requireTeamWebhook(c.env.DB, c.var.teamId, c.req.param("id"))));
});

webhookRoutes.delete("/:id", async (c) => {
  const id = c.req.param("id");
  if (!ID_PATTERN.test(id) || !(await deleteWebhook(c.env.DB, c.var.teamId, id, nowIso()))) throw notFound("No webhook with that id.");
  return c.body(null, 204);
});

webhookRoutes.get("/:id/deliveries", async (c) => {
  const query = parseWith(DeliveriesQuery, c.req.query(), "query");
  const webhook = await requireTeamWebhook(c.env.DB, c.var.teamId, c.req.param("id"));
  const page = await listDeliveries(c.env.DB, webhook.id, { cursor: query.cursor, limit: query.limit });
  return c.json({ deliveries: page.rows, next_cursor: page.nextCursor });
});
