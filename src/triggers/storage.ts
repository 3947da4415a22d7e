/** The `triggers` table, and an isolate cache of each chatbot's triggers for the widget routes. */
import type { Trigger, TriggerAction, TriggerEvent } from "./model";

type TriggerRow = {
  id: string;
  team_id: string;
  chatbot_id: string;
  on_event: TriggerEvent;
  delay_seconds: number | null;
  max_fires: number;
  action: string;
  created_at: string;
};

const fromRow = (row: TriggerRow): Trigger => ({
  id: row.id,
  on: row.on_event,
  delay_seconds: row.delay_seconds,
  max_fires: row.max_fires,
  action: JSON.parse(row.action) as TriggerAction,
  created_at: row.created_at,
});

/** At most this many triggers per chatbot: every visitor message considers them all. */
export const MAX_TRIGGERS_PER_CHATBOT = 50;

export async function insertTrigger(db: D1Database, teamId: string, chatbotId: string, trigger: Trigger): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO triggers (id, team_id, chatbot_id, on_event, delay_seconds, max_fires, action, created_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE (SELECT count(*) FROM triggers WHERE chatbot_id = ?) < ?`,
    )
    .bind(
      trigger.id,
      teamId,
      chatbotId,
      trigger.on,
      trigger.delay_seconds,
      trigger.max_fires,
      JSON.stringify(trigger.action),
      trigger.created_at,
      chatbotId,
      MAX_TRIGGERS_PER_CHATBOT,
    )
    .run();
  cache.delete(chatbotId);
  return result.meta.changes === 1;
}

export async function listTriggers(db: D1Database, chatbotId: string): Promise<Trigger[]> {
  const { results } = await db.prepare("SELECT * FROM triggers WHERE chatbot_id = ? ORDER BY id").bind(chatbotId).all<TriggerRow>();
  return results.map(fromRow);
}

/** Whether the trigger still exists (a timer armed before it was deleted must not fire). */
export async function findTrigger(db: D1Database, chatbotId: string, triggerId: string): Promise<Trigger | null> {
  const row = await db.prepare("SELECT * FROM triggers WHERE id = ? AND chatbot_id = ?").bind(triggerId, chatbotId).first<TriggerRow>();
  return row ? fromRow(row) : null;
}

export async function deleteTrigger(db: D1Database, chatbotId: string, triggerId: string): Promise<boolean> {
  const result = await db.prepare("DELETE FROM triggers WHERE id = ? AND chatbot_id = ?").bind(triggerId, chatbotId).run();
  cache.delete(chatbotId);
  return result.meta.changes === 1;
}

// Every visitor message needs its chatbot's triggers: an isolate cache keeps that off D1.
// Writes in this isolate invalidate it at once; other isolates see a change within the TTL
// (timers armed from a stale list are checked against D1 before they fire).
const CACHE_TTL_MS = 30_000;
const cache = new Map<string, { triggers: Trigger[]; expires: number }>();

export async function listTriggersCached(db: D1Database, chatbotId: string): Promise<Trigger[]> {
  const hit = cache.get(chatbotId);
  if (hit && hit.expires > Date.now()) return hit.triggers;
  const triggers = await listTriggers(db, chatbotId);
  if (cache.size > 10_000) cache.clear();
  cache.set(chatbotId, { triggers, expires: Date.now() + CACHE_TTL_MS });
  return triggers;
}
