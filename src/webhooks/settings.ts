/**
 * Deployment settings of webhooks. ALLOW_LOCAL_WEBHOOKS is in wrangler.toml ("false");
 * the WEBHOOK_* knobs are not: they exist so the end-to-end suite can run a day of retries
 * in seconds, and production keeps the defaults.
 */

type WebhookVars = {
  ALLOW_LOCAL_WEBHOOKS?: string;
  WEBHOOK_RETRY_BASE_SECONDS?: string;
  WEBHOOK_RETRY_WINDOW_SECONDS?: string;
  WEBHOOK_TIMEOUT_SECONDS?: string;
};

/** The first retry waits this long; each next one twice as long as the one before. */
export const RETRY_BASE_SECONDS = 30;
/** Failed deliveries are retried until this long after they were made (then `failed`). */
export const RETRY_WINDOW_SECONDS = 24 * 60 * 60;
/** The longest delay Cloudflare Queues takes for `retry({ delaySeconds })`. */
export const MAX_RETRY_DELAY_SECONDS = 12 * 60 * 60;
/** A receiver gets this long to answer (headers and body). */
export const TIMEOUT_SECONDS = 10;

export type WebhookSettings = {
  allowLocal: boolean;
  retryBaseSeconds: number;
  retryWindowSeconds: number;
  timeoutSeconds: number;
};

function positive(value: string | undefined, fallback: number): number {
  const number = Number(value);
  return value !== undefined && value.trim() !== "" && Number.isFinite(number) && number > 0 ? number : fallback;
}

export function webhookSettings(env: Env): WebhookSettings {
  const vars = env as unknown as WebhookVars;
  return {
    allowLocal:
      String(vars.ALLOW_LOCAL_WEBHOOKS ?? "")
        .trim()
        .toLowerCase() === "true",
    retryBaseSeconds: positive(vars.WEBHOOK_RETRY_BASE_SECONDS, RETRY_BASE_SECONDS),
    retryWindowSeconds: positive(vars.WEBHOOK_RETRY_WINDOW_SECONDS, RETRY_WINDOW_SECONDS),
    timeoutSeconds: positive(vars.WEBHOOK_TIMEOUT_SECONDS, TIMEOUT_SECONDS),
  };
}

/** The delay before the retry that follows failed attempt number `attempts` (1 for the first). */
export function retryDelaySeconds(attempts: number, baseSeconds: number): number {
  const delay = baseSeconds * 2 ** Math.max(0, Math.min(attempts - 1, 30));
  return Math.max(1, Math.min(Math.ceil(delay), MAX_RETRY_DELAY_SECONDS));
}
