import { exports } from "cloudflare:workers";

export const ADMIN_TOKEN = "test-admin-token";
export const BASE = "https://chat.test";

type Options = { token?: string | null; body?: unknown; rawBody?: BodyInit; headers?: Record<string, string> };

/** Calls the Worker as an HTTP client would; `body` is sent as JSON. */
export async function call(method: string, path: string, options: Options = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: BodyInit | undefined = options.rawBody;
  if (options.body !== undefined) {
    headers["Content-Type"] ??= "application/json";
    body = JSON.stringify(options.body);
  }
  const response = await exports.default.fetch(new Request(BASE + path, { method, headers, body }));
  const text = await response.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, json, text };
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

/** A team, a chatbot and a conversation started by the widget. */
export async function startConversation(body: Record<string, unknown> = {}) {
  const team = await createTeam();
  const chatbot = await createChatbot(team.apiKey);
  const response = await call("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbot.id, ...body } });
  if (response.status !== 201) throw new Error(`conversation: ${response.status} ${response.text}`);
  return { team, chatbot, ...(response.json as { conversation_id: string; token: string; participant_id: string; visitor_id: string; metadata: any }) };
}

export function sendMessage(conversationId: string, token: string, body: Record<string, unknown>) {
  return call("POST", `/v1/widget/conversations/${conversationId}/messages`, { token, body });
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
