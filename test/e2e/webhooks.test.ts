// Webhook deliveries end to end: the queue, the consumer and the network of `wrangler dev`
// (test/browser/global-setup.mjs) against real HTTP receivers on loopback. Every delivery
// is verified with the Standard Webhooks reference library.
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { api, createChatbot } from "../browser/support";
import { closedPortUrl, type Received, type Receiver, startReceiver, WEBHOOK_VARS } from "./receiver";

const TIMEOUT_SECONDS = Number(WEBHOOK_VARS.WEBHOOK_TIMEOUT_SECONDS);

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

async function receiver(answer?: Parameters<typeof startReceiver>[0]) {
  const started = await startReceiver(answer);
  receivers.push(started);
  return started;
}

async function createWebhook(apiKey: string, url: string, events: string[]) {
  const response = await api("POST", "/v1/webhooks", { token: apiKey, body: { url, events } });
  if (response.status !== 201) throw new Error(`webhook: ${response.status} ${response.text}`);
  return response.json as { id: string; secret: string };
}

async function deliveries(apiKey: string, webhookId: string): Promise<Record<string, any>[]> {
  const response = await api("GET", `/v1/webhooks/${webhookId}/deliveries`, { token: apiKey });
  if (response.status !== 200) throw new Error(`deliveries: ${response.status} ${response.text}`);
  return response.json.deliveries;
}

/** Polls `check` every 100 ms until it returns something other than undefined. */
async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const received = (target: Receiver, count: number) => () => (target.received.length >= count ? target.received.slice(0, count) : undefined);

/** Verifies a request with the reference library; returns the payload it carries. */
function verified(secret: string, request: Received) {
  return new Webhook(secret).verify(request.body, request.headers) as { type: string; timestamp: string; data: any };
}

async function createParticipant(apiKey: string, chatbotId: string, identifier: string, data: Record<string, unknown> = {}) {
  const response = await api("POST", "/v1/participants", {
    token: apiKey,
    body: { chatbot_id: chatbotId, channel: "api", identifier, data },
  });
  if (response.status !== 201) throw new Error(`participant: ${response.status} ${response.text}`);
  return response.json;
}

describe("webhook deliveries", () => {
  it("delivers participant.created and participant.data.updated, signed so that standardwebhooks verifies them", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const target = await receiver();
    const webhook = await createWebhook(apiKey, target.url, ["participant.created", "participant.data.updated"]);

    const participant = await createParticipant(apiKey, chatbotId, "e2e-signed", { plan: "pro" });
    const [created] = await until("participant.created", received(target, 1));
    expect(verified(webhook.secret, created!)).toEqual({
      type: "participant.created",
      timestamp: participant.created_at,
      data: { participant },
    });
    expect(created!.headers["content-type"]).toBe("application/json");
    expect(Math.abs(Number(created!.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(30);

    const put = await api("PUT", `/v1/participants/${participant.id}/data`, { token: apiKey, body: { plan: "team", seats: 5 } });
    expect(put.status).toBe(200);
    const [, updated] = await until("participant.data.updated", received(target, 2));
    const payload = verified(webhook.secret, updated!);
    expect(payload).toEqual({ type: "participant.data.updated", timestamp: put.json.updated_at, data: { participant: put.json } });
    expect(updated!.headers["webhook-id"]).not.toBe(created!.headers["webhook-id"]);
    // A forged or altered delivery does not verify.
    expect(() => new Webhook(webhook.secret).verify(updated!.body.replace("team", "free"), updated!.headers)).toThrow();

    const listed = await until("both delivered", async () => {
      const list = await deliveries(apiKey, webhook.id);
      return list.length === 2 && list.every((d) => d.status === "delivered") ? list : undefined;
    });
    expect(listed.map((d) => [d.id, d.event_type, d.attempts, d.last_status_code])).toEqual([
      [updated!.headers["webhook-id"], "participant.data.updated", 1, 200],
      [created!.headers["webhook-id"], "participant.created", 1, 200],
    ]);
  });

  it("retries a receiver that fails twice, under the same webhook-id, and records the delivery after 3 attempts", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const target = await receiver((index) => (index < 2 ? 500 : 200));
    const webhook = await createWebhook(apiKey, target.url, ["participant.created"]);
    await createParticipant(apiKey, chatbotId, "e2e-flaky");

    const attempts = await until("three attempts", received(target, 3));
    for (const attempt of attempts) verified(webhook.secret, attempt);
    expect(new Set(attempts.map((attempt) => attempt.headers["webhook-id"])).size).toBe(1);
    expect(new Set(attempts.map((attempt) => attempt.body)).size).toBe(1);
    // Back-off: 1 s, then 2 s (WEBHOOK_RETRY_BASE_SECONDS=1), give or take the queue's batching.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(900);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(1_900);

    const [delivery] = await until("delivered", async () => {
      const list = await deliveries(apiKey, webhook.id);
      return list[0]?.status === "delivered" ? list : undefined;
    });
    expect(delivery).toMatchObject({ id: attempts[0]!.headers["webhook-id"], attempts: 3, last_status_code: 200, last_error: null });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(target.received).toHaveLength(3);
  });

  it("retries a receiver that never answers and ends one that is gone failed, while other deliveries still arrive", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const good = await receiver();
    const silent = await receiver(() => "hang");
    const goneUrl = await closedPortUrl();
    const goodHook = await createWebhook(apiKey, good.url, ["participant.created"]);
    const silentHook = await createWebhook(apiKey, silent.url, ["participant.created"]);
    const goneHook = await createWebhook(apiKey, goneUrl, ["participant.created"]);

    const first = Date.now();
    await createParticipant(apiKey, chatbotId, "e2e-stall-1");
    await until("the first good delivery", received(good, 1));
    expect(Date.now() - first).toBeLessThan(TIMEOUT_SECONDS * 1000 + 3_000);

    // While the silent and gone deliveries are being retried, new events still get through.
    await until("a retry of the silent receiver", received(silent, 2));
    const second = Date.now();
    await createParticipant(apiKey, chatbotId, "e2e-stall-2");
    await until("the second good delivery", received(good, 2));
    expect(Date.now() - second).toBeLessThan(TIMEOUT_SECONDS * 1000 + 3_000);
    for (const request of good.received) verified(goodHook.secret, request);
    for (const request of silent.received) verified(silentHook.secret, request);

    const finished = async (webhookId: string) => {
      const list = await deliveries(apiKey, webhookId);
      return list.length > 0 && list.every((delivery) => delivery.status === "failed") ? list : undefined;
    };
    const [silentLast, silentFirst] = await until("the silent receiver's deliveries failed", () => finished(silentHook.id), 45_000);
    expect(silentFirst!.attempts).toBeGreaterThanOrEqual(2);
    expect(silentFirst).toMatchObject({ last_status_code: null, last_error: `no answer within ${TIMEOUT_SECONDS} s`, delivered_at: null });
    expect(silentLast!.last_error).toBe(`no answer within ${TIMEOUT_SECONDS} s`);
    const gone = await until("the gone receiver's deliveries failed", () => finished(goneHook.id), 45_000);
    for (const delivery of gone) {
      expect(delivery.attempts).toBeGreaterThanOrEqual(3);
      expect(delivery.last_status_code).toBeNull();
      expect(delivery.last_error).toMatch(/^could not be sent: /);
    }
    const goodList = await deliveries(apiKey, goodHook.id);
    expect(goodList.map((delivery) => [delivery.status, delivery.attempts])).toEqual([
      ["delivered", 1],
      ["delivered", 1],
    ]);
    // The same event reached each receiver under its own id, and the silent one always under the same id.
    const silentIds = new Set(silent.received.map((request) => request.headers["webhook-id"]));
    expect(silentIds.size).toBe(2);
    expect(good.received.map((request) => request.headers["webhook-id"]).some((id) => silentIds.has(id))).toBe(false);
  });
});
