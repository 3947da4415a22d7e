// Crash recovery: widget clients and an API writer run while the local server is killed
// (SIGKILL: no shutdown) and started again on the same state. Widget clients retry every
// unanswered message with the same client_message_id, as the widget does; the API writer
// retries its PUTs. Then it proves: every acknowledged message and pair is present, no
// message is stored twice, and the D1 projection caught up (the list filter finds the
// last pair of every conversation).
import { randomUUID } from "node:crypto";

const CONVERSATIONS = 16;
const BEFORE_CRASH_MS = 4_000;
const AFTER_RESTART_MS = 4_000;
const RETRY_DEADLINE_MS = 90_000;
const PROJECTION_DEADLINE_MS = 120_000;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends until the server answers 200/201, or the deadline passes; a 5xx or no answer is retried. */
async function deliver(context, method, path, options) {
  const deadline = Date.now() + RETRY_DEADLINE_MS;
  let retries = 0;
  for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      const response = await context.request(method, path, { ...options, timeoutMs: 10_000 });
      if (response.status === 200 || response.status === 201) return { response, retries };
      if (response.status < 500 && response.status !== 429) throw new Error(`${method} ${path}: ${response.status} ${response.text}`);
    } catch (error) {
      if (!/ECONNREFUSED|ECONNRESET|socket hang up|timed out|no answer within|EPIPE/i.test(String(error?.message ?? error))) throw error;
    }
    if (Date.now() > deadline) throw new Error(`${method} ${path}: no answer within ${RETRY_DEADLINE_MS} ms`);
    retries++;
    await pause(wait);
  }
}

export async function run(context) {
  const team = await context.request("POST", "/v1/admin/teams", { token: context.adminToken, body: { name: "chaos" } });
  const apiKey = team.json.api_key;
  const chatbot = await context.request("POST", "/v1/chatbots", { token: apiKey, body: { name: "chaos" } });
  const conversations = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const started = await context.request("POST", "/v1/widget/conversations", {
      body: { chatbot_id: chatbot.json.id, data: { seed: `${i}` } },
    });
    conversations.push(started.json);
  }

  const acknowledged = new Map(conversations.map((c) => [c.conversation_id, { texts: [], pairs: {} }]));
  const apiKeys = [];
  let stopAt = Number.POSITIVE_INFINITY;
  let retries = 0;
  let replays = 0;

  const widgetClient = async (conversation, index) => {
    for (let n = 0; Date.now() < stopAt; n++) {
      const text = `c${index}-m${n}`;
      const data = { [`k${n % 50}`]: `v${n}`, last: text };
      const { response, retries: r } = await deliver(context, "POST", `/v1/widget/conversations/${conversation.conversation_id}/messages`, {
        token: conversation.token,
        body: { text, data, client_message_id: randomUUID() },
      });
      retries += r;
      if (response.headers["idempotent-replayed"] === "true") replays++;
      const seen = acknowledged.get(conversation.conversation_id);
      seen.texts.push(text);
      Object.assign(seen.pairs, data);
    }
  };
  const apiWriter = async () => {
    for (let n = 0; Date.now() < stopAt; n++) {
      const conversation = conversations[n % conversations.length];
      const key = `api-${n}`;
      const { retries: r } = await deliver(context, "PUT", `/v1/conversations/${conversation.conversation_id}/metadata/${key}`, {
        token: apiKey,
        body: { value: `${n}` },
      });
      retries += r;
      apiKeys.push([conversation.conversation_id, key, `${n}`]);
    }
  };

  const started = Date.now();
  const traffic = Promise.all([...conversations.map(widgetClient), apiWriter()]);
  await pause(BEFORE_CRASH_MS);
  const crashAt = Date.now();
  await context.crashAndRestart();
  const downMs = Date.now() - crashAt;
  stopAt = Date.now() + AFTER_RESTART_MS;
  await traffic;
  const trafficMs = Date.now() - started;

  // Every acknowledged message present exactly once, in order; every acknowledged pair present.
  let messages = 0;
  let missing = 0;
  let duplicated = 0;
  let pairsChecked = 0;
  let pairsMissing = 0;
  for (const conversation of conversations) {
    const seen = acknowledged.get(conversation.conversation_id);
    const page = await context.request("GET", `/v1/conversations/${conversation.conversation_id}/messages?limit=1000`, { token: apiKey });
    const stored = page.json.messages.filter((m) => m.role === "visitor").map((m) => m.text);
    const counts = new Map();
    for (const text of stored) counts.set(text, (counts.get(text) ?? 0) + 1);
    for (const text of seen.texts) {
      messages++;
      if (!counts.has(text)) missing++;
    }
    for (const count of counts.values()) if (count > 1) duplicated += count - 1;
    const metadata = (await context.request("GET", `/v1/conversations/${conversation.conversation_id}/metadata`, { token: apiKey })).json
      .metadata;
    for (const [key, value] of Object.entries(seen.pairs)) {
      pairsChecked++;
      // A later message may have replaced an earlier value of the same key: the newest acknowledged one must be there.
      if (metadata[`chat-widget:${key}`] !== value) pairsMissing++;
    }
  }
  let apiMissing = 0;
  const byConversation = new Map();
  for (const [id, key, value] of apiKeys) byConversation.set(`${id} ${key}`, value);
  for (const [entry, value] of byConversation) {
    const [id, key] = entry.split(" ");
    const read = await context.request("GET", `/v1/conversations/${id}/metadata/${key}`, { token: apiKey });
    if (read.status !== 200 || read.json.value !== value) apiMissing++;
  }

  // The projection catches up: the filter finds each conversation by its last acknowledged message.
  const projectionStarted = Date.now();
  let lagging = conversations.length;
  while (Date.now() - projectionStarted < PROJECTION_DEADLINE_MS) {
    lagging = 0;
    for (const conversation of conversations) {
      const last = acknowledged.get(conversation.conversation_id).pairs.last;
      const found = await context.request(
        "GET",
        `/v1/conversations?chatbot_id=${chatbot.json.id}&metadata_key=chat-widget:last&metadata_value=${encodeURIComponent(last)}`,
        { token: apiKey },
      );
      if (!found.json.conversations.some((c) => c.id === conversation.conversation_id)) lagging++;
    }
    if (lagging === 0) break;
    await pause(2_000);
  }
  const projectionMs = Date.now() - projectionStarted;

  const passed = missing === 0 && duplicated === 0 && pairsMissing === 0 && apiMissing === 0 && lagging === 0;
  return {
    name: "crash recovery (chaos)",
    passed,
    figures: {
      messages,
      missing,
      duplicated,
      pairsChecked,
      pairsMissing,
      apiWrites: byConversation.size,
      apiMissing,
      retries,
      replays,
      downMs,
      trafficMs,
      projectionMs,
      lagging,
    },
    lines: [
      `${CONVERSATIONS} widget clients and 1 API writer for ${trafficMs} ms; the server was killed (SIGKILL) after ${BEFORE_CRASH_MS} ms and was back after ${downMs} ms`,
      `acknowledged messages: ${messages}; missing: ${missing}; stored twice: ${duplicated}; retries: ${retries}; answered as replays: ${replays}`,
      `acknowledged widget pairs checked: ${pairsChecked}; missing: ${pairsMissing}; API metadata writes: ${byConversation.size}; missing: ${apiMissing}`,
      `projection caught up for ${conversations.length - lagging}/${conversations.length} conversations within ${projectionMs} ms (flush interval 30 s)`,
      passed ? "PASS" : "FAIL",
    ],
  };
}
