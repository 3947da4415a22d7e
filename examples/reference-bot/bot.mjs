#!/usr/bin/env node
// A reference bot for Chat Context, in one file with no framework: it receives the
// `message.created` webhook, renders the participant's prompt through
// `POST /v1/prompts/render`, and answers through `POST /v1/conversations/:id/messages`.
// A real bot would send the rendered prompt and the visitor's text to its model; this one
// answers with the prompt itself, so you can see `{participant_data}` arrive.
//
//   CHAT_CONTEXT_URL=http://127.0.0.1:8787 CHAT_CONTEXT_API_KEY=cck_… WEBHOOK_SECRET=whsec_… \
//   PORT=8788 node examples/reference-bot/bot.mjs
//
// Every delivery is verified with the Standard Webhooks reference library before it is
// trusted; an answer is sent with a client_message_id derived from the webhook's id, so
// a redelivered webhook never answers twice.
import http from "node:http";
import { pathToFileURL } from "node:url";
import { Webhook } from "standardwebhooks";

/** The prompt the bot renders for each visitor message: any template of the prompt API. */
export const TEMPLATE = "Thanks for your message! Your plan is {participant_data.plan}. What I know about you: {participant_data}";

/**
 * Builds the bot: a request handler for the webhook endpoint.
 * @param {{ baseUrl: string, apiKey: string, webhookSecret: string, template?: string, fetch?: typeof globalThis.fetch }} options
 * @returns {(request: import("node:http").IncomingMessage, response: import("node:http").ServerResponse) => Promise<void>}
 */
export function createBot({ baseUrl, apiKey, webhookSecret, template = TEMPLATE, fetch = globalThis.fetch }) {
  const verifier = new Webhook(webhookSecret);
  /** @param {string} method @param {string} path @param {unknown} body */
  const api = async (method, path, body) => {
    const response = await fetch(baseUrl + path, {
      method,
      headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await response.json().catch(() => null);
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };

  /**
   * Answers one verified `message.created` event; ignores the team's own messages.
   * @param {{ data: { conversation_id: string, participant_id: string, message: { role: string } } }} event
   * @param {string | string[] | undefined} webhookId
   */
  async function answer(event, webhookId) {
    const { conversation_id, participant_id, message } = event.data;
    if (message.role !== "visitor") return;
    const { prompt } = await api("POST", "/v1/prompts/render", { participant_id, template });
    await api("POST", `/v1/conversations/${conversation_id}/messages`, {
      role: "bot",
      text: prompt,
      client_message_id: `reply-${webhookId}`.slice(0, 64),
    });
  }

  return async function handle(request, response) {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    const payload = Buffer.concat(chunks).toString("utf8");
    /** @type {any} */
    let event;
    try {
      event = verifier.verify(payload, /** @type {Record<string, string>} */ (request.headers));
    } catch {
      response.writeHead(401).end("bad signature");
      return;
    }
    try {
      if (event.type === "message.created") await answer(event, request.headers["webhook-id"]);
      response.writeHead(204).end();
    } catch (error) {
      console.error("[reference-bot]", error);
      // Not a 2xx: Chat Context retries the delivery with back-off.
      response.writeHead(503).end();
    }
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { CHAT_CONTEXT_URL = "http://127.0.0.1:8787", CHAT_CONTEXT_API_KEY, WEBHOOK_SECRET, PORT = "8788" } = process.env;
  if (!CHAT_CONTEXT_API_KEY || !WEBHOOK_SECRET) {
    console.error("Set CHAT_CONTEXT_API_KEY and WEBHOOK_SECRET (see README: Connect a bot).");
    process.exit(1);
  }
  const handle = createBot({ baseUrl: CHAT_CONTEXT_URL, apiKey: CHAT_CONTEXT_API_KEY, webhookSecret: WEBHOOK_SECRET });
  http.createServer(handle).listen(Number(PORT), "127.0.0.1", () => console.log(`[reference-bot] listening on http://127.0.0.1:${PORT}`));
}
