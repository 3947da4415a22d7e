import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { type ApiResponse, readResponse } from "./responses";

export type { ApiResponse };

export const ADMIN_TOKEN = "test-admin-token";
/** The TOKEN_SECRET of vitest.config.ts, for tests that sign tokens of their own. */
export const TOKEN_SECRET = "test-token-secret-0123456789abcdef";
export const BASE = "https://chat.test";

type Options = { token?: string | null; body?: unknown; rawBody?: BodyInit; headers?: Record<string, string> };

/** Calls the Worker as an HTTP client would; `body` is sent as JSON. */
export async function call(method: string, path: string, options: Options = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) {
    headers["Content-Type"] ??= "application/json";
    body = JSON.stringify(options.body);
  }
  return readResponse(await exports.default.fetch(new Request(BASE + path, { method, headers, body })));
}

let counter = 0;

/** A fresh team with its API key. */
export async function createTeam(name = `team ${++counter}`) {
  const response = await call("POST", "/v1/admin/teams", { token: ADMIN_TOKEN, body: { name } });
  if (response.status !== 201) throw new Error(`team: ${response.status} ${response.text}`);
  return { id: response.json.team.id as string, apiKey: response.json.api_key as string };
}

export async function createChatbot(apiKey: string, body: Record<string, unknown> = { name: "Support bot" }) {
  const response = await call("POST", "/v1/chatbots", { token: apiKey, body });
  if (response.status !== 201) throw new Error(`chatbot: ${response.status} ${response.text}`);
  return response.json as { id: string; name: string; allowed_origins: string[] };
}

export type StartedConversation = {
  conversation_id: string;
  token: string;
  participant_id: string;
  visitor_id: string;
  metadata: { accepted: string[]; rejected: { key: string; reason: string }[]; warnings: { key: string; reason: string }[] };
};

/** Starts a widget conversation with an existing chatbot. */
export async function startConversationWith(chatbotId: string, body: Record<string, unknown> = {}): Promise<StartedConversation> {
  const response = await call("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbotId, ...body } });
  if (response.status !== 201) throw new Error(`conversation: ${response.status} ${response.text}`);
  return response.json as StartedConversation;
}

/** A team, a chatbot and a conversation started by the widget. */
export async function startConversation(body: Record<string, unknown> = {}) {
  const team = await createTeam();
  const chatbot = await createChatbot(team.apiKey);
  return { team, chatbot, ...(await startConversationWith(chatbot.id, body)) };
}

export function sendMessage(conversationId: string, token: string, body: Record<string, unknown>) {
  return call("POST", `/v1/widget/conversations/${conversationId}/messages`, { token, body });
}

/** Sends a message and insists it was stored. */
export async function sendMessageOk(conversationId: string, token: string, body: Record<string, unknown>) {
  const response = await sendMessage(conversationId, token, body);
  if (response.status !== 201) throw new Error(`message: ${response.status} ${response.text}`);
  return response;
}

/** The API's view of a conversation (GET /v1/conversations/:id). */
export async function getConversation(apiKey: string, conversationId: string) {
  const response = await call("GET", `/v1/conversations/${conversationId}`, { token: apiKey });
  if (response.status !== 200) throw new Error(`get conversation: ${response.status} ${response.text}`);
  return response.json;
}

/** The texts of a conversation's visitor messages, oldest first, read through the API (`limit` as the route takes it). */
export async function visitorTexts(apiKey: string, conversationId: string, limit?: number): Promise<string[]> {
  const query = limit === undefined ? "" : `?limit=${limit}`;
  const response = await call("GET", `/v1/conversations/${conversationId}/messages${query}`, { token: apiKey });
  if (response.status !== 200) throw new Error(`messages: ${response.status} ${response.text}`);
  return response.json.messages
    .filter((message: { role: string }) => message.role === "visitor")
    .map((message: { text: string }) => message.text);
}

/** Runs the conversation object's pending alarm, which copies counters and metadata to D1. */
export async function flushProjection(conversationId: string): Promise<boolean> {
  return runDurableObjectAlarm(env.CONVERSATIONS.get(env.CONVERSATIONS.idFromName(conversationId)));
}

/** `count` metadata pairs `${prefix}000: value`... for filling a conversation. */
export function manyPairs(count: number, prefix = "k", value = "v"): Record<string, string> {
  const data: Record<string, string> = {};
  for (let i = 0; i < count; i++) data[`${prefix}${String(i).padStart(3, "0")}`] = value;
  return data;
}

export function expectProblem(response: { status: number; headers: Headers; json: any }, status: number) {
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${JSON.stringify(response.json)}`);
  if (!response.headers.get("Content-Type")?.startsWith("application/problem+json")) {
    throw new Error(`expected problem+json, got ${response.headers.get("Content-Type")}`);
  }
  for (const field of ["type", "title", "status", "detail"]) {
    if (!(field in response.json)) throw new Error(`problem lacks ${field}: ${JSON.stringify(response.json)}`);
  }
  if (response.json.status !== status) throw new Error("problem status differs from HTTP status");
  return response.json;
}

/** A validation problem (400) whose `errors` name exactly these JSON pointers, in any order. */
export function expectFieldErrors(response: ApiResponse, pointers: string[]) {
  const body = expectProblem(response, 400);
  if (!Array.isArray(body.errors)) throw new Error(`problem lacks errors: ${JSON.stringify(body)}`);
  const named = [...new Set(body.errors.map((error: { pointer: string }) => error.pointer))].sort();
  const expected = [...new Set(pointers)].sort();
  if (JSON.stringify(named) !== JSON.stringify(expected)) {
    throw new Error(`expected errors at ${JSON.stringify(expected)}, got ${JSON.stringify(body.errors)}`);
  }
  for (const pointer of pointers.filter(Boolean)) {
    if (!body.detail.includes(pointer)) throw new Error(`detail does not name ${pointer}: ${body.detail}`);
  }
  return body;
}

/**
 * The D1 statements prepared while `action` runs, their SQL in order: the Worker and the
 * objects share this binding.
 */
export async function countD1Statements<T>(action: () => Promise<T>): Promise<{ result: T; statements: number; queries: string[] }> {
  const db = env.DB as D1Database & { prepare: D1Database["prepare"] };
  const original = db.prepare;
  const queries: string[] = [];
  db.prepare = function (this: D1Database, query: string) {
    queries.push(query);
    return original.call(this, query);
  };
  try {
    const result = await action();
    return { result, statements: queries.length, queries };
  } finally {
    db.prepare = original;
  }
}

/** SQLite's plan for `query` with `params`, its steps joined by " | " (names the indexes it uses, and any TEMP B-TREE sort). */
export async function queryPlan(query: string, params: unknown[]): Promise<string> {
  const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query}`)
    .bind(...params)
    .all<{ detail: string }>();
  return plan.results.map((step) => step.detail).join(" | ");
}

/**
 * Makes D1 fail the next `times` statements whose SQL matches `pattern` (run, first,
 * all, raw, or a batch holding one), as an outage would: the Worker and the conversation
 * objects share this binding in tests. Returns a function that restores it.
 */
export function failD1(pattern: RegExp, times = Number.POSITIVE_INFINITY): () => void {
  const db = env.DB as D1Database & { prepare: D1Database["prepare"]; batch: D1Database["batch"] };
  const prepare = db.prepare;
  const batch = db.batch;
  let left = times;
  const marked = new WeakSet<object>();
  const outage = () => new Error("D1_ERROR: injected outage");
  const mark = (statement: D1PreparedStatement): D1PreparedStatement => {
    marked.add(statement);
    const target = statement as unknown as Record<string, (...args: unknown[]) => unknown>;
    const bind = target.bind!;
    target.bind = (...args: unknown[]) => mark(bind.apply(statement, args) as D1PreparedStatement);
    for (const method of ["run", "first", "all", "raw"]) {
      const original = target[method]!;
      target[method] = (...args: unknown[]) => (left-- > 0 ? Promise.reject(outage()) : original.apply(statement, args));
    }
    return statement;
  };
  db.prepare = function (this: D1Database, query: string) {
    const statement = prepare.call(this, query);
    return pattern.test(query) ? mark(statement) : statement;
  };
  db.batch = function (this: D1Database, statements: D1PreparedStatement[]) {
    if (statements.some((statement) => marked.has(statement)) && left-- > 0) return Promise.reject(outage());
    return batch.call(this, statements);
  } as D1Database["batch"];
  return () => {
    db.prepare = prepare;
    db.batch = batch;
  };
}
