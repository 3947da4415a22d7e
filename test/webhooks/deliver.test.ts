import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { deliverWebhooks, QUEUE_MAX_RETRIES } from "../../src/webhooks/deliver";
import { newEventId } from "../../src/webhooks/events";
import { publishEvents } from "../../src/webhooks/publish";
import { MAX_RETRY_DELAY_SECONDS, RETRY_WINDOW_SECONDS, retryDelaySeconds } from "../../src/webhooks/settings";
import { signDelivery } from "../../src/webhooks/signature";
import wranglerToml from "../../wrangler.toml?raw";
import { call, createTeam } from "../support/api";
import { createWebhook, deliveriesOf, HOOK_URL, recordingQueue } from "./support";

type Sent = { url: string; init: RequestInit; headers: Record<string, string>; body: string };

/** Stands in for the network: records each request and answers with `answer`. */
function receiver(answer: (sent: Sent, index: number) => Promise<Response> | Response) {
  const sent: Sent[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init = {}) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const request = { url: String(input), init, headers, body: String(init.body) };
    sent.push(request);
    return answer(request, sent.length - 1);
  });
  return { sent, spy };
}

/** A team with a webhook and one pending delivery of a participant.created event. */
async function pendingDelivery(webhookBody: Record<string, unknown> = {}, vars: Record<string, string> = {}) {
  const team = await createTeam();
  const webhook = await createWebhook(team.apiKey, webhookBody);
  const queue = recordingQueue();
  const event = {
    id: newEventId(),
    type: "participant.created" as const,
    teamId: team.id,
    chatbotId: null,
    timestamp: new Date().toISOString(),
    data: { participant: { id: "part_1", data: { plan: "pro", note: "ünïcödé ✓" } } },
  };
  await publishEvents({ ...queue.env, ...vars } as Env, [event]);
  return { team, webhook, event, deliveryId: queue.ids()[0]! };
}

type Outcome = { explicitAcks: string[]; retryMessages: { msgId: string; delaySeconds?: number }[] };

/** A batch of queue messages that records acks and retries with their delays. */
function batchOf(bodies: { id: string; body: unknown; attempts?: number }[]) {
  const outcome: Outcome = { explicitAcks: [], retryMessages: [] };
  const messages = bodies.map(({ id, body, attempts }) => ({
    id,
    timestamp: new Date(),
    body,
    attempts: attempts ?? 1,
    ack: () => outcome.explicitAcks.push(id),
    retry: (options?: QueueRetryOptions) => outcome.retryMessages.push({ msgId: id, ...options }),
  }));
  return { batch: { queue: "chat-context-webhooks", messages, metadata: {} } as unknown as MessageBatch<unknown>, outcome };
}

/** Runs the consumer on messages for these deliveries; returns what it acked and retried. */
async function consume(deliveryIds: string[], options: { vars?: Record<string, string>; attempts?: number; env?: Env } = {}) {
  const { batch, outcome } = batchOf(
    deliveryIds.map((deliveryId, i) => ({ id: `m${i}`, body: { deliveryId }, attempts: options.attempts })),
  );
  await deliverWebhooks(batch, { ...(options.env ?? env), ...options.vars } as Env);
  return outcome;
}

async function deliveryOf(apiKey: string, webhookId: string) {
  return (await deliveriesOf(apiKey, webhookId)).deliveries[0]!;
}

afterEach(() => vi.restoreAllMocks());

describe("webhook signatures", () => {
  it("match the Standard Webhooks reference library", async () => {
    const secret = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
    const body = JSON.stringify({ type: "message.created", timestamp: "2026-01-01T00:00:00.000Z", data: { text: "é ✓" } });
    const now = Math.floor(Date.now() / 1000);
    const signature = await signDelivery(secret, "dlv_0000000000aaaaaaaaaaaaaaaa", now, body);
    expect(signature).toBe(new Webhook(secret).sign("dlv_0000000000aaaaaaaaaaaaaaaa", new Date(now * 1000), body));
    const headers = { "webhook-id": "dlv_0000000000aaaaaaaaaaaaaaaa", "webhook-timestamp": String(now), "webhook-signature": signature };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });
});

describe("the retry schedule", () => {
  it("waits 30 s, then twice as long each time, at most the queue's 12 hours", () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelaySeconds(n, 30))).toEqual([30, 60, 120, 240, 480]);
    expect(retryDelaySeconds(11, 30)).toBe(30_720);
    expect(retryDelaySeconds(12, 30)).toBe(MAX_RETRY_DELAY_SECONDS);
    expect(retryDelaySeconds(1_000, 30)).toBe(MAX_RETRY_DELAY_SECONDS);
    expect(MAX_RETRY_DELAY_SECONDS).toBe(43_200);
  });

  it("retries for at least 24 hours within the queue's max_retries, which wrangler.toml and the code agree on", () => {
    let elapsed = 0;
    let attempts = 1;
    while (elapsed < RETRY_WINDOW_SECONDS) elapsed += retryDelaySeconds(attempts++, 30);
    // Attempt 12 comes about 17 hours in and waits 12 hours more: attempt 13, 29 hours in, is the last.
    expect(attempts).toBe(13);
    expect(elapsed).toBe(104_610);
    expect(attempts).toBeLessThan(QUEUE_MAX_RETRIES);
    const consumer = /\[\[queues\.consumers\]\]\s*\nqueue = "chat-context-webhooks"\n(?:.*\n)*?max_retries = (\d+)/.exec(wranglerToml);
    expect(Number(consumer?.[1])).toBe(QUEUE_MAX_RETRIES);
    expect(wranglerToml).toMatch(/\[\[queues\.producers\]\]\s*\nbinding = "WEBHOOK_QUEUE"\nqueue = "chat-context-webhooks"/);
  });
});

describe("the webhook queue consumer", () => {
  it("posts the body signed per Standard Webhooks, marks a 2xx delivered and acks", async () => {
    const { team, webhook, event, deliveryId } = await pendingDelivery();
    const network = receiver(() => new Response(null, { status: 204 }));
    const result = await consume([deliveryId]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([]);

    const [sent] = network.sent;
    expect(sent!.url).toBe(HOOK_URL);
    expect(sent!.init.method).toBe("POST");
    expect(sent!.init.redirect).toBe("manual");
    expect(sent!.init.signal).toBeInstanceOf(AbortSignal);
    expect(sent!.headers["content-type"]).toBe("application/json");
    expect(sent!.headers["webhook-id"]).toBe(deliveryId);
    expect(Math.abs(Number(sent!.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(5);
    expect(sent!.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const verified = new Webhook(webhook.secret).verify(sent!.body, sent!.headers);
    expect(verified).toEqual({ type: "participant.created", timestamp: event.timestamp, data: event.data });

    const delivery = await deliveryOf(team.apiKey, webhook.id);
    expect(delivery).toMatchObject({ id: deliveryId, status: "delivered", attempts: 1, last_status_code: 204, last_error: null });
    expect(Date.parse(delivery.delivered_at)).toBeGreaterThanOrEqual(Date.parse(delivery.created_at));
  });

  it("retries a non-2xx with back-off under the same webhook-id, each attempt recorded, until a 2xx", async () => {
    const { team, webhook, deliveryId } = await pendingDelivery();
    const network = receiver((_, index) => new Response("busy", { status: index < 2 ? 500 : 200 }));

    const first = await consume([deliveryId]);
    expect(first.retryMessages).toEqual([{ msgId: "m0", delaySeconds: 30 }]);
    expect(await deliveryOf(team.apiKey, webhook.id)).toMatchObject({
      status: "pending",
      attempts: 1,
      last_status_code: 500,
      last_error: "answered 500, not 2xx",
      delivered_at: null,
    });
    const second = await consume([deliveryId], { attempts: 2 });
    expect(second.retryMessages).toEqual([{ msgId: "m0", delaySeconds: 60 }]);
    expect(await deliveryOf(team.apiKey, webhook.id)).toMatchObject({ status: "pending", attempts: 2 });
    const third = await consume([deliveryId], { attempts: 3 });
    expect(third.explicitAcks).toEqual(["m0"]);
    expect(await deliveryOf(team.apiKey, webhook.id)).toMatchObject({
      status: "delivered",
      attempts: 3,
      last_status_code: 200,
      last_error: null,
    });

    expect(new Set(network.sent.map((sent) => sent.headers["webhook-id"]))).toEqual(new Set([deliveryId]));
    expect(new Set(network.sent.map((sent) => sent.body)).size).toBe(1);
    for (const sent of network.sent) new Webhook(webhook.secret).verify(sent.body, sent.headers);

    // A duplicate message of a delivered delivery sends nothing.
    await consume([deliveryId]);
    expect(network.sent).toHaveLength(3);
  });

  it("does not follow a redirect: a 3xx is a failed attempt", async () => {
    const { team, webhook, deliveryId } = await pendingDelivery();
    const network = receiver(() => new Response(null, { status: 302, headers: { Location: "http://169.254.169.254/latest" } }));
    const result = await consume([deliveryId]);
    expect(result.retryMessages).toHaveLength(1);
    expect(network.sent).toHaveLength(1);
    expect(await deliveryOf(team.apiKey, webhook.id)).toMatchObject({
      status: "pending",
      last_status_code: 302,
      last_error: "redirected to http://169.254.169.254/latest; redirects are not followed",
    });
  });

  it("records a receiver that does not answer in time, and one that cannot be reached", async () => {
    const slow = await pendingDelivery();
    receiver(
      (sent) =>
        new Promise<Response>((_, reject) => {
          sent.init.signal!.addEventListener("abort", () => reject(sent.init.signal!.reason));
        }),
    );
    const timedOut = await consume([slow.deliveryId], { vars: { WEBHOOK_TIMEOUT_SECONDS: "0.05" } });
    expect(timedOut.retryMessages).toEqual([{ msgId: "m0", delaySeconds: 30 }]);
    expect(await deliveryOf(slow.team.apiKey, slow.webhook.id)).toMatchObject({
      status: "pending",
      attempts: 1,
      last_status_code: null,
      last_error: "no answer within 0.05 s",
    });

    vi.restoreAllMocks();
    const gone = await pendingDelivery();
    receiver(() => Promise.reject(new TypeError("Network connection lost.")));
    expect((await consume([gone.deliveryId])).retryMessages).toHaveLength(1);
    expect(await deliveryOf(gone.team.apiKey, gone.webhook.id)).toMatchObject({
      status: "pending",
      last_status_code: null,
      last_error: "could not be sent: Network connection lost.",
    });
  });

  it("ends a delivery failed once the retry window has passed since it was made", async () => {
    const { team, webhook, deliveryId } = await pendingDelivery();
    const dayAgo = new Date(Date.now() - RETRY_WINDOW_SECONDS * 1000 - 1000).toISOString();
    await env.DB.prepare("UPDATE webhook_deliveries SET created_at = ? WHERE id = ?").bind(dayAgo, deliveryId).run();
    receiver(() => new Response("no", { status: 503 }));
    const result = await consume([deliveryId], { attempts: 13 });
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([]);
    expect(await deliveryOf(team.apiKey, webhook.id)).toMatchObject({ status: "failed", attempts: 1, last_status_code: 503 });
  });

  it("ends a delivery failed on the queue's last retry rather than let the queue drop it", async () => {
    const { team, webhook, deliveryId } = await pendingDelivery();
    receiver(() => new Response("no", { status: 500 }));
    const result = await consume([deliveryId], { attempts: QUEUE_MAX_RETRIES + 1 });
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(await deliveryOf(team.apiKey, webhook.id)).toMatchObject({ status: "failed" });
  });

  it("ends the deliveries of a deleted webhook failed without sending them", async () => {
    const { team, webhook, deliveryId } = await pendingDelivery();
    await call("DELETE", `/v1/webhooks/${webhook.id}`, { token: team.apiKey });
    const network = receiver(() => new Response("ok"));
    expect((await consume([deliveryId])).explicitAcks).toEqual(["m0"]);
    expect(network.sent).toEqual([]);
    const row = await env.DB.prepare("SELECT status, attempts, last_error FROM webhook_deliveries WHERE id = ?").bind(deliveryId).first();
    expect(row).toEqual({ status: "failed", attempts: 0, last_error: "webhook deleted" });
  });

  it("checks the URL again when sending: a loopback webhook fails where local webhooks are no longer allowed", async () => {
    const team = await createTeam();
    const created = await createWebhook(team.apiKey).catch(() => null);
    expect(created).not.toBeNull();
    // Made where loopback was allowed (a local deployment), sent where it is not.
    await env.DB.prepare("UPDATE webhooks SET url = 'http://127.0.0.1:9/hook' WHERE id = ?").bind(created!.id).run();
    const queue = recordingQueue();
    await publishEvents(queue.env, [
      { id: newEventId(), type: "participant.created", teamId: team.id, chatbotId: null, timestamp: new Date().toISOString(), data: {} },
    ]);
    const network = receiver(() => new Response("ok"));
    expect((await consume(queue.ids())).explicitAcks).toEqual(["m0"]);
    expect(network.sent).toEqual([]);
    expect(await deliveryOf(team.apiKey, created!.id)).toMatchObject({ status: "failed", attempts: 0 });
    expect((await deliveryOf(team.apiKey, created!.id)).last_error).toMatch(/^url refused: 127\.0\.0\.1 is a loopback host/);

    // And is sent where they are.
    const again = await pendingDelivery();
    await env.DB.prepare("UPDATE webhooks SET url = 'http://127.0.0.1:9/hook' WHERE id = ?").bind(again.webhook.id).run();
    const local = receiver(() => new Response("ok"));
    await consume([again.deliveryId], { vars: { ALLOW_LOCAL_WEBHOOKS: "true" } });
    expect(local.sent.map((sent) => sent.url)).toEqual(["http://127.0.0.1:9/hook"]);
  });

  it("fails a delivery whose secret no longer opens (TOKEN_SECRET changed)", async () => {
    const { team, webhook, deliveryId } = await pendingDelivery();
    const network = receiver(() => new Response("ok"));
    await consume([deliveryId], { vars: { TOKEN_SECRET: "another-token-secret-0123456789abcdef" } });
    expect(network.sent).toEqual([]);
    expect(await deliveryOf(team.apiKey, webhook.id)).toMatchObject({ status: "failed" });
    expect((await deliveryOf(team.apiKey, webhook.id)).last_error).toMatch(/TOKEN_SECRET/);
  });

  it("acks messages that name no pending delivery, and retries one it could not handle", async () => {
    const network = receiver(() => new Response("ok"));
    const { batch, outcome } = batchOf([
      { id: "junk", body: "not an object" },
      { id: "null", body: null },
      { id: "missing", body: { deliveryId: "dlv_00000000000000000000000000" } },
      { id: "bad-id", body: { deliveryId: "'; DROP TABLE webhooks; --" } },
    ]);
    await deliverWebhooks(batch, env);
    expect(outcome.explicitAcks.sort()).toEqual(["bad-id", "junk", "missing", "null"]);
    expect(network.sent).toEqual([]);

    const { deliveryId } = await pendingDelivery();
    const broken = {
      ...env,
      DB: { prepare: () => ({ bind: () => ({ first: () => Promise.reject(new Error("D1 is down")) }) }) },
    } as unknown as Env;
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const result = await consume([deliveryId], { env: broken, attempts: 3 });
    expect(result.retryMessages).toEqual([{ msgId: "m0", delaySeconds: 120 }]);
  });

  it("sends six at a time, and a slow receiver holds up no other delivery", async () => {
    const team = await createTeam();
    const slowHook = await createWebhook(team.apiKey, { url: "https://slow.example.com/hook", events: ["participant.data.updated"] });
    const fastHook = await createWebhook(team.apiKey, { url: "https://fast.example.com/hook", events: ["participant.created"] });
    const queue = recordingQueue();
    const event = (type: "participant.created" | "participant.data.updated") => ({
      id: newEventId(),
      type,
      teamId: team.id,
      chatbotId: null,
      timestamp: new Date().toISOString(),
      data: {},
    });
    await publishEvents(queue.env, [event("participant.data.updated"), ...Array.from({ length: 11 }, () => event("participant.created"))]);
    let inFlight = 0;
    let most = 0;
    const finished: string[] = [];
    receiver(async (sent) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, sent.url.includes("slow") ? 300 : 20));
      inFlight--;
      finished.push(sent.url);
      return new Response("ok");
    });
    const result = await consume(queue.ids());
    expect(result.explicitAcks).toHaveLength(12);
    expect(most).toBe(6);
    // Every fast delivery finishes before the slow one, which holds one place only.
    expect(finished.at(-1)).toBe("https://slow.example.com/hook");
    expect((await deliveriesOf(team.apiKey, slowHook.id)).deliveries.map((delivery) => delivery.status)).toEqual(["delivered"]);
    expect((await deliveriesOf(team.apiKey, fastHook.id)).deliveries.map((delivery) => delivery.status)).toEqual(
      Array(11).fill("delivered"),
    );
  });
});
