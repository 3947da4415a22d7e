import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/shared/ids";
import { insertTeam } from "../../src/teams/storage";
import {
  deleteWebhook,
  failDeliveries,
  findDeliveryToSend,
  findTeamSubscriptions,
  findTeamWebhook,
  insertDeliveries,
  insertWebhookWithinLimit,
  listDeliveries,
  listRecentDeliveries,
  listTeamWebhooks,
  type NewDelivery,
  purgeDeliveriesBefore,
  recordAttempt,
  type Webhook,
} from "../../src/webhooks/storage";
import { countD1Statements, queryPlan } from "../support/api";

async function team(): Promise<string> {
  const id = newId("team");
  await insertTeam(env.DB, { id, name: "t", created_at: "2026-01-01T00:00:00.000Z" }).run();
  return id;
}

function webhook(teamId: string, overrides: Partial<Webhook> = {}): Webhook {
  return {
    id: newId("wh"),
    team_id: teamId,
    chatbot_id: null,
    url: "https://hooks.example.com/x",
    events: ["participant.created"],
    secret: "v1.sealed.secret",
    created_at: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

/** A delivery whose id sorts by `at` (ms), as publishing makes them. */
function delivery(webhookId: string, at: number, overrides: Partial<NewDelivery> = {}): NewDelivery {
  return {
    id: newId("dlv", at),
    webhook_id: webhookId,
    event_id: newId("evt", at),
    event_type: "participant.created",
    payload: '{"type":"participant.created"}',
    created_at: new Date(at).toISOString(),
    ...overrides,
  };
}

describe("webhooks storage", () => {
  it("stores a webhook and reads it back for its own team only, events as a list", async () => {
    const owner = await team();
    const hook = webhook(owner, { events: ["message.created", "participant.created"] });
    expect(await insertWebhookWithinLimit(env.DB, hook, 20)).toBe(true);
    expect(await findTeamWebhook(env.DB, owner, hook.id)).toEqual(hook);
    expect(await findTeamWebhook(env.DB, await team(), hook.id)).toBeNull();
    expect(await listTeamWebhooks(env.DB, owner)).toEqual([hook]);
  });

  it("inserts within the team's limit only, counting live webhooks", async () => {
    const owner = await team();
    const first = webhook(owner);
    expect(await insertWebhookWithinLimit(env.DB, first, 2)).toBe(true);
    expect(await insertWebhookWithinLimit(env.DB, webhook(owner), 2)).toBe(true);
    expect(await insertWebhookWithinLimit(env.DB, webhook(owner), 2)).toBe(false);
    expect(await deleteWebhook(env.DB, owner, first.id, "2026-01-02T00:00:00.000Z")).toBe(true);
    expect(await insertWebhookWithinLimit(env.DB, webhook(owner), 2)).toBe(true);
    // Another team's count is its own.
    expect(await insertWebhookWithinLimit(env.DB, webhook(await team()), 2)).toBe(true);
  });

  it("deletes a webhook of its team once, keeping the row for its deliveries", async () => {
    const owner = await team();
    const hook = webhook(owner);
    await insertWebhookWithinLimit(env.DB, hook, 20);
    expect(await deleteWebhook(env.DB, await team(), hook.id, "2026-01-02T00:00:00.000Z")).toBe(false);
    expect(await deleteWebhook(env.DB, owner, hook.id, "2026-01-02T00:00:00.000Z")).toBe(true);
    expect(await deleteWebhook(env.DB, owner, hook.id, "2026-01-03T00:00:00.000Z")).toBe(false);
    expect(await findTeamWebhook(env.DB, owner, hook.id)).toBeNull();
    expect(await listTeamWebhooks(env.DB, owner)).toEqual([]);
    const row = await env.DB.prepare("SELECT deleted_at FROM webhooks WHERE id = ?").bind(hook.id).first();
    expect(row).toEqual({ deleted_at: "2026-01-02T00:00:00.000Z" });
  });

  it("caches a team's subscriptions for 10 s, and drops them on a write in this isolate", async () => {
    const owner = await team();
    const now = Date.now();
    expect(await findTeamSubscriptions(env.DB, owner, now)).toEqual([]);
    // Written behind the cache's back (another isolate): unseen until the entry expires.
    const hidden = webhook(owner);
    await env.DB.prepare("INSERT INTO webhooks (id, team_id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(hidden.id, owner, hidden.url, JSON.stringify(hidden.events), hidden.secret, hidden.created_at)
      .run();
    expect(await findTeamSubscriptions(env.DB, owner, now + 9_999)).toEqual([]);
    expect(await findTeamSubscriptions(env.DB, owner, now + 10_001)).toEqual([
      { id: hidden.id, chatbot_id: null, events: ["participant.created"] },
    ]);
    const added = webhook(owner, { events: ["message.created"] });
    await insertWebhookWithinLimit(env.DB, added, 20);
    expect((await findTeamSubscriptions(env.DB, owner, now + 10_002)).map((s) => s.id).sort()).toEqual([hidden.id, added.id].sort());
    await deleteWebhook(env.DB, owner, hidden.id, "2026-01-02T00:00:00.000Z");
    expect((await findTeamSubscriptions(env.DB, owner, now + 10_003)).map((s) => s.id)).toEqual([added.id]);
  });
});

describe("webhook deliveries storage", () => {
  async function hookOf() {
    const owner = await team();
    const hook = webhook(owner);
    await insertWebhookWithinLimit(env.DB, hook, 20);
    return hook;
  }

  it("inserts each delivery once and says which are new", async () => {
    const hook = await hookOf();
    const a = delivery(hook.id, Date.parse("2026-02-01T00:00:00Z"));
    const b = delivery(hook.id, Date.parse("2026-02-01T00:00:01Z"));
    expect(await insertDeliveries(env.DB, [a])).toEqual([a.id]);
    expect(await insertDeliveries(env.DB, [a, b, { ...a, payload: "changed" }])).toEqual([b.id]);
    expect(await insertDeliveries(env.DB, [])).toEqual([]);
    const found = await findDeliveryToSend(env.DB, a.id);
    expect(found).toEqual({
      id: a.id,
      event_type: "participant.created",
      payload: a.payload,
      status: "pending",
      attempts: 0,
      created_at: a.created_at,
      url: hook.url,
      secret: hook.secret,
      webhook_deleted: false,
    });
    await deleteWebhook(env.DB, hook.team_id, hook.id, "2026-03-01T00:00:00.000Z");
    expect((await findDeliveryToSend(env.DB, a.id))?.webhook_deleted).toBe(true);
    expect(await findDeliveryToSend(env.DB, "dlv_00000000000000000000000000")).toBeNull();
  });

  it("inserts many in statements of 16 rows, in one batch, and returns each new id once", async () => {
    const hook = await hookOf();
    const start = Date.parse("2026-02-02T00:00:00Z");
    const many = Array.from({ length: 40 }, (_, i) => delivery(hook.id, start + i));
    await insertDeliveries(env.DB, many.slice(0, 5));
    const { result, statements } = await countD1Statements(() => insertDeliveries(env.DB, [...many, many[30]!]));
    expect(statements).toBe(3);
    expect(result.sort()).toEqual(
      many
        .slice(5)
        .map((d) => d.id)
        .sort(),
    );
    expect((await listDeliveries(env.DB, hook.id, { limit: 100 })).rows).toHaveLength(40);
  });

  it("records attempts of a pending delivery only", async () => {
    const hook = await hookOf();
    const d = delivery(hook.id, Date.now());
    await insertDeliveries(env.DB, [d]);
    const now = "2026-02-01T00:00:00.000Z";
    expect(await recordAttempt(env.DB, d.id, { status: "pending", statusCode: 500, error: "answered 500, not 2xx", now })).toBe(true);
    expect(await recordAttempt(env.DB, d.id, { status: "delivered", statusCode: 200, error: null, now })).toBe(true);
    expect(await recordAttempt(env.DB, d.id, { status: "failed", statusCode: 500, error: "late duplicate", now })).toBe(false);
    const { rows } = await listDeliveries(env.DB, hook.id, { limit: 10 });
    expect(rows).toEqual([
      {
        id: d.id,
        event_type: "participant.created",
        status: "delivered",
        attempts: 2,
        last_status_code: 200,
        last_error: null,
        created_at: d.created_at,
        delivered_at: now,
      },
    ]);
    await failDeliveries(env.DB, [d.id], "webhook deleted");
    expect((await listDeliveries(env.DB, hook.id, { limit: 10 })).rows[0]!.status).toBe("delivered");
  });

  it("lists a webhook's deliveries newest first in pages, never another webhook's", async () => {
    const hook = await hookOf();
    const other = await hookOf();
    const start = Date.parse("2026-02-01T00:00:00Z");
    const made = Array.from({ length: 5 }, (_, i) => delivery(hook.id, start + i));
    await insertDeliveries(env.DB, [...made, delivery(other.id, start + 2)]);
    const first = await listDeliveries(env.DB, hook.id, { limit: 3 });
    expect(first.rows.map((row) => row.id)).toEqual([made[4]!.id, made[3]!.id, made[2]!.id]);
    expect(first.nextCursor).toBe(made[2]!.id);
    const second = await listDeliveries(env.DB, hook.id, { limit: 3, cursor: first.nextCursor! });
    expect(second.rows.map((row) => row.id)).toEqual([made[1]!.id, made[0]!.id]);
    expect(second.nextCursor).toBeNull();
  });

  it("purges finished deliveries older than a cutoff, a bounded number at a time, never pending ones", async () => {
    const hook = await hookOf();
    const old = Date.parse("2025-01-01T00:00:00Z");
    const [pending, done, failed, fresh] = [
      delivery(hook.id, old),
      delivery(hook.id, old + 1),
      delivery(hook.id, old + 2),
      delivery(hook.id, Date.now()),
    ];
    await insertDeliveries(env.DB, [pending!, done!, failed!, fresh!]);
    const now = new Date().toISOString();
    await recordAttempt(env.DB, done!.id, { status: "delivered", statusCode: 200, error: null, now });
    await recordAttempt(env.DB, failed!.id, { status: "failed", statusCode: 500, error: "x", now });
    await recordAttempt(env.DB, fresh!.id, { status: "delivered", statusCode: 200, error: null, now });
    const cutoff = newId("dlv", Date.parse("2025-06-01T00:00:00Z")).slice(0, 14);
    expect(await purgeDeliveriesBefore(env.DB, cutoff, 1)).toBe(1);
    expect(await purgeDeliveriesBefore(env.DB, cutoff)).toBe(1);
    expect(await purgeDeliveriesBefore(env.DB, cutoff)).toBe(0);
    const left = (await listDeliveries(env.DB, hook.id, { limit: 10 })).rows.map((row) => row.id);
    expect(left).toEqual([fresh!.id, pending!.id]);
  });

  it("lists the newest deliveries of several webhooks in one statement, each webhook's own, newest first", async () => {
    const hooks = [await hookOf(), await hookOf(), await hookOf()];
    const start = Date.parse("2026-03-01T00:00:00Z");
    const made = hooks.map((hook, h) => Array.from({ length: 4 }, (_, i) => delivery(hook.id, start + i * 10 + h)));
    await insertDeliveries(env.DB, made.flat());
    const quiet = await hookOf();
    const { result, statements } = await countD1Statements(() =>
      listRecentDeliveries(env.DB, [hooks[0]!.id, hooks[1]!.id, quiet.id, hooks[2]!.id], 3),
    );
    expect(statements).toBe(1);
    for (const [h, hook] of hooks.entries()) {
      expect(result.get(hook.id)!.map((row) => row.id)).toEqual([made[h]![3]!.id, made[h]![2]!.id, made[h]![1]!.id]);
    }
    expect(result.get(quiet.id)).toEqual([]);
    expect(Object.keys(result.get(hooks[0]!.id)![0]!).sort()).toEqual(
      ["attempts", "created_at", "delivered_at", "event_type", "id", "last_error", "last_status_code", "status"].sort(),
    );
    expect((await listRecentDeliveries(env.DB, [], 3)).size).toBe(0);
  });

  it("reads 60 webhooks' recent deliveries in one statement, each webhook's range through its index", async () => {
    const owner = await team();
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const hook = webhook(owner);
      await insertWebhookWithinLimit(env.DB, hook, 100);
      ids.push(hook.id);
    }
    const start = Date.parse("2026-03-02T00:00:00Z");
    await insertDeliveries(
      env.DB,
      Array.from({ length: 30 }, (_, i) => delivery(ids[59]!, start + i)),
    );
    const { result, queries } = await countD1Statements(() => listRecentDeliveries(env.DB, ids, 10));
    expect(queries).toHaveLength(1);
    expect(result.get(ids[59]!)).toHaveLength(10);
    expect(result.get(ids[0]!)).toEqual([]);
    const details = await queryPlan(queries[0]!, [JSON.stringify(ids), 10]);
    expect(details).toContain("CORRELATED LIST SUBQUERY");
    expect(details).toContain("webhook_deliveries_by_webhook (webhook_id=?)");
    expect(details).not.toContain("TEMP B-TREE");
    expect(details).not.toMatch(/SCAN (d|webhook_deliveries)\b/);
  });
});
