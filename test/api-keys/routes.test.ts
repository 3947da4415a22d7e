import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  type ApiResponse,
  call,
  createChatbot,
  createTeam,
  expectFieldErrors,
  expectProblem,
  getConversation,
  startConversation,
} from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { createParticipant } from "../support/participants";

const KEY_SHAPE = /^cck_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;
const CSV = { "Content-Type": "text/csv" };

async function createKey(apiKey: string, body: unknown): Promise<ApiResponse> {
  return call("POST", "/v1/api-keys", { token: apiKey, body });
}

/** Creates a key and insists on 201: its id and the secret key, shown this once. */
async function newKey(apiKey: string, scope: "read" | "write", name = `${scope} key`): Promise<{ id: string; key: string }> {
  const response = await createKey(apiKey, { name, scope });
  if (response.status !== 201) throw new Error(`api key: ${response.status} ${response.text}`);
  return { id: response.json.id, key: response.json.key };
}

async function listKeys(apiKey: string): Promise<any[]> {
  const response = await call("GET", "/v1/api-keys", { token: apiKey });
  if (response.status !== 200) throw new Error(`list api keys: ${response.status} ${response.text}`);
  return response.json.api_keys;
}

const revoke = (apiKey: string, id: string) => call("DELETE", `/v1/api-keys/${id}`, { token: apiKey });

type Request = { method: string; path: string; body?: unknown; rawBody?: string; headers?: Record<string, string> };

/** A team holding one of everything the API serves: chatbot, widget conversation with metadata, participant with data. */
async function world() {
  const started = await startConversation({ data: { plan: "gold" } });
  const writeKey = started.team.apiKey;
  const chatbot = started.chatbot.id;
  const conversation = started.conversation_id;
  const participant = (await createParticipant(writeKey, chatbot, { identifier: "subject", data: { n: 1, l: [] } })).id;
  const spareKey = await newKey(writeKey, "read", "spare");
  return { team: started.team, writeKey, chatbot, conversation, participant, spareKey };
}
type World = Awaited<ReturnType<typeof world>>;

/** One write of every API route family, each of which would succeed with a write key. */
function writes(w: World): Request[] {
  const metadata = (key: string) => `/v1/conversations/${w.conversation}/metadata/${encodeURIComponent(key)}`;
  return [
    { method: "POST", path: "/v1/chatbots", body: { name: "Planted" } },
    { method: "PATCH", path: `/v1/chatbots/${w.chatbot}`, body: { name: "Stolen", allowed_origins: ["https://evil.example"] } },
    { method: "PUT", path: metadata("planted"), body: { value: "x" } },
    { method: "PUT", path: metadata("chat-widget:plan"), body: { value: "free" } },
    { method: "DELETE", path: metadata("chat-widget:plan") },
    { method: "POST", path: "/v1/participants", body: { chatbot_id: w.chatbot, channel: "api", identifier: "planted" } },
    { method: "PATCH", path: `/v1/participants/${w.participant}`, body: { name: "Mallory" } },
    { method: "PUT", path: `/v1/participants/${w.participant}/data`, body: { x: 1 } },
    { method: "PATCH", path: `/v1/participants/${w.participant}/data`, body: { x: 1 } },
    { method: "POST", path: `/v1/participants/${w.participant}/data/append`, body: { key: "l", value: 1 } },
    { method: "POST", path: `/v1/participants/${w.participant}/data/increment`, body: { key: "n" } },
    {
      method: "PUT",
      path: `/v1/participants/by-identifier/${w.chatbot}/api/newcomer/data`,
      body: { x: 1 },
      headers: { "Idempotency-Key": "read-key-attempt" },
    },
    {
      method: "POST",
      path: `/v1/participants/import?chatbot_id=${w.chatbot}`,
      rawBody: "identifier,channel,data.n\nsubject,api,9\nimported,api,1",
      headers: CSV,
    },
    { method: "POST", path: "/v1/api-keys", body: { name: "Escalation", scope: "write" } },
    { method: "DELETE", path: `/v1/api-keys/${w.spareKey.id}` },
  ];
}

/** Every read of every API route family, and the render, which is a POST that only reads. */
function reads(w: World): Request[] {
  const metadata = `/v1/conversations/${w.conversation}/metadata/${encodeURIComponent("chat-widget:plan")}`;
  return [
    { method: "GET", path: `/v1/chatbots/${w.chatbot}` },
    { method: "HEAD", path: `/v1/chatbots/${w.chatbot}` },
    { method: "GET", path: `/v1/conversations?chatbot_id=${w.chatbot}` },
    { method: "GET", path: `/v1/conversations/${w.conversation}` },
    { method: "GET", path: `/v1/conversations/${w.conversation}/metadata` },
    { method: "GET", path: metadata },
    { method: "GET", path: `/v1/conversations/${w.conversation}/messages` },
    { method: "GET", path: `/v1/participants?chatbot_id=${w.chatbot}` },
    { method: "GET", path: `/v1/participants/${w.participant}` },
    { method: "GET", path: `/v1/participants/${w.participant}/prompt-variables/participant_data` },
    { method: "GET", path: `/v1/participants/export?chatbot_id=${w.chatbot}` },
    { method: "POST", path: "/v1/prompts/render", body: { participant_id: w.participant, template: "n={participant_data.n}" } },
    { method: "GET", path: "/v1/api-keys" },
  ];
}

function send(request: Request, apiKey: string): Promise<ApiResponse> {
  return call(request.method, request.path, { token: apiKey, body: request.body, rawBody: request.rawBody, headers: request.headers });
}

const name = (request: Request) => `${request.method} ${request.path}`;

/** Everything of the team a write could change, read straight from storage and the conversation object. */
async function snapshot(w: World) {
  const rows = (sql: string) =>
    env.DB.prepare(sql)
      .bind(w.team.id)
      .all()
      .then((result) => result.results);
  return {
    chatbots: await rows("SELECT * FROM chatbots WHERE team_id = ? ORDER BY id"),
    participants: await rows("SELECT * FROM participants WHERE team_id = ? ORDER BY id"),
    apiKeys: await rows("SELECT * FROM api_keys WHERE team_id = ? ORDER BY id"),
    idempotency: await rows("SELECT * FROM idempotency_keys WHERE team_id = ?"),
    metadata: (await getConversation(w.writeKey, w.conversation)).metadata,
  };
}

describe("POST /v1/api-keys", () => {
  it("creates a read key and a write key, each shown once with its public id", async () => {
    const team = await createTeam();
    for (const scope of ["read", "write"] as const) {
      const response = await createKey(team.apiKey, { name: `  CI ${scope}  `, scope });
      expect(response.status).toBe(201);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.json).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{16}$/),
        name: `CI ${scope}`,
        scope,
        key: expect.stringMatching(KEY_SHAPE),
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      // The id is the one inside the key, so a key found in a log names its row.
      expect(KEY_SHAPE.exec(response.json.key)![1]).toBe(response.json.id);
      // Shown once: no later answer carries the secret.
      const listed = await call("GET", "/v1/api-keys", { token: team.apiKey });
      expect(listed.text).not.toContain(response.json.key.slice(21));
    }
  });

  it("stores only the new key's hash", async () => {
    const team = await createTeam();
    const { id, key } = await newKey(team.apiKey, "read");
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(id).first<Record<string, unknown>>();
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
    expect(row!.key_hash).toBe([...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join(""));
    for (const value of Object.values(row!)) expect(String(value)).not.toContain(key.slice(21));
  });

  it("makes keys that work at once, for their own team", async () => {
    const team = await createTeam();
    const write = await newKey(team.apiKey, "write");
    const chatbot = await createChatbot(write.key);
    const read = await newKey(write.key, "read");
    expect((await call("GET", `/v1/chatbots/${chatbot.id}`, { token: read.key })).status).toBe(200);
    // A key made by this team sees nothing of another team's.
    const other = await createTeam();
    const theirs = await createChatbot(other.apiKey);
    expectProblem(await call("GET", `/v1/chatbots/${theirs.id}`, { token: read.key }), 404);
  });

  it("refuses a read key the creation of any key with 403, and creates none", async () => {
    const team = await createTeam();
    const read = await newKey(team.apiKey, "read");
    for (const scope of ["write", "read"]) {
      const problem = expectProblem(await createKey(read.key, { name: "Escalation", scope }), 403);
      expect(problem.type).toBe("/problems/forbidden");
      expect(problem.detail).toMatch(/read-only/);
    }
    expect((await listKeys(team.apiKey)).map((key) => key.name)).toEqual(["Initial key", "read key"]);
  });

  describe("validation", () => {
    const cases: [string, unknown, string[]][] = [
      ["no name", { scope: "read" }, ["/name"]],
      ["a blank name", { name: " \t ", scope: "read" }, ["/name"]],
      ["a name over 200 characters", { name: "n".repeat(201), scope: "read" }, ["/name"]],
      ["a name over 200 code points", { name: "😀".repeat(201), scope: "read" }, ["/name"]],
      ["a name that is not a string", { name: 7, scope: "read" }, ["/name"]],
      ["a name with a line break", { name: "CI\nkey", scope: "read" }, ["/name"]],
      ["a name with a NUL", { name: "CI\u0000key", scope: "read" }, ["/name"]],
      ["no scope", { name: "x" }, ["/scope"]],
      ["an unknown scope", { name: "x", scope: "admin" }, ["/scope"]],
      ["a scope in capitals", { name: "x", scope: "WRITE" }, ["/scope"]],
      ["unknown fields", { name: "x", scope: "read", key: "cck_mine", team_id: "team_x" }, ["/key", "/team_id"]],
      ["a body that is not an object", ["x", "read"], [""]],
    ];
    for (const [what, body, pointers] of cases) {
      it(`refuses ${what} with 400 and creates nothing`, async () => {
        const team = await createTeam();
        const response = await createKey(team.apiKey, body);
        expect(expectFieldErrors(response, pointers).type).toBe("/problems/validation-failed");
        expect(await listKeys(team.apiKey)).toHaveLength(1);
      });
    }

    it("takes a name of exactly 200 code points", async () => {
      const team = await createTeam();
      const response = await createKey(team.apiKey, { name: "😀".repeat(200), scope: "read" });
      expect(response.status).toBe(201);
      expect(response.json.name).toBe("😀".repeat(200));
    });

    it("answers malformed JSON with 400", async () => {
      const team = await createTeam();
      const response = await call("POST", "/v1/api-keys", {
        token: team.apiKey,
        rawBody: '{"name":',
        headers: { "Content-Type": "application/json" },
      });
      expect(expectProblem(response, 400).type).toBe("/problems/malformed-json");
    });

    it("refuses a body over 4 KiB with 413 before parsing it", async () => {
      const team = await createTeam();
      const response = await call("POST", "/v1/api-keys", { token: team.apiKey, rawBody: "x".repeat(4 * 1024 + 1) });
      expect(expectProblem(response, 413).limit_bytes).toBe(4 * 1024);
    });
  });

  describe("at most 100 live keys per team", () => {
    async function fillTo(apiKey: string, live: number) {
      for (let count = (await listKeys(apiKey)).length; count < live; count++) await newKey(apiKey, "read", `key ${count}`);
    }

    it("refuses the 101st live key with 409 and makes room when one is revoked", async () => {
      const team = await createTeam();
      await fillTo(team.apiKey, 100);
      const problem = expectProblem(await createKey(team.apiKey, { name: "one too many", scope: "read" }), 409);
      expect(problem.type).toBe("/problems/conflict");
      expect(problem.detail).toContain("100");
      expect(problem.limit).toBe(100);
      const keys = await listKeys(team.apiKey);
      expect(keys).toHaveLength(100);
      expect(keys.map((key) => key.name)).not.toContain("one too many");

      expect((await revoke(team.apiKey, keys[1].id)).status).toBe(204);
      expect((await createKey(team.apiKey, { name: "in its place", scope: "read" })).status).toBe(201);
    });

    it("lets concurrent creates past the limit not one key more", async () => {
      const team = await createTeam();
      await fillTo(team.apiKey, 95);
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => createKey(team.apiKey, { name: `race ${i}`, scope: "read" })));
      expect(answers.filter((answer) => answer.status === 201)).toHaveLength(5);
      expect(answers.filter((answer) => answer.status === 409)).toHaveLength(7);
      expect(await listKeys(team.apiKey)).toHaveLength(100);
    });

    it("counts each team on its own", async () => {
      const full = await createTeam();
      await fillTo(full.apiKey, 100);
      const other = await createTeam();
      expect((await createKey(other.apiKey, { name: "mine", scope: "read" })).status).toBe(201);
    });
  });
});

describe("GET /v1/api-keys", () => {
  it("lists the team's live keys, oldest first, without secrets or hashes", async () => {
    const team = await createTeam();
    const read = await newKey(team.apiKey, "read", "Analytics");
    const write = await newKey(team.apiKey, "write", "Deploys");
    const response = await call("GET", "/v1/api-keys", { token: read.key });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      api_keys: [
        { id: KEY_SHAPE.exec(team.apiKey)![1], name: "Initial key", scope: "write", created_at: expect.any(String) },
        { id: read.id, name: "Analytics", scope: "read", created_at: expect.any(String) },
        { id: write.id, name: "Deploys", scope: "write", created_at: expect.any(String) },
      ],
    });
    const hashes = (await env.DB.prepare("SELECT key_hash FROM api_keys WHERE team_id = ?").bind(team.id).all()).results;
    for (const secret of [team.apiKey, read.key, write.key].map((key) => key.slice(21))) expect(response.text).not.toContain(secret);
    for (const { key_hash } of hashes) expect(response.text).not.toContain(key_hash as string);
  });

  it("shows no other team's keys and no revoked ones", async () => {
    const team = await createTeam();
    const other = await createTeam();
    await newKey(other.apiKey, "read", "Theirs");
    const gone = await newKey(team.apiKey, "read", "Gone");
    expect((await revoke(team.apiKey, gone.id)).status).toBe(204);
    expect((await listKeys(team.apiKey)).map((key) => key.name)).toEqual(["Initial key"]);
  });
});

describe("DELETE /v1/api-keys/:id", () => {
  it("revokes a key at once: every API route family then answers it 401", async () => {
    const w = await world();
    const doomed = await newKey(w.writeKey, "write", "Doomed");
    // It works before...
    expect((await send(reads(w)[0]!, doomed.key)).status).toBe(200);
    const response = await revoke(w.writeKey, doomed.id);
    expect(response.status).toBe(204);
    expect(response.text).toBe("");
    // ...and not one request after: no cache anywhere serves it.
    const before = await snapshot(w);
    for (const request of [...reads(w), ...writes(w)]) {
      const answer = await send(request, doomed.key);
      expect(answer.status, name(request)).toBe(401);
      if (request.method === "HEAD") continue;
      const problem = expectProblem(answer, 401);
      expect(problem.type).toBe("/problems/unauthorized");
      expect(problem.detail, name(request)).toMatch(/revoked/);
      expect(answer.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    }
    expect(await snapshot(w)).toEqual(before);
    // The row is kept, with when it was revoked; the team's other keys still work.
    const row = await env.DB.prepare("SELECT revoked_at FROM api_keys WHERE id = ?").bind(doomed.id).first<{ revoked_at: string }>();
    expect(Date.parse(row!.revoked_at)).toBeGreaterThan(Date.now() - 60_000);
    expect((await send(reads(w)[0]!, w.writeKey)).status).toBe(200);
  });

  it("lets a key revoke itself; it answers 401 from then on", async () => {
    const team = await createTeam();
    const id = KEY_SHAPE.exec(team.apiKey)![1]!;
    expect((await revoke(team.apiKey, id)).status).toBe(204);
    expectProblem(await call("GET", "/v1/api-keys", { token: team.apiKey }), 401);
    expectProblem(await revoke(team.apiKey, id), 401);
  });

  it("answers another team's key id with the 404 of a missing one, and leaves that key working", async () => {
    const team = await createTeam();
    const other = await createTeam();
    const theirs = await newKey(other.apiKey, "write", "Theirs");
    const problem = expectProblem(await revoke(team.apiKey, theirs.id), 404);
    expect(problem).toEqual(expectProblem(await revoke(team.apiKey, "0123456789abcdef"), 404));
    expect((await listKeys(theirs.key)).map((key) => key.name)).toEqual(["Initial key", "Theirs"]);
  });

  it("answers 404 for a key already revoked, and for ids that are not key ids", async () => {
    const team = await createTeam();
    const gone = await newKey(team.apiKey, "read");
    expect((await revoke(team.apiKey, gone.id)).status).toBe(204);
    expectProblem(await revoke(team.apiKey, gone.id), 404);
    for (const id of ["0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", `cck_${gone.id}`, "%27%20OR%201%3D1"]) {
      expect(expectProblem(await revoke(team.apiKey, id), 404).type, id).toBe("/problems/not-found");
    }
    expect(await listKeys(team.apiKey)).toHaveLength(1);
  });

  it("refuses a read key with 403, even on itself, and revokes nothing", async () => {
    const team = await createTeam();
    const read = await newKey(team.apiKey, "read");
    const initial = KEY_SHAPE.exec(team.apiKey)![1]!;
    for (const id of [initial, read.id]) {
      const problem = expectProblem(await revoke(read.key, id), 403);
      expect(problem.detail).toMatch(/read-only/);
    }
    expect(await listKeys(team.apiKey)).toHaveLength(2);
  });
});

describe("a read key", () => {
  it("is refused every write of every API route family with 403, and nothing is written", async () => {
    const w = await world();
    const read = await newKey(w.writeKey, "read");
    const before = await snapshot(w);
    for (const request of writes(w)) {
      const answer = await send(request, read.key);
      const problem = expectProblem(answer, 403);
      expect(problem.type, name(request)).toBe("/problems/forbidden");
      expect(problem.detail, name(request)).toMatch(/read-only/);
    }
    expect(await snapshot(w)).toEqual(before);
  });

  it("is refused a write before the body is read: no 400, 413 or 404 tells it anything", async () => {
    const w = await world();
    const read = await newKey(w.writeKey, "read");
    const probes: Request[] = [
      { method: "POST", path: "/v1/chatbots", rawBody: "{not json" },
      { method: "PUT", path: `/v1/participants/${w.participant}/data`, rawBody: "x".repeat(2 * 1024 * 1024) },
      { method: "PATCH", path: "/v1/chatbots/cb_00000000000000000000000000", body: { name: "x" } },
      // A write path no route serves yet is refused just the same.
      { method: "POST", path: `/v1/conversations/${w.conversation}/messages`, body: { text: "hi" } },
      { method: "OPTIONS", path: `/v1/chatbots/${w.chatbot}` },
    ];
    for (const request of probes) expect(expectProblem(await send(request, read.key), 403).type, name(request)).toBe("/problems/forbidden");
  });

  it("reads every API route family, and renders prompts", async () => {
    const w = await world();
    const read = await newKey(w.writeKey, "read");
    const before = await snapshot(w);
    for (const request of reads(w)) {
      const mine = await send(request, read.key);
      expect(mine.status, name(request)).toBe(200);
      // The very answer a write key gets (the render's cache header aside).
      const theirs = await send(request, w.writeKey);
      expect(mine.text, name(request)).toBe(theirs.text);
    }
    const render = await send(reads(w).find((request) => request.path === "/v1/prompts/render")!, read.key);
    expect(render.json).toEqual({ prompt: "n=1" });
    expect(await snapshot(w)).toEqual(before);
  });
});

describe("keys made before scopes", () => {
  it("are write keys named Initial key, and keep working", async () => {
    const team = await createTeam();
    // A row as the first migration wrote it: the new columns take their defaults, as existing rows did.
    const id = [...crypto.getRandomValues(new Uint8Array(8))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    const key = `cck_${id}_${"k".repeat(43)}`;
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
    const hash = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
    await env.DB.prepare("INSERT INTO api_keys (id, team_id, key_hash, created_at) VALUES (?, ?, ?, ?)")
      .bind(id, team.id, hash, "2025-01-01T00:00:00.000Z")
      .run();
    expect((await listKeys(key))[0]).toEqual({ id, name: "Initial key", scope: "write", created_at: "2025-01-01T00:00:00.000Z" });
    expect((await createChatbot(key)).id).toMatch(/^cb_/);
  });
});

describeApiKeyAuth({
  setup: async () => {
    const team = await createTeam();
    const spare = await newKey(team.apiKey, "read", "Spare");
    return { team, ids: { api_key: spare.id }, secrets: [spare.key.slice(21)] };
  },
  routes: [
    { method: "POST", path: () => "/v1/api-keys", body: () => ({ name: "Planted", scope: "write" }), teamWide: true },
    { method: "GET", path: () => "/v1/api-keys", teamWide: true },
    { method: "DELETE", path: ({ api_key }) => `/v1/api-keys/${api_key}` },
  ],
  unchanged: async ({ team, ids }) => {
    const keys = await listKeys(team.apiKey);
    expect(keys.map((key) => key.id)).toContain(ids.api_key);
    expect(keys.map((key) => key.name)).not.toContain("Planted");
  },
});
