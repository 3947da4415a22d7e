// Custom actions end to end on `wrangler dev` (test/browser/global-setup.mjs, which sets
// ALLOW_LOCAL_WEBHOOKS=true): the account lookup of docs/actions.md calls a team API served
// here on loopback, through the action's outbound gate.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createChatbot } from "../browser/support";

let server: Server;
let host: string;
const seen: { url: string; authorization: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push({ url: request.url ?? "", authorization: request.headers.authorization });
    const match = /^\/accounts\/([^/]+)$/.exec(request.url ?? "");
    if (request.url === "/redirect") {
      response.writeHead(302, { Location: "https://evil.example/" }).end();
    } else if (match && request.headers.authorization === "Bearer team-api-token") {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ id: decodeURIComponent(match[1]!), plan: "gold", balance: 42.5 }));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The account lookup as a team writes it (docs/actions.md), with this test's API host. */
const accountLookup = (base: string) => `import { getConversationMetadata } from "chat-context";

export default async function execute(context) {
  const userId = await getConversationMetadata(context, "chat-widget:user_id");
  if (!userId) return { found: false };
  const response = await fetch(\`${base}/accounts/\${encodeURIComponent(userId)}\`, {
    headers: { Authorization: "Bearer team-api-token" },
  });
  if (!response.ok) throw new Error(\`The account API answered \${response.status}\`);
  const account = await response.json();
  console.log("looked up", userId);
  return { found: true, plan: account.plan, balance: account.balance };
}`;

async function createAction(apiKey: string, body: Record<string, unknown>) {
  const response = await api("POST", "/v1/actions", { token: apiKey, body: { name: "Account lookup", ...body } });
  expect(response.status, response.text).toBe(201);
  return response.json.id as string;
}

describe("custom actions on wrangler dev", () => {
  it("the account lookup reads chat-widget:user_id and calls the team's API on an allowed host", async () => {
    const { apiKey, chatbotId } = await createChatbot();
    const started = await api("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbotId, data: { user_id: "u-77" } } });
    expect(started.status, started.text).toBe(201);
    const id = await createAction(apiKey, { code: accountLookup(`http://${host}`), allowed_hosts: [host] });
    const response = await api("POST", `/v1/actions/${id}/run`, { token: apiKey, body: { conversation_id: started.json.conversation_id } });
    expect(response.status, response.text).toBe(200);
    expect(response.json.result).toEqual({ found: true, plan: "gold", balance: 42.5 });
    expect(response.json.logs).toEqual(["looked up u-77"]);
    expect(seen.at(-1)).toEqual({ url: "/accounts/u-77", authorization: "Bearer team-api-token" });
  });

  it("the same host left out of allowed_hosts is refused, and a redirect elsewhere is refused by the gate", async () => {
    const { apiKey } = await createChatbot();
    const before = seen.length;
    const refused = await api("POST", `/v1/actions/${await createAction(apiKey, { code: accountLookup(`http://${host}`) })}/run`, {
      token: apiKey,
      body: { input: null },
    });
    // A dry run has no user id: the lookup returns early without fetching.
    expect(refused.json.result).toEqual({ found: false });
    const fetcher = await createAction(apiKey, {
      code: `export default async (context) => { const r = await fetch(context.input); return { status: r.status, location: r.headers.get("location") }; };`,
    });
    const outside = await api("POST", `/v1/actions/${fetcher}/run`, { token: apiKey, body: { input: `http://${host}/accounts/x` } });
    expect(outside.status).toBe(422);
    expect(outside.json.error).toMatch(/refused/);
    expect(seen.length).toBe(before);
    const redirecting = await createAction(apiKey, {
      allowed_hosts: [host],
      code: `export default async (context) => { const r = await fetch(context.input); return { status: r.status, location: r.headers.get("location") }; };`,
    });
    const redirect = await api("POST", `/v1/actions/${redirecting}/run`, { token: apiKey, body: { input: `http://${host}/redirect` } });
    // The action's fetch follows the redirect itself, and the follow goes through the gate again.
    expect(redirect.status, redirect.text).toBe(422);
    expect(redirect.json.error).toMatch(/fetch to evil\.example refused/);
  });

  it("a loop that never ends is a 422, and the server goes on serving", async () => {
    const { apiKey } = await createChatbot();
    const id = await createAction(apiKey, { code: "export default async () => { while (true) {} };" });
    const response = await api("POST", `/v1/actions/${id}/run`, { token: apiKey, body: {} });
    expect(response.status).toBe(422);
    expect(response.json.type).toBe("/problems/action-failed");
    expect((await api("GET", "/healthz")).status).toBe(200);
  });
});
