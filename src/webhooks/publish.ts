import { newId } from "../shared/ids";
import type { DomainEvent } from "./events";
import {
  failDeliveries,
  findTeamSubscriptions,
  insertDeliveries,
  mayHaveSubscriptions,
  type NewDelivery,
  type Subscription,
} from "./storage";

/** What the queue carries: only the delivery's id; the delivery row holds the rest. */
export type WebhookMessage = { deliveryId: string };

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";
/** Cloudflare Queues takes at most 100 messages per sendBatch. */
const SEND_BATCH_MAX = 100;

/**
 * The delivery id (the `webhook-id` header) of an event for one webhook: `dlv_`, the
 * event's time as in every id (so deliveries list newest first by id), and 16 characters
 * of SHA-256 of the event id and webhook id. The same event published twice gets the same
 * id, and the second insert is ignored.
 */
export async function deliveryIdOf(event: Pick<DomainEvent, "id" | "timestamp">, webhookId: string): Promise<string> {
  const time = Date.parse(event.timestamp);
  const head = newId("dlv", Number.isFinite(time) && time >= 0 ? time : 0).slice(0, "dlv_".length + 10);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${event.id}\n${webhookId}`)));
  let tail = "";
  for (const byte of hash.subarray(0, 16)) tail += CROCKFORD[byte & 31];
  return head + tail;
}

const subscribes = (subscription: Subscription, event: DomainEvent) =>
  subscription.events.includes(event.type) && (subscription.chatbot_id === null || subscription.chatbot_id === event.chatbotId);

/**
 * Hands events to the team's webhooks that subscribe to them: one pending delivery row per
 * (event, webhook) and one queue message per new row. Where nothing subscribes it writes
 * nothing, and reads D1 at most once per team per 10 s in this isolate. Rejects where D1
 * or the queue refused; deliveries the queue refused are ended `failed`, never left pending.
 */
export async function publishEvents(env: Env, events: readonly DomainEvent[]): Promise<void> {
  if (events.length === 0) return;
  const byTeam = new Map<string, DomainEvent[]>();
  for (const event of events) byTeam.set(event.teamId, [...(byTeam.get(event.teamId) ?? []), event]);

  const deliveries: NewDelivery[] = [];
  const now = new Date().toISOString();
  for (const [teamId, teamEvents] of byTeam) {
    const teamSubscriptions = await findTeamSubscriptions(env.DB, teamId);
    if (teamSubscriptions.length === 0) continue;
    for (const event of teamEvents) {
      const targets = teamSubscriptions.filter((subscription) => subscribes(subscription, event));
      if (targets.length === 0) continue;
      // The body every attempt sends, byte for byte (Standard Webhooks: type, timestamp, data).
      const payload = JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
      for (const target of targets) {
        deliveries.push({
          id: await deliveryIdOf(event, target.id),
          webhook_id: target.id,
          event_id: event.id,
          event_type: event.type,
          payload,
          created_at: now,
        });
      }
    }
  }
  if (deliveries.length === 0) return;

  const fresh = await insertDeliveries(env.DB, deliveries);
  let refused: unknown = null;
  for (let at = 0; at < fresh.length; at += SEND_BATCH_MAX) {
    const chunk = fresh.slice(at, at + SEND_BATCH_MAX);
    try {
      await env.WEBHOOK_QUEUE.sendBatch(
        chunk.map((deliveryId) => ({ body: { deliveryId } satisfies WebhookMessage, contentType: "json" })),
      );
    } catch (error) {
      refused ??= error;
      await failDeliveries(env.DB, chunk, `could not be queued: ${(error as Error).message}`.slice(0, 300));
    }
  }
  if (refused) throw refused;
}

/**
 * Publishes now, for a writer that goes on writing (a CSV import, batch by batch): `make`
 * builds the events only where the team may have a webhook, and a failure is logged, not
 * thrown, since the writes the events describe are done.
 */
export async function publishNow(env: Env, teamId: string, make: () => readonly DomainEvent[]): Promise<void> {
  if (!mayHaveSubscriptions(teamId)) return;
  try {
    await publishEvents(env, make());
  } catch (error) {
    console.error("publishing webhook events failed", error);
  }
}

/**
 * Publishes after the response (`waitUntil`): a write that already happened answers at
 * once and never fails for its events. A failure is logged; the events are then lost.
 */
export function publishInBackground(
  c: { env: Env; readonly executionCtx: Pick<ExecutionContext, "waitUntil"> },
  events: readonly DomainEvent[],
): void {
  if (events.length === 0) return;
  c.executionCtx.waitUntil(publishEvents(c.env, events).catch((error) => console.error("publishing webhook events failed", error)));
}
