// Message ingestion against /healthz of the same server, in one run.
// Target (issue 2): ingestion throughput >= 0.6 of /healthz, and no non-2xx answer.
const CONVERSATIONS = 200;
const CONCURRENCY = 32;
const DURATION_MS = 8_000;
const TARGET_RATIO = 0.6;

export async function run({ adminToken, request, load }) {
  const team = await request("POST", "/v1/admin/teams", { token: adminToken, body: { name: "bench" } });
  const apiKey = team.json.api_key;
  const chatbot = await request("POST", "/v1/chatbots", { token: apiKey, body: { name: "bench bot" } });
  const data = (i) => ({
    user_id: `user-${i}`,
    plan: "enterprise",
    email: `visitor${i}@example.com`,
    locale: "fr-FR",
    current_page: "/checkout",
  });
  const conversations = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const started = await request("POST", "/v1/widget/conversations", {
      body: { chatbot_id: chatbot.json.id, data: data(i), timezone: "Europe/Paris" },
    });
    if (started.status !== 201) throw new Error(`start failed: ${started.status} ${started.text}`);
    conversations.push(started.json);
  }

  // Each message carries five pairs, as the widget sends them; one of them (the page)
  // changes on every other message, the others are unchanged.
  const message = (index) => {
    const conversation = conversations[index % CONVERSATIONS];
    const i = index % CONVERSATIONS;
    return {
      method: "POST",
      path: `/v1/widget/conversations/${conversation.conversation_id}/messages`,
      token: conversation.token,
      body: { text: `message ${index}`, data: { ...data(i), current_page: index % 2 ? "/checkout" : `/product/${index}` } },
    };
  };
  const health = () => ({ method: "GET", path: "/healthz" });

  // Warm both paths, then measure them back to back, twice, in alternating order.
  await load({ durationMs: 1_500, concurrency: CONCURRENCY, next: health });
  await load({ durationMs: 1_500, concurrency: CONCURRENCY, next: message });
  const runs = { health: [], ingestion: [] };
  for (let round = 0; round < 2; round++) {
    const order = round === 0 ? ["health", "ingestion"] : ["ingestion", "health"];
    for (const phase of order) {
      runs[phase].push(await load({ durationMs: DURATION_MS / 2, concurrency: CONCURRENCY, next: phase === "health" ? health : message }));
    }
  }
  const combine = (list) => ({
    requests: list.reduce((sum, r) => sum + r.requests, 0),
    rps: list.reduce((sum, r) => sum + r.rps, 0) / list.length,
    p50: Math.max(...list.map((r) => r.p50)),
    p99: Math.max(...list.map((r) => r.p99)),
    non2xx: list.reduce((sum, r) => sum + r.non2xx, 0),
    statuses: Object.assign({}, ...list.map((r) => r.statuses)),
  });
  const health_ = combine(runs.health);
  const ingestion = combine(runs.ingestion);

  // What one message costs, from the server's own accounting.
  const sample = await request("POST", message(1).path, { token: conversations[1].token, body: message(1).body });
  const ratio = ingestion.rps / health_.rps;
  const passed = ratio >= TARGET_RATIO && ingestion.non2xx === 0 && health_.non2xx === 0;
  const fmt = (r) => `${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.requests} requests, non-2xx ${r.non2xx}`;
  return {
    name: "message ingestion vs /healthz",
    passed,
    figures: { health: health_, ingestion, ratio, cost: sample.headers["chat-context-cost"] },
    lines: [
      `${CONVERSATIONS} conversations, ${CONCURRENCY} concurrent clients, 5 pairs per message (one changing on every other message)`,
      `/healthz:  ${fmt(health_)}`,
      `ingestion: ${fmt(ingestion)}`,
      `throughput ratio ingestion / healthz: ${ratio.toFixed(2)} (target >= ${TARGET_RATIO})`,
      `p99 ratio ingestion / healthz: ${(ingestion.p99 / health_.p99).toFixed(2)}`,
      `cost of one message (Chat-Context-Cost): ${sample.headers["chat-context-cost"]}`,
      passed ? "PASS" : `FAIL${ingestion.non2xx ? ` (non-2xx: ${JSON.stringify(ingestion.statuses)})` : ""}`,
    ],
  };
}
