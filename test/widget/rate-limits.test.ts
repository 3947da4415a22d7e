import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ConversationClaims } from "../../src/shared/auth";
import { ProblemError, problemResponse } from "../../src/shared/problem";
import type { WidgetEnv } from "../../src/widget/cors";
import { addressKey, limitMessages, limitStarts, MESSAGE_LIMIT, START_LIMIT } from "../../src/widget/rate-limits";
import wranglerToml from "../../wrangler.toml?raw";
import {
  type ApiResponse,
  call,
  createChatbot,
  createTeam,
  expectProblem,
  sendMessage,
  startConversationWith,
  visitorTexts,
} from "../support/api";
import { readResponse } from "../support/responses";

/** A documentation address of its own for each test, so no test spends another's budget. */
let lastOctet = 0;
const freshAddress = () => `198.51.100.${++lastOctet}`;

/**
 * The local simulation counts in fixed windows aligned to the wall clock (Cloudflare's own
 * windows are not exact either): a burst that crossed a boundary would be split between two
 * windows. Waits for the next window when less than `marginMs` of this one is left.
 */
async function freshWindow(periodSeconds: number, marginMs = 20_000) {
  const periodMs = periodSeconds * 1000;
  const left = periodMs - (Date.now() % periodMs);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 100));
}

/** `count` calls, `concurrency` at a time, answers in order. */
async function inBatches<T>(count: number, concurrency: number, send: (i: number) => Promise<T>): Promise<T[]> {
  const answers: T[] = [];
  for (let start = 0; start < count; start += concurrency) {
    const size = Math.min(concurrency, count - start);
    answers.push(...(await Promise.all(Array.from({ length: size }, (_, i) => send(start + i)))));
  }
  return answers;
}

function expectRateLimited(response: ApiResponse, period: number) {
  const body = expectProblem(response, 429);
  expect(body.type).toBe("/problems/rate-limited");
  expect(response.headers.get("Retry-After")).toBe(String(period));
  expect(response.headers.get("Access-Control-Expose-Headers")).toBe("Retry-After");
}

const statuses = (responses: ApiResponse[]) => responses.map((response) => response.status);

/** The two middlewares on a bare app: the token check is stood in for by the path's id. */
function limitedApp() {
  const app = new Hono<WidgetEnv>();
  app.onError((error, c) => {
    if (error instanceof ProblemError) return problemResponse(c, error);
    throw error;
  });
  app.post("/conversations", limitStarts, (c) => c.json({ started: true }, 201));
  app.use("/conversations/:id/*", async (c, next) => {
    c.set("claims", { c: c.req.param("id"), b: "cb", t: "team", p: "part" } as ConversationClaims);
    await next();
  });
  app.post(
    "/conversations/:id/messages",
    limitMessages((c) => c.var.claims.c),
    (c) => c.json({ stored: true }, 201),
  );
  return app;
}

async function startOn(app: Hono<WidgetEnv>, address: string | null, bindings: object = env) {
  const headers: Record<string, string> = address ? { "CF-Connecting-IP": address } : {};
  return readResponse(await app.request("/conversations", { method: "POST", headers }, bindings));
}

async function messageOn(app: Hono<WidgetEnv>, conversationId: string, bindings: object = env) {
  return readResponse(await app.request(`/conversations/${conversationId}/messages`, { method: "POST" }, bindings));
}

/** A limiter that refuses everything and counts its calls. */
function refusingLimiter() {
  return { limit: vi.fn(async () => ({ success: false })) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("widget rate limits: the middlewares with the real bindings", () => {
  it("admits 50 messages sent at once to one conversation", async () => {
    const app = limitedApp();
    const answers = await Promise.all(Array.from({ length: 50 }, () => messageOn(app, "conv_burst")));
    expect(statuses(answers)).toEqual(Array(50).fill(201));
  });

  it("refuses messages to one conversation past its limit with 429 rate-limited and Retry-After; other conversations go on", async () => {
    await freshWindow(MESSAGE_LIMIT.period);
    const app = limitedApp();
    const admitted = await inBatches(MESSAGE_LIMIT.limit, 40, () => messageOn(app, "conv_flooded"));
    expect(statuses(admitted)).toEqual(Array(MESSAGE_LIMIT.limit).fill(201));
    const refused = await messageOn(app, "conv_flooded");
    expectRateLimited(refused, MESSAGE_LIMIT.period);
    expect(refused.json.detail).toContain("messages to this conversation");
    expect((await messageOn(app, "conv_neighbour")).status).toBe(201);
  });

  it("admits 100 starts from one address, refuses the flood past the limit, and leaves other addresses alone", async () => {
    await freshWindow(START_LIMIT.period);
    const app = limitedApp();
    const address = freshAddress();
    const busy = await inBatches(100, 25, () => startOn(app, address));
    expect(statuses(busy)).toEqual(Array(100).fill(201));
    const rest = await inBatches(START_LIMIT.limit - 100, 25, () => startOn(app, address));
    expect(statuses(rest)).toEqual(Array(START_LIMIT.limit - 100).fill(201));
    const flood = await inBatches(30, 15, () => startOn(app, address));
    for (const refused of flood) expectRateLimited(refused, START_LIMIT.period);
    expect(flood[0]!.json.detail).toContain("started from this address");
    expect((await startOn(app, freshAddress())).status).toBe(201);
  });

  it("counts an IPv6 client by its /64, however the address is written", async () => {
    await freshWindow(START_LIMIT.period);
    const app = limitedApp();
    const spent = await inBatches(START_LIMIT.limit, 40, (i) => startOn(app, `2001:db8:77:1::${(i + 1).toString(16)}`));
    expect(statuses(spent)).toEqual(Array(START_LIMIT.limit).fill(201));
    expectRateLimited(await startOn(app, "2001:0DB8:0077:0001:ffff:ffff:ffff:fffe"), START_LIMIT.period);
    expect((await startOn(app, "2001:db8:77:2::1")).status).toBe(201);
  });

  it("does not count a start without CF-Connecting-IP, which only local tools and tests send", async () => {
    const app = limitedApp();
    const answers = await inBatches(START_LIMIT.limit + 10, 40, () => startOn(app, null));
    expect(statuses(answers)).toEqual(Array(START_LIMIT.limit + 10).fill(201));
  });
});

describe("widget rate limits: the switch and failures", () => {
  it("RATE_LIMITS=off turns both limits off without asking the limiters", async () => {
    const app = limitedApp();
    const starts = refusingLimiter();
    const messages = refusingLimiter();
    const bindings = (value: string) => ({ ...env, RATE_LIMITS: value, WIDGET_START_LIMITER: starts, WIDGET_MESSAGE_LIMITER: messages });
    // The same limiters refuse while the limits are on: "off" is what lets these through.
    expectRateLimited(await startOn(app, freshAddress(), bindings("on")), START_LIMIT.period);
    expectRateLimited(await messageOn(app, "conv_switch", bindings("on")), MESSAGE_LIMIT.period);
    starts.limit.mockClear();
    messages.limit.mockClear();
    for (const off of ["off", "OFF", " off "]) {
      expect((await startOn(app, freshAddress(), bindings(off))).status).toBe(201);
      expect((await messageOn(app, "conv_switch", bindings(off))).status).toBe(201);
    }
    expect(starts.limit).not.toHaveBeenCalled();
    expect(messages.limit).not.toHaveBeenCalled();
  });

  it("keeps the limits on for any other value of RATE_LIMITS", async () => {
    const app = limitedApp();
    for (const value of ["on", "false", "0", "no", ""]) {
      const bindings = { ...env, RATE_LIMITS: value, WIDGET_START_LIMITER: refusingLimiter(), WIDGET_MESSAGE_LIMITER: refusingLimiter() };
      expect((await startOn(app, freshAddress(), bindings)).status).toBe(429);
      expect((await messageOn(app, "conv_other_values", bindings)).status).toBe(429);
    }
  });

  it("lets the request through, and logs, when the limiter itself fails", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const broken = { limit: vi.fn(async () => Promise.reject(new Error("limiter unavailable"))) };
    const bindings = { ...env, WIDGET_START_LIMITER: broken, WIDGET_MESSAGE_LIMITER: broken };
    const app = limitedApp();
    expect((await startOn(app, freshAddress(), bindings)).status).toBe(201);
    expect((await messageOn(app, "conv_broken_limiter", bindings)).status).toBe(201);
    expect(broken.limit).toHaveBeenCalledTimes(2);
    expect(errors).toHaveBeenCalledTimes(2);
  });

  it("keys IPv4 as it is and IPv6 by its /64", () => {
    expect(addressKey("198.51.100.7")).toBe("198.51.100.7");
    expect(addressKey("2001:db8:77:1::1")).toBe("2001:db8:77:1::/64");
    expect(addressKey("2001:0DB8:0077:0001:ffff:ffff:ffff:fffe")).toBe("2001:db8:77:1::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    // An embedded IPv4 keeps the whole address: all mapped addresses share one /64.
    expect(addressKey("::ffff:192.0.2.1")).toBe("::ffff:192.0.2.1");
    // Not an address (only local callers can send one): counted as it is.
    expect(addressKey("not:an:address")).toBe("not:an:address");
    expect(addressKey("1::2::3")).toBe("1::2::3");
  });
});

describe("widget rate limits: configuration", () => {
  /** The `[[ratelimits]]` bindings of wrangler.toml, by name. */
  function configured(): Map<string, { limit: number; period: number }> {
    const bindings = new Map<string, { limit: number; period: number }>();
    const pattern = /\[\[ratelimits\]\]\s*name = "(\w+)"\s*namespace_id = "\d+"\s*simple = \{ limit = (\d+), period = (\d+) \}/g;
    for (const match of wranglerToml.matchAll(pattern)) bindings.set(match[1]!, { limit: Number(match[2]), period: Number(match[3]) });
    return bindings;
  }

  it("binds the limits the 429 reports, and keeps them on by default", () => {
    expect(Object.fromEntries(configured())).toEqual({ WIDGET_START_LIMITER: START_LIMIT, WIDGET_MESSAGE_LIMITER: MESSAGE_LIMIT });
    // A busy public site: 50 messages at once to a conversation and 100 starts a minute from one address pass.
    expect(MESSAGE_LIMIT.limit).toBeGreaterThanOrEqual(50);
    expect(START_LIMIT.limit / (START_LIMIT.period / 60)).toBeGreaterThanOrEqual(100);
    expect(String(env.RATE_LIMITS)).toBe("on");
  });
});

/**
 * End to end through the Worker's own widget routes: these pass once src/widget/routes.ts
 * mounts `limitStarts` on POST /conversations and `limitMessages` on POST .../messages.
 */
describe("widget rate limits: the widget routes", () => {
  async function countFor(chatbotId: string) {
    const conversations = await env.DB.prepare("SELECT COUNT(*) AS n FROM conversations WHERE chatbot_id = ?")
      .bind(chatbotId)
      .first<{ n: number }>();
    const participants = await env.DB.prepare("SELECT COUNT(*) AS n FROM participants WHERE chatbot_id = ?")
      .bind(chatbotId)
      .first<{ n: number }>();
    return { conversations: conversations!.n, participants: participants!.n };
  }

  it("refuses a flood of starts from one address and creates nothing for the refused ones", async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const address = freshAddress();
    const start = (from: string) =>
      call("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbot.id }, headers: { "CF-Connecting-IP": from } });
    await freshWindow(START_LIMIT.period);
    const admitted = await inBatches(START_LIMIT.limit, 20, () => start(address));
    expect(statuses(admitted)).toEqual(Array(START_LIMIT.limit).fill(201));
    const flood = await inBatches(20, 10, () => start(address));
    for (const refused of flood) expectRateLimited(refused, START_LIMIT.period);
    expect(await countFor(chatbot.id)).toEqual({ conversations: START_LIMIT.limit, participants: START_LIMIT.limit });
    expect((await start(freshAddress())).status).toBe(201);
  }, 90_000);

  it("admits 50 messages at once to one conversation and refuses the flood past the limit, for that conversation only", async () => {
    const team = await createTeam();
    const chatbot = await createChatbot(team.apiKey);
    const conversation = await startConversationWith(chatbot.id);
    const neighbour = await startConversationWith(chatbot.id);
    await freshWindow(MESSAGE_LIMIT.period);
    const burst = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sendMessage(conversation.conversation_id, conversation.token, { text: `m${i}` })),
    );
    expect(statuses(burst)).toEqual(Array(50).fill(201));
    const rest = await inBatches(MESSAGE_LIMIT.limit - 50, 35, (i) =>
      sendMessage(conversation.conversation_id, conversation.token, { text: `n${i}` }),
    );
    expect(statuses(rest)).toEqual(Array(MESSAGE_LIMIT.limit - 50).fill(201));
    expectRateLimited(await sendMessage(conversation.conversation_id, conversation.token, { text: "one too many" }), MESSAGE_LIMIT.period);
    expect((await sendMessage(neighbour.conversation_id, neighbour.token, { text: "hello" })).status).toBe(201);
    const texts = await visitorTexts(team.apiKey, conversation.conversation_id, 1000);
    expect(texts).toHaveLength(MESSAGE_LIMIT.limit);
    expect(texts).not.toContain("one too many");
  }, 90_000);
});
