/**
 * The queue consumer: sends each delivery, signed per Standard Webhooks, and records the
 * attempt. A 2xx answer delivers it; anything else (another status, a redirect, no
 * connection, no answer in time) is retried with exponential back-off until the retry
 * window (24 hours) has passed since the delivery was made, then it is `failed`.
 */
import { newId } from "../shared/ids";
import type { WebhookMessage } from "./publish";
import { retryDelaySeconds, type WebhookSettings, webhookSettings } from "./settings";
import { openWebhookSecret, signDelivery } from "./signature";
import { type DeliveryToSend, failDeliveries, findDeliveryToSend, purgeDeliveriesBefore, recordAttempt } from "./storage";
import { checkWebhookUrl } from "./url-rules";

/** `max_retries` of the consumer in wrangler.toml (a test holds the two together). */
export const QUEUE_MAX_RETRIES = 100;
/**
 * A Worker invocation keeps at most 6 connections open at once; more fetches would wait
 * for a slot with their timeout already running. So 6 deliveries go at a time, and each
 * one's timeout starts when it is sent.
 */
const CONCURRENCY = 6;
const DELIVERY_ID = /^dlv_[0-9a-z]{26}$/;
/** Finished deliveries are kept this long for GET /v1/webhooks/:id/deliveries. */
export const DELIVERY_RETENTION_DAYS = 30;
const PURGE_EVERY_MS = 60 * 60 * 1000;
const ERROR_MAX_LENGTH = 300;

type Outcome = { ok: boolean; statusCode: number | null; error: string | null };

async function send(url: URL, delivery: DeliveryToSend, secret: string, timeoutSeconds: number): Promise<Outcome> {
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    "Content-Type": "application/json",
    "User-Agent": "Chat-Context-Webhooks/1",
    "webhook-id": delivery.id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signDelivery(secret, delivery.id, timestamp, delivery.payload),
  };
  try {
    const response = await fetch(url, {
      method: "POST",
      headers,
      body: delivery.payload,
      // A redirect could lead anywhere, past the URL rules: it is a failed attempt.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
    });
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true, statusCode: status, error: null };
    if (status >= 300 && status < 400) {
      const location = (response.headers.get("Location") ?? "nowhere").slice(0, 200);
      return { ok: false, statusCode: status, error: `redirected to ${location}; redirects are not followed` };
    }
    return { ok: false, statusCode: status, error: `answered ${status}, not 2xx` };
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === "TimeoutError" || name === "AbortError")
      return { ok: false, statusCode: null, error: `no answer within ${timeoutSeconds} s` };
    return {
      ok: false,
      statusCode: null,
      error: `could not be sent: ${String((error as Error)?.message ?? error)}`.slice(0, ERROR_MAX_LENGTH),
    };
  }
}

async function deliverOne(message: Message<unknown>, env: Env, settings: WebhookSettings): Promise<void> {
  const id = (message.body as Partial<WebhookMessage> | null)?.deliveryId;
  if (typeof id !== "string" || !DELIVERY_ID.test(id)) return message.ack();
  const delivery = await findDeliveryToSend(env.DB, id);
  // Gone, or already delivered or failed (a queue message can arrive twice).
  if (delivery?.status !== "pending") return message.ack();
  const closeWith = async (error: string) => {
    await failDeliveries(env.DB, [id], error);
    message.ack();
  };
  if (delivery.webhook_deleted) return closeWith("webhook deleted");
  // Checked again: ALLOW_LOCAL_WEBHOOKS may have been turned off since it was created.
  const verdict = checkWebhookUrl(delivery.url, settings.allowLocal);
  if (!verdict.ok) return closeWith(`url refused: ${verdict.reason}`.slice(0, ERROR_MAX_LENGTH));
  const secret = await openWebhookSecret(env.TOKEN_SECRET, delivery.secret);
  if (secret === null) return closeWith("the signing secret cannot be opened (TOKEN_SECRET changed): create the webhook again");

  const outcome = await send(verdict.url, delivery, secret, settings.timeoutSeconds);
  const now = Date.now();
  const attempts = delivery.attempts + 1;
  const windowPassed = (now - Date.parse(delivery.created_at)) / 1000 >= settings.retryWindowSeconds;
  // The queue would drop the message after its last retry: end the delivery before that.
  const lastRetry = message.attempts >= QUEUE_MAX_RETRIES + 1;
  const status = outcome.ok ? "delivered" : windowPassed || lastRetry ? "failed" : "pending";
  const recorded = await recordAttempt(env.DB, id, {
    status,
    statusCode: outcome.statusCode,
    error: outcome.error,
    now: new Date(now).toISOString(),
  });
  if (status === "pending" && recorded) message.retry({ delaySeconds: retryDelaySeconds(attempts, settings.retryBaseSeconds) });
  else message.ack();
}

let nextPurgeAt = 0;

/** At most once an hour per isolate: finished deliveries older than the retention go, a bounded number at a time. */
async function purgeOldDeliveries(db: D1Database): Promise<void> {
  const now = Date.now();
  if (now < nextPurgeAt) return;
  nextPurgeAt = now + PURGE_EVERY_MS;
  const cutoff = newId("dlv", now - DELIVERY_RETENTION_DAYS * 24 * 60 * 60 * 1000).slice(0, "dlv_".length + 10);
  await purgeDeliveriesBefore(db, cutoff);
}

/** The `queue` handler of the Worker (wrangler.toml `[[queues.consumers]]`). */
export async function deliverWebhooks(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const settings = webhookSettings(env);
  const waiting = [...batch.messages];
  // Each message on its own: a slow or gone receiver holds one slot for at most its timeout.
  const worker = async () => {
    for (let message = waiting.shift(); message; message = waiting.shift()) {
      try {
        await deliverOne(message, env, settings);
      } catch (error) {
        // D1 unavailable or a bug: the queue brings the message back later.
        console.error("webhook delivery could not be handled", error);
        message.retry({ delaySeconds: retryDelaySeconds(message.attempts, settings.retryBaseSeconds) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, waiting.length) }, worker));
  await purgeOldDeliveries(env.DB).catch((error) => console.error("purging old webhook deliveries failed", error));
}
