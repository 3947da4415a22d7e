/**
 * The `webhooks` and `webhook_deliveries` tables, and an isolate cache of each team's
 * subscriptions for `publishEvents`.
 */
import type { EventType } from "./events";

export type Webhook = {
  id: string;
  team_id: string;
  chatbot_id: string | null;
  url: string;
  events: EventType[];
  /** Sealed (src/shared/sealing.ts). */
  secret: string;
  created_at: string;
};

type WebhookRow = Omit<Webhook, "events"> & { events: string };

const fromRow = (row: WebhookRow): Webhook => ({ ...row, events: JSON.parse(row.events) as EventType[] });

/** The public representation: never the secret (shown once, at creation). */
export function presentWebhook({ id, url, events, chatbot_id, created_at }: Webhook) {
  return { id, url, events, chatbot_id, created_at };
}

// publishEvents runs on hot paths (every message may be an event): a team's subscriptions
// are read from D1 at most once per SUBSCRIPTIONS_TTL_MS per isolate. A create or delete
// in this isolate drops the team's entry at once; other isolates see it within the TTL.
const SUBSCRIPTIONS_TTL_MS = 10_000;
const SUBSCRIPTIONS_MAX_TEAMS = 10_000;

export type Subscription = { id: string; chatbot_id: string | null; events: readonly EventType[] };

const subscriptions = new Map<string, { list: Subscription[]; expires: number }>();

/**
 * False only where this isolate knows, from a fresh cache entry, that the team has no
 * webhook: the message hot path then skips building its events at all.
 */
export function mayHaveSubscriptions(teamId: string, now = Date.now()): boolean {
  const hit = subscriptions.get(teamId);
  return !hit || hit.expires <= now || hit.list.length > 0;
}

/** The team's live webhooks as publishing needs them: through the isolate cache. */
export async function findTeamSubscriptions(db: D1Database, teamId: string, now = Date.now()): Promise<Subscription[]> {
  const hit = subscriptions.get(teamId);
  if (hit && hit.expires > now) return hit.list;
  const { results } = await db
    .prepare("SELECT id, chatbot_id, events FROM webhooks WHERE team_id = ? AND deleted_at IS NULL")
    .bind(teamId)
    .all<{ id: string; chatbot_id: string | null; events: string }>();
  const list = results.map((row) => ({ id: row.id, chatbot_id: row.chatbot_id, events: JSON.parse(row.events) as EventType[] }));
  if (subscriptions.size >= SUBSCRIPTIONS_MAX_TEAMS) subscriptions.clear();
  subscriptions.set(teamId, { list, expires: now + SUBSCRIPTIONS_TTL_MS });
  return list;
}

/** Inserts the webhook unless the team already holds `limit` live ones; false then. */
export async function insertWebhookWithinLimit(db: D1Database, webhook: Webhook, limit: number): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO webhooks (id, team_id, chatbot_id, url, events, secret, created_at)
       SELECT ?, ?, ?, ?, ?, ?, ?
       WHERE (SELECT COUNT(*) FROM webhooks WHERE team_id = ? AND deleted_at IS NULL) < ?`,
    )
    .bind(
      webhook.id,
      webhook.team_id,
      webhook.chatbot_id,
      webhook.url,
      JSON.stringify(webhook.events),
      webhook.secret,
      webhook.created_at,
      webhook.team_id,
      limit,
    )
    .run();
  subscriptions.delete(webhook.team_id);
  return (result.meta.changes ?? 0) > 0;
}

/** The team's live webhooks, oldest first (a team holds few). */
export async function listTeamWebhooks(db: D1Database, teamId: string): Promise<Webhook[]> {
  const { results } = await db
    .prepare("SELECT * FROM webhooks WHERE team_id = ? AND deleted_at IS NULL ORDER BY id")
    .bind(teamId)
    .all<WebhookRow & { deleted_at: null }>();
  return results.map(({ deleted_at: _, ...row }) => fromRow(row));
}

/** A live webhook of this team, or null: another team's is as absent as a missing one. */
export async function findTeamWebhook(db: D1Database, teamId: string, id: string): Promise<Webhook | null> {
  const row = await db
    .prepare("SELECT * FROM webhooks WHERE id = ? AND team_id = ? AND deleted_at IS NULL")
    .bind(id, teamId)
    .first<WebhookRow & { deleted_at: null }>();
  if (!row) return null;
  const { deleted_at: _, ...rest } = row;
  return fromRow(rest);
}

/** Marks the webhook deleted (its queued deliveries then end `failed`); false where there was none. */
export async function deleteWebhook(db: D1Database, teamId: string, id: string, now: string): Promise<boolean> {
  const result = await db
    .prepare("UPDATE webhooks SET deleted_at = ? WHERE id = ? AND team_id = ? AND deleted_at IS NULL")
    .bind(now, id, teamId)
    .run();
  subscriptions.delete(teamId);
  return (result.meta.changes ?? 0) > 0;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export type NewDelivery = { id: string; webhook_id: string; event_id: string; event_type: EventType; payload: string; created_at: string };

// D1 binds at most 100 parameters per statement: 16 rows of 6 columns each.
const DELIVERY_ROWS_PER_INSERT = 16;

/**
 * Inserts deliveries, each unless its id exists (the same event published again): returns
 * the ids that are new, which alone are to be queued. One statement per 16 rows, in one batch.
 */
export async function insertDeliveries(db: D1Database, deliveries: readonly NewDelivery[]): Promise<string[]> {
  if (deliveries.length === 0) return [];
  const statements: D1PreparedStatement[] = [];
  for (let at = 0; at < deliveries.length; at += DELIVERY_ROWS_PER_INSERT) {
    const chunk = deliveries.slice(at, at + DELIVERY_ROWS_PER_INSERT);
    statements.push(
      db
        .prepare(
          `INSERT OR IGNORE INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, created_at)
           VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, ?)").join(", ")} RETURNING id`,
        )
        .bind(...chunk.flatMap((d) => [d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.created_at])),
    );
  }
  const results = await db.batch<{ id: string }>(statements);
  return [...new Set(results.flatMap((result) => result.results.map((row) => row.id)))];
}

/** A delivery with what sending it needs: its webhook's URL, sealed secret and whether it was deleted. */
export type DeliveryToSend = {
  id: string;
  event_type: EventType;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  created_at: string;
  url: string;
  secret: string;
  webhook_deleted: boolean;
};

export async function findDeliveryToSend(db: D1Database, id: string): Promise<DeliveryToSend | null> {
  const row = await db
    .prepare(
      `SELECT d.id, d.event_type, d.payload, d.status, d.attempts, d.created_at, w.url, w.secret, w.deleted_at IS NOT NULL AS webhook_deleted
       FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
       WHERE d.id = ?`,
    )
    .bind(id)
    .first<Omit<DeliveryToSend, "webhook_deleted"> & { webhook_deleted: number }>();
  return row ? { ...row, webhook_deleted: row.webhook_deleted !== 0 } : null;
}

export type AttemptRecord = { status: DeliveryStatus; statusCode: number | null; error: string | null; now: string };

/** Records one attempt of a pending delivery and its outcome; false where it was no longer pending. */
export async function recordAttempt(db: D1Database, id: string, attempt: AttemptRecord): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE webhook_deliveries
       SET status = ?, attempts = attempts + 1, last_status_code = ?, last_error = ?, delivered_at = ?
       WHERE id = ? AND status = 'pending'`,
    )
    .bind(attempt.status, attempt.statusCode, attempt.error, attempt.status === "delivered" ? attempt.now : null, id)
    .run();
  return (result.meta.changes ?? 0) > 0;
}

/** Ends pending deliveries as failed without an attempt (the webhook is gone, the queue refused them). */
export async function failDeliveries(db: D1Database, ids: readonly string[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await db.batch(
    ids.map((id) =>
      db.prepare("UPDATE webhook_deliveries SET status = 'failed', last_error = ? WHERE id = ? AND status = 'pending'").bind(error, id),
    ),
  );
}

export type DeliveryView = {
  id: string;
  event_type: EventType;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
};

/** One page of a webhook's deliveries, newest first, before the `cursor` delivery id. */
export async function listDeliveries(
  db: D1Database,
  webhookId: string,
  page: { cursor?: string; limit: number },
): Promise<{ rows: DeliveryView[]; nextCursor: string | null }> {
  const columns = "id, event_type, status, attempts, last_status_code, last_error, created_at, delivered_at";
  const statement = page.cursor
    ? db
        .prepare(`SELECT ${columns} FROM webhook_deliveries WHERE webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ?`)
        .bind(webhookId, page.cursor, page.limit + 1)
    : db.prepare(`SELECT ${columns} FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?`).bind(webhookId, page.limit + 1);
  const { results } = await statement.all<DeliveryView>();
  const rows = results.slice(0, page.limit);
  return { rows, nextCursor: results.length > page.limit ? rows[rows.length - 1]!.id : null };
}

/**
 * Deletes up to `max` finished deliveries whose id sorts before `beforeId` (ids are
 * time-ordered, so this is "older than"), on the primary key; returns how many went.
 */
export async function purgeDeliveriesBefore(db: D1Database, beforeId: string, max = 1000): Promise<number> {
  const result = await db
    .prepare(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE id < ? AND status != 'pending' LIMIT ?)`,
    )
    .bind(beforeId, max)
    .run();
  return result.meta.changes ?? 0;
}

/**
 * The newest `perWebhook` deliveries of each of these webhooks, newest first (the
 * dashboard's chatbot page), in one statement: for each webhook id one bounded range of
 * `webhook_deliveries_by_webhook` (a correlated subquery per id), whatever the number of
 * webhooks (the ids travel as one JSON parameter).
 */
export async function listRecentDeliveries(
  db: D1Database,
  webhookIds: readonly string[],
  perWebhook: number,
): Promise<Map<string, DeliveryView[]>> {
  const recent = new Map<string, DeliveryView[]>(webhookIds.map((id) => [id, []]));
  if (recent.size === 0) return recent;
  const { results } = await db
    .prepare(
      `SELECT d.id, d.webhook_id, d.event_type, d.status, d.attempts, d.last_status_code, d.last_error, d.created_at, d.delivered_at
       FROM json_each(?1) AS w JOIN webhook_deliveries d
         ON d.id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = w.value ORDER BY id DESC LIMIT ?2)`,
    )
    .bind(JSON.stringify([...recent.keys()]), perWebhook)
    .all<DeliveryView & { webhook_id: string }>();
  for (const { webhook_id, ...row } of results) recent.get(webhook_id)?.push(row);
  for (const rows of recent.values()) rows.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return recent;
}
