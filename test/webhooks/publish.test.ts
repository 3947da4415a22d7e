import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type DomainEvent, type EventType, newEventId } from "../../src/webhooks/events";
import { deliveryIdOf, publishEvents } from "../../src/webhooks/publish";
import { call, countD1Statements, createChatbot, createTeam } from "../support/api";
import { createParticipant } from "../support/participants";
import { createWebhook, deliveriesOf, eventually, recordingQueue } from "./support";

function event(teamId: string, type: EventType, chatbotId: string | null, data: Record<string, unknown> = {}): DomainEvent {
  return { id: newEventId(), type, teamId, chatbotId, timestamp: new Date().toISOString(), data };
}

async function rowsOf(webhookId: string) {
  const { results } = await env.DB.prepare("SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id").bind(webhookId).all<any>();
  return results;
}

describe("publishEvents", () => {
  it("writes nothing where nothing subscribes, and reads D1 at most once per team in 10 s", async () => {
    const team = await createTeam();
    const queue = recordingQueue();
    const first = await countD1Statements(() => publishEvents(queue.env, [event(team.id, "message.created", null)]));
    expect(first.statements).toBe(1);
    const again = await countD1Statements(() =>
      publishEvents(queue.env, [event(team.id, "message.created", null), event(team.id, "participant.created", null)]),
    );
    expect(again.statements).toBe(0);
    expect(await countD1Statements(() => publishEvents(queue.env, [])).then((r) => r.statements)).toBe(0);
    expect(queue.sent).toEqual([]);
  });

  it("sees a webhook created or deleted in this isolate at once", async () => {
    const team = await createTeam();
    const queue = recordingQueue();
    await publishEvents(queue.env, [event(team.id, "participant.created", null)]);
    const webhook = await createWebhook(team.apiKey);
    await publishEvents(queue.env, [event(team.id, "participant.created", null)]);
    expect(await rowsOf(webhook.id)).toHaveLength(1);
    await call("DELETE", `/v1/webhooks/${webhook.id}`, { token: team.apiKey });
    await publishEvents(queue.env, [event(team.id, "participant.created", null)]);
    expect(await rowsOf(webhook.id)).toHaveLength(1);
    expect(queue.sent.flat()).toHaveLength(1);
  });

  it("hands each event to the team's webhooks of its type and chatbot: one delivery row and one queue message each", async () => {
    const team = await createTeam();
    const [shop, blog] = [await createChatbot(team.apiKey), await createChatbot(team.apiKey)];
    const everyBot = await createWebhook(team.apiKey, { events: ["participant.created"] });
    const shopOnly = await createWebhook(team.apiKey, { events: ["participant.created", "message.created"], chatbot_id: shop.id });
    const blogOnly = await createWebhook(team.apiKey, { events: ["participant.created"], chatbot_id: blog.id });
    const other = await createTeam();
    const theirs = await createWebhook(other.apiKey, { events: ["participant.created", "message.created"] });

    const queue = recordingQueue();
    const created = event(team.id, "participant.created", shop.id, { participant: { id: "part_x" } });
    const message = event(team.id, "message.created", shop.id, { text: "hi" });
    const unscoped = event(team.id, "message.created", null);
    const ignored = event(team.id, "conversation.ended", shop.id);
    await publishEvents(queue.env, [created, message, unscoped, ignored]);

    const everyRows = await rowsOf(everyBot.id);
    const shopRows = await rowsOf(shopOnly.id);
    expect(everyRows.map((row) => row.event_id)).toEqual([created.id]);
    expect(shopRows.map((row) => row.event_id).sort()).toEqual([created.id, message.id].sort());
    expect(await rowsOf(blogOnly.id)).toEqual([]);
    expect(await rowsOf(theirs.id)).toEqual([]);

    const row = everyRows[0];
    expect(row).toMatchObject({ event_type: "participant.created", status: "pending", attempts: 0 });
    expect(JSON.parse(row.payload)).toEqual({ type: "participant.created", timestamp: created.timestamp, data: created.data });
    expect(row.id).toBe(await deliveryIdOf(created, everyBot.id));
    expect(queue.sent.flat().map((m) => m.contentType)).toEqual(["json", "json", "json"]);
    expect(queue.ids().sort()).toEqual([...everyRows, ...shopRows].map((r) => r.id).sort());
  });

  it("gives the same event one delivery id per webhook, however often it is published", async () => {
    const team = await createTeam();
    const a = await createWebhook(team.apiKey);
    const b = await createWebhook(team.apiKey);
    const queue = recordingQueue();
    const once = event(team.id, "participant.created", null);
    await publishEvents(queue.env, [once]);
    await publishEvents(queue.env, [once, once]);
    const [rowA] = await rowsOf(a.id);
    const [rowB] = await rowsOf(b.id);
    expect(await rowsOf(a.id)).toHaveLength(1);
    expect(await rowsOf(b.id)).toHaveLength(1);
    expect(rowA.id).not.toBe(rowB.id);
    expect(rowA.id).toMatch(/^dlv_[0-9a-z]{26}$/);
    // Only new rows are queued.
    expect(queue.ids().sort()).toEqual([rowA.id, rowB.id].sort());
    // Derived from the event and the webhook alone, ordered by the event's time.
    expect(await deliveryIdOf(once, a.id)).toBe(rowA.id);
    const later = {
      ...once,
      id: newEventId(Date.parse(once.timestamp) + 60_000),
      timestamp: new Date(Date.parse(once.timestamp) + 60_000).toISOString(),
    };
    expect((await deliveryIdOf(later, a.id)) > rowA.id).toBe(true);
  });

  it("queues at most 100 messages per sendBatch", async () => {
    const team = await createTeam();
    await createWebhook(team.apiKey);
    const queue = recordingQueue();
    await publishEvents(
      queue.env,
      Array.from({ length: 150 }, () => event(team.id, "participant.created", null)),
    );
    expect(queue.sent.map((batch) => batch.length)).toEqual([100, 50]);
  });

  it("ends deliveries the queue refused as failed, and rejects", async () => {
    const team = await createTeam();
    const webhook = await createWebhook(team.apiKey);
    await expect(publishEvents(recordingQueue({ refuse: true }).env, [event(team.id, "participant.created", null)])).rejects.toThrow(
      "queue unavailable",
    );
    const [delivery] = (await deliveriesOf(team.apiKey, webhook.id)).deliveries;
    expect(delivery).toMatchObject({ status: "failed", attempts: 0, last_error: "could not be queued: queue unavailable" });
  });
});

describe("participant events", () => {
  afterEach(() => vi.restoreAllMocks());

  /** The queue's messages stay here: the consumer is tested on its own (deliver.test.ts). */
  function holdQueue() {
    return vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockResolvedValue({} as QueueSendBatchResponse);
  }

  async function payloads(apiKey: string, webhookId: string, count: number) {
    const deliveries = await eventually(async () => {
      const { deliveries } = await deliveriesOf(apiKey, webhookId);
      return deliveries.length >= count ? deliveries : undefined;
    });
    const rows = await rowsOf(webhookId);
    return deliveries.map((delivery) => JSON.parse(rows.find((row) => row.id === delivery.id).payload));
  }

  it("publishes participant.created from POST /v1/participants and from a write that creates one", async () => {
    const sendBatch = holdQueue();
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const webhook = await createWebhook(team.apiKey, { events: ["participant.created", "participant.data.updated"] });
    const participant = await createParticipant(team.apiKey, chatbot.id, { data: { plan: "pro" } });
    const [created] = await payloads(team.apiKey, webhook.id, 1);
    expect(created).toEqual({ type: "participant.created", timestamp: participant.created_at, data: { participant } });

    const upserted = await call("PUT", `/v1/participants/by-identifier/${chatbot.id}/web/visitor-7/data`, {
      token: team.apiKey,
      body: { a: 1 },
    });
    expect(upserted.status).toBe(201);
    const [latest] = await payloads(team.apiKey, webhook.id, 2);
    expect(latest).toMatchObject({ type: "participant.created", data: { participant: { id: upserted.json.id, data: { a: 1 } } } });
    expect(sendBatch).toHaveBeenCalledTimes(2);
  });

  it("publishes participant.data.updated for each write that changes data, and nothing for one that changes nothing or is replayed", async () => {
    holdQueue();
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const participant = await createParticipant(team.apiKey, chatbot.id);
    const webhook = await createWebhook(team.apiKey, { events: ["participant.data.updated"] });
    const path = `/v1/participants/${participant.id}/data`;

    const put = await call("PUT", path, { token: team.apiKey, body: { plan: "pro" } });
    expect(put.status).toBe(200);
    const [updated] = await payloads(team.apiKey, webhook.id, 1);
    expect(updated).toEqual({ type: "participant.data.updated", timestamp: put.json.updated_at, data: { participant: put.json } });

    // The same data again: no write, no event. A replayed Idempotency-Key: no event either.
    expect((await call("PUT", path, { token: team.apiKey, body: { plan: "pro" } })).status).toBe(200);
    const headers = { "Idempotency-Key": "once-only" };
    const patched = await call("PATCH", path, { token: team.apiKey, body: { seats: 3 }, headers });
    const replayed = await call("PATCH", path, { token: team.apiKey, body: { seats: 3 }, headers });
    expect(replayed.headers.get("Idempotent-Replayed")).toBe("true");
    const increment = await call("POST", `${path}/increment`, { token: team.apiKey, body: { key: "visits" } });
    expect(increment.status).toBe(200);

    const all = await payloads(team.apiKey, webhook.id, 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await deliveriesOf(team.apiKey, webhook.id)).deliveries).toHaveLength(3);
    expect(all.map((payload) => payload.data.participant.version)).toEqual([4, 3, 2]);
    expect(all[1].data.participant).toEqual(patched.json);
  });
});
