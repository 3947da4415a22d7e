import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { purgeExpiredKeys } from "../../src/participants/idempotency-storage";
import { call, expectProblem } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { createParticipant, getParticipant, listParticipants, teamWithChatbot } from "../support/participants";

const MERGE = { "Content-Type": "application/merge-patch+json" };

describe("participant data: replace and merge patch", () => {
  it("replaces data and moves the version and ETag", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { a: 1, b: 2 } });
    const put = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { c: [1, { d: "é" }] } });
    expect(put.status).toBe(200);
    expect(put.headers.get("ETag")).toBe('"2"');
    expect(put.json).toMatchObject({ id: p.id, version: 2, data: { c: [1, { d: "é" }] } });
    expect((await getParticipant(apiKey, p.id)).data).toEqual({ c: [1, { d: "é" }] });
  });

  it("applies RFC 7396 merge patches, as merge-patch+json and as plain JSON", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { a: 1, nested: { keep: true, drop: 1 }, list: [1, 2] } });
    const merged = await call("PATCH", `/v1/participants/${p.id}/data`, {
      token: apiKey,
      headers: MERGE,
      body: { a: null, nested: { drop: null, added: "x" }, list: [3], fresh: { deep: 1 } },
    });
    expect(merged.status).toBe(200);
    expect(merged.json.data).toEqual({ nested: { keep: true, added: "x" }, list: [3], fresh: { deep: 1 } });
    const plain = await call("PATCH", `/v1/participants/${p.id}/data`, { token: apiKey, body: { b: 2 } });
    expect(plain.json).toMatchObject({ version: 3, data: { nested: { keep: true, added: "x" }, list: [3], fresh: { deep: 1 }, b: 2 } });
    const jsonPatch = await call("PATCH", `/v1/participants/${p.id}/data`, {
      token: apiKey,
      headers: { "Content-Type": "application/json-patch+json" },
      body: [{ op: "remove", path: "/b" }],
    });
    expectProblem(jsonPatch, 415);
    // A patch that changes nothing writes nothing.
    const same = await call("PATCH", `/v1/participants/${p.id}/data`, { token: apiKey, body: { b: 2 } });
    expect(same.json.version).toBe(3);
  });

  it("keeps __proto__ and constructor as ordinary keys", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id);
    const put = await call("PUT", `/v1/participants/${p.id}/data`, {
      token: apiKey,
      rawBody: '{"__proto__": {"polluted": true}, "constructor": 1}',
      headers: { "Content-Type": "application/json" },
    });
    expect(put.status).toBe(200);
    const merged = await call("PATCH", `/v1/participants/${p.id}/data`, {
      token: apiKey,
      rawBody: '{"__proto__": {"more": 2}}',
      headers: MERGE,
    });
    expect(merged.status).toBe(200);
    const stored = await getParticipant(apiKey, p.id);
    expect(Object.keys(stored.data).sort()).toEqual(["__proto__", "constructor"]);
    // biome-ignore lint/complexity/useLiteralKeys: the own key "__proto__", not the prototype
    // biome-ignore lint/suspicious/noProto: likewise
    expect(JSON.parse(JSON.stringify(stored.data))["__proto__"]).toEqual({ polluted: true, more: 2 });
    expect(({} as any).polluted).toBeUndefined();
  });

  it("refuses bodies that are not JSON objects", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { a: 1 } });
    // The root is named "" (RFC 6901) or "/", depending on the shared validator's version.
    expect(["", "/"]).toContain(
      expectProblem(await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: [1] }), 400).errors[0].pointer,
    );
    expectProblem(await call("PATCH", `/v1/participants/${p.id}/data`, { token: apiKey, body: "x" }), 400);
    expect(
      expectProblem(
        await call("PUT", `/v1/participants/${p.id}/data`, {
          token: apiKey,
          rawBody: "{a:1}",
          headers: { "Content-Type": "application/json" },
        }),
        400,
      ).type,
    ).toBe("/problems/malformed-json");
    expect((await getParticipant(apiKey, p.id)).version).toBe(1);
  });

  it("honors If-Match: a stale ETag answers 412 and writes nothing", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { a: 1 } });
    const ok = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, headers: { "If-Match": '"1"' }, body: { a: 2 } });
    expect(ok.status).toBe(200);
    for (const [method, path, body] of [
      ["PUT", `/v1/participants/${p.id}/data`, { a: 3 }],
      ["PATCH", `/v1/participants/${p.id}/data`, { a: 3 }],
      ["POST", `/v1/participants/${p.id}/data/increment`, { key: "n" }],
      ["POST", `/v1/participants/${p.id}/data/append`, { key: "l", value: 1 }],
    ] as const) {
      const stale = await call(method, path, { token: apiKey, headers: { "If-Match": '"1"' }, body });
      const problem = expectProblem(stale, 412);
      expect(problem.current_version).toBe(2);
      expect(stale.headers.get("ETag")).toBe('"2"');
    }
    const weak = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, headers: { "If-Match": 'W/"2"' }, body: { a: 9 } });
    expectProblem(weak, 412);
    expectProblem(
      await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, headers: { "If-Match": "garbage" }, body: { a: 9 } }),
      400,
    );
    const stored = await getParticipant(apiKey, p.id);
    expect(stored).toMatchObject({ version: 2, data: { a: 2 } });
    const list = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, headers: { "If-Match": '"7", "2"' }, body: { a: 4 } });
    expect(list.json.version).toBe(3);
    const star = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, headers: { "If-Match": "*" }, body: { a: 5 } });
    expect(star.json.version).toBe(4);
  });

  it("lets exactly one of two writers with the same If-Match win", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { v: 0 } });
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((v) =>
        call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, headers: { "If-Match": '"1"' }, body: { v } }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 412, 412, 412, 412]);
    const winner = results.find((r) => r.status === 200)!;
    expect(await getParticipant(apiKey, p.id)).toMatchObject({ version: 2, data: winner.json.data });
  });

  it("caps participant data at 64 KiB with a 422 that writes nothing, and bodies at 256 KiB with 413", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { small: 1 } });
    const big = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { text: "x".repeat(70_000) } });
    const problem = expectProblem(big, 422);
    expect(problem.type).toBe("/problems/participant-data-too-large");
    expect(problem.limit_bytes).toBe(65_536);
    // Growth by appends hits the same cap.
    await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { list: ["y".repeat(60_000)] } });
    const grow = await call("POST", `/v1/participants/${p.id}/data/append`, {
      token: apiKey,
      body: { key: "list", value: "z".repeat(10_000) },
    });
    expect(expectProblem(grow, 422).type).toBe("/problems/participant-data-too-large");
    const huge = await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { text: "x".repeat(300_000) } });
    expectProblem(huge, 413);
    const deep = JSON.parse("[".repeat(40) + "]".repeat(40));
    expect(expectProblem(await call("PUT", `/v1/participants/${p.id}/data`, { token: apiKey, body: { deep } }), 422).type).toBe(
      "/problems/participant-data-too-large",
    );
    const stored = await getParticipant(apiKey, p.id);
    expect(stored.version).toBe(2);
    expect(stored.data.list).toHaveLength(1);
  });
});

describe("bot tools: append and increment", () => {
  it("makes 20 parallel increments count 20, each answer a distinct value", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { other: "kept" } });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, body: { key: "visits" } })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(results.map((r) => r.json.value).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.headers.get("ETag"))).size).toBe(20);
    const stored = await getParticipant(apiKey, p.id);
    expect(stored.data).toEqual({ other: "kept", visits: 20 });
    expect(stored.version).toBe(21);
  });

  it("loses no parallel append and keeps other keys", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { tasks: ["first"] } });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2
          ? call("POST", `/v1/participants/${p.id}/data/append`, { token: apiKey, body: { key: "tasks", value: { n: i } } })
          : call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, body: { key: "count", by: 2 } }),
      ),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const stored = await getParticipant(apiKey, p.id);
    expect(stored.data.count).toBe(20);
    expect(stored.data.tasks[0]).toBe("first");
    expect(
      stored.data.tasks
        .slice(1)
        .map((t: any) => t.n)
        .sort((a: number, b: number) => a - b),
    ).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
  });

  it("starts missing keys, adds any finite `by`, and refuses wrong types with 409", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id, { data: { name: "x", list: 1 } });
    const first = await call("POST", `/v1/participants/${p.id}/data/append`, { token: apiKey, body: { key: "new list", value: null } });
    expect(first.json).toEqual({ participant_id: p.id, key: "new list", value: [null], version: 2 });
    const inc = await call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, body: { key: "score", by: -2.5 } });
    expect(inc.json.value).toBe(-2.5);
    const notNumber = await call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, body: { key: "name" } });
    expect(expectProblem(notNumber, 409).type).toBe("/problems/data-type-conflict");
    expectProblem(await call("POST", `/v1/participants/${p.id}/data/append`, { token: apiKey, body: { key: "list", value: 2 } }), 409);
    expect(
      expectProblem(await call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, body: { key: "score", by: "1" } }), 400)
        .errors[0].pointer,
    ).toBe("/by");
    expect(
      expectProblem(await call("POST", `/v1/participants/${p.id}/data/append`, { token: apiKey, body: { value: 1 } }), 400).errors[0]
        .pointer,
    ).toBe("/key");
    expect(
      expectProblem(await call("POST", `/v1/participants/${p.id}/data/append`, { token: apiKey, body: { key: "k" } }), 400).errors[0]
        .pointer,
    ).toBe("/value");
    expect((await getParticipant(apiKey, p.id)).data).toEqual({ name: "x", list: 1, "new list": [null], score: -2.5 });
  });
});

describe("idempotency keys", () => {
  it("replays the first answer of a retried increment and writes nothing", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id);
    const send = (body: unknown = { key: "n" }, key = "retry-1") =>
      call("POST", `/v1/participants/${p.id}/data/increment`, { token: apiKey, headers: { "Idempotency-Key": key }, body });
    const first = await send();
    const second = await send();
    expect(first.status).toBe(200);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();
    expect(second.status).toBe(200);
    expect(second.json).toEqual(first.json);
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    expect(second.headers.get("ETag")).toBe('"2"');
    expect((await getParticipant(apiKey, p.id)).data).toEqual({ n: 1 });
    // The same key for another request is refused, not replayed.
    expect(expectProblem(await send({ key: "n", by: 5 }), 422).type).toBe("/problems/idempotency-key-reused");
    expect((await getParticipant(apiKey, p.id)).data).toEqual({ n: 1 });
    // Concurrent duplicates of a new key write once.
    const burst = await Promise.all(Array.from({ length: 6 }, () => send({ key: "n" }, "burst-1")));
    expect(burst.every((r) => r.status === 200 && r.json.value === 2)).toBe(true);
    expect((await getParticipant(apiKey, p.id)).data).toEqual({ n: 2 });
    expectProblem(await send({ key: "n" }, "has space"), 400);
  });

  it("keeps keys for 24 hours; an expired key runs again", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const p = await createParticipant(apiKey, chatbot.id);
    const send = () =>
      call("POST", `/v1/participants/${p.id}/data/increment`, {
        token: apiKey,
        headers: { "Idempotency-Key": "daily" },
        body: { key: "n" },
      });
    await send();
    const row = await env.DB.prepare("SELECT created_at, expires_at FROM idempotency_keys WHERE key = 'daily'").first<{
      created_at: string;
      expires_at: string;
    }>();
    expect(Date.parse(row!.expires_at) - Date.parse(row!.created_at)).toBeGreaterThanOrEqual(24 * 60 * 60 * 1000);
    await env.DB.prepare("UPDATE idempotency_keys SET expires_at = '2000-01-01T00:00:00.000Z' WHERE key = 'daily'").run();
    const again = await send();
    expect(again.headers.get("Idempotent-Replayed")).toBeNull();
    expect(again.json.value).toBe(2);
    // The background purge removes expired records and keeps live ones.
    await env.DB.prepare("UPDATE idempotency_keys SET key = 'old-one', expires_at = '2000-01-01T00:00:00.000Z' WHERE key = 'daily'").run();
    await send();
    await purgeExpiredKeys(env.DB, new Date().toISOString());
    const left = await env.DB.prepare("SELECT key FROM idempotency_keys WHERE key IN ('old-one', 'daily') ORDER BY key").all<{
      key: string;
    }>();
    expect(left.results.map((r) => r.key)).toEqual(["daily"]);
  });

  it("scopes keys per team", async () => {
    const a = await teamWithChatbot();
    const b = await teamWithChatbot();
    const pa = await createParticipant(a.apiKey, a.chatbot.id);
    const pb = await createParticipant(b.apiKey, b.chatbot.id);
    const ra = await call("POST", `/v1/participants/${pa.id}/data/increment`, {
      token: a.apiKey,
      headers: { "Idempotency-Key": "shared" },
      body: { key: "n" },
    });
    const rb = await call("POST", `/v1/participants/${pb.id}/data/increment`, {
      token: b.apiKey,
      headers: { "Idempotency-Key": "shared" },
      body: { key: "n" },
    });
    expect([ra.status, rb.status]).toEqual([200, 200]);
    expect(rb.headers.get("Idempotent-Replayed")).toBeNull();
    expect(rb.json.participant_id).toBe(pb.id);
  });
});

describe("webhook upsert by natural key", () => {
  it("creates where missing, replaces where present, and replays by Idempotency-Key", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const identifier = "crm/42 +ö";
    const path = `/v1/participants/by-identifier/${chatbot.id}/crm/${encodeURIComponent(identifier)}/data`;
    const created = await call("PUT", path, { token: apiKey, headers: { "Idempotency-Key": "evt-1" }, body: { tier: "gold" } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ chatbot_id: chatbot.id, channel: "crm", identifier, data: { tier: "gold" }, version: 1 });
    expect(created.headers.get("Location")).toBe(`/v1/participants/${created.json.id}`);
    const replay = await call("PUT", path, { token: apiKey, headers: { "Idempotency-Key": "evt-1" }, body: { tier: "gold" } });
    expect(replay.status).toBe(201);
    expect(replay.json).toEqual(created.json);
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");

    const replaced = await call("PUT", path, {
      token: apiKey,
      headers: { "Idempotency-Key": "evt-2" },
      body: { tier: "silver", since: 2024 },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({ id: created.json.id, version: 2, data: { tier: "silver", since: 2024 } });
    // A late replay of the first event still answers its first result and writes nothing.
    const late = await call("PUT", path, { token: apiKey, headers: { "Idempotency-Key": "evt-1" }, body: { tier: "gold" } });
    expect(late.json.data).toEqual({ tier: "gold" });
    expect(await getParticipant(apiKey, created.json.id)).toMatchObject({ version: 2, data: { tier: "silver", since: 2024 } });
    expect(await listParticipants(apiKey, chatbot.id)).toHaveLength(1);
  });

  it("creates one participant under parallel first deliveries", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const path = `/v1/participants/by-identifier/${chatbot.id}/crm/same/data`;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => call("PUT", path, { token: apiKey, body: { i } })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(7);
    expect(new Set(results.map((r) => r.json.id)).size).toBe(1);
    const listed = await listParticipants(apiKey, chatbot.id);
    expect(listed).toHaveLength(1);
    expect(listed[0].version).toBe(8);
  });

  it("validates the path and body", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    expect(
      expectProblem(await call("PUT", `/v1/participants/by-identifier/${chatbot.id}/Bad!/x/data`, { token: apiKey, body: {} }), 400)
        .errors[0].pointer,
    ).toBe("/channel");
    expectProblem(await call("PUT", `/v1/participants/by-identifier/not-an-id/api/x/data`, { token: apiKey, body: {} }), 404);
    expectProblem(await call("PUT", `/v1/participants/by-identifier/${chatbot.id}/api/x/data`, { token: apiKey, body: [] }), 400);
    const ifMatchMissing = await call("PUT", `/v1/participants/by-identifier/${chatbot.id}/api/nobody/data`, {
      token: apiKey,
      headers: { "If-Match": '"1"' },
      body: {},
    });
    expectProblem(ifMatchMissing, 412);
    expect(await listParticipants(apiKey, chatbot.id)).toHaveLength(0);
  });
});

// The data writes, the bot tools and the webhook upsert: another team's key finds neither the
// participant nor the chatbot (the very 404 of a missing id), and no refused request writes.
describeApiKeyAuth({
  setup: async () => {
    const { team, apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id, { identifier: "webhook-subject", data: { n: 1, l: [] } });
    return { team, ids: { chatbot: chatbot.id, participant: participant.id } };
  },
  routes: [
    { method: "PUT", path: ({ participant }) => `/v1/participants/${participant}/data`, body: () => ({ x: 1 }) },
    { method: "PATCH", path: ({ participant }) => `/v1/participants/${participant}/data`, body: () => ({ x: 1 }) },
    { method: "POST", path: ({ participant }) => `/v1/participants/${participant}/data/increment`, body: () => ({ key: "n" }) },
    { method: "POST", path: ({ participant }) => `/v1/participants/${participant}/data/append`, body: () => ({ key: "l", value: 1 }) },
    { method: "PUT", path: ({ chatbot }) => `/v1/participants/by-identifier/${chatbot}/api/webhook-subject/data`, body: () => ({ x: 1 }) },
  ],
  unchanged: async ({ team, ids }) => {
    expect(await getParticipant(team.apiKey, ids.participant)).toMatchObject({ version: 1, data: { n: 1, l: [] } });
    expect(await listParticipants(team.apiKey, ids.chatbot)).toHaveLength(1);
  },
});
