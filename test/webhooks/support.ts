import { env } from "cloudflare:workers";
import { call } from "../support/api";

export const HOOK_URL = "https://hooks.example.com/chat-context";

/** Creates a webhook through the API; throws unless 201. */
export async function createWebhook(apiKey: string, body: Record<string, unknown> = {}) {
  const response = await call("POST", "/v1/webhooks", { token: apiKey, body: { url: HOOK_URL, events: ["participant.created"], ...body } });
  if (response.status !== 201) throw new Error(`webhook: ${response.status} ${response.text}`);
  return response.json as { id: string; url: string; events: string[]; chatbot_id: string | null; secret: string; created_at: string };
}

/** The webhook's deliveries as the API lists them; throws unless 200. */
export async function deliveriesOf(apiKey: string, webhookId: string, query = "") {
  const response = await call("GET", `/v1/webhooks/${webhookId}/deliveries${query}`, { token: apiKey });
  if (response.status !== 200) throw new Error(`deliveries: ${response.status} ${response.text}`);
  return response.json as { deliveries: Record<string, any>[]; next_cursor: string | null };
}

/** An Env whose queue records what it is sent instead of delivering it. */
export function recordingQueue(options: { refuse?: boolean } = {}) {
  const sent: { body: unknown; contentType?: string }[][] = [];
  const queue = {
    async sendBatch(messages: Iterable<{ body: unknown; contentType?: string }>) {
      if (options.refuse) throw new Error("queue unavailable");
      sent.push([...messages]);
    },
  };
  return {
    env: { ...env, WEBHOOK_QUEUE: queue } as unknown as Env,
    sent,
    ids: () => sent.flat().map((m) => (m.body as { deliveryId: string }).deliveryId),
  };
}

/** Polls until `check` returns a value other than undefined, for work done after the response (`waitUntil`). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 3_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
