// Message ingestion against the Durable Object floor and /healthz of the same server, in one run.
// Target: ingestion throughput >= 0.8 of the floor (a route that makes the same one object
// call and reads one row), with a client_message_id on every message, and no non-2xx
// answer. The ratio to /healthz is printed too (locally the objects share the Worker's
// thread, so no route with an object call reaches the 0.6 once set against /healthz).
// Each phase is one autocannon run (run.mjs `load`): CONCURRENCY connections, and every
// request takes the next index, so consecutive requests rotate over the conversations.
const CONVERSATIONS = 200;
const CONCURRENCY = 32;
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 9; // BENCH_ROUNDS=2 for a quick check
const PHASE_MS = 3_000; // 81 s of rounds: every conversation flushes to D1 (every 30 s) within them
const TARGET_FLOOR_RATIO = 0.8;
const HEALTHZ_REFERENCE_RATIO = 0.6;
/**
 * The scenario's setup through `request` (run.mjs's, bound to a server): a team, a chatbot and
 * CONVERSATIONS widget conversations; then its three phases' requests, by running index.
 * bench/profile.mjs profiles the same phases.
 */
export async function ingestionPhases(request, adminToken) {
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

  // Every message carries a fresh client_message_id, as the widget sends it; five pairs, as
  // the widget sends them; one of them (the page) changes on every other message.
  const runId = Math.random().toString(36).slice(2, 10);
  let sent = 0;
  const message = (index) => {
    const i = index % CONVERSATIONS;
    const conversation = conversations[i];
    return {
      method: "POST",
      path: `/v1/widget/conversations/${conversation.conversation_id}/messages`,
      token: conversation.token,
      // As the widget does: the browser's timezone rides along with every message.
      body: {
        text: `message ${index}`,
        client_message_id: `${runId}-${sent++}`,
        timezone: "Europe/Paris",
        data: { ...data(i), current_page: index % 2 ? "/checkout" : `/product/${index}` },
      },
    };
  };
  const health = () => ({ method: "GET", path: "/healthz" });
  // The runtime's floor for any route that calls a conversation: token check, one
  // Durable Object call, one small read. Shows how much of a message is the hop itself.
  const floor = (index) => {
    const conversation = conversations[index % CONVERSATIONS];
    return { method: "GET", path: `/v1/widget/conversations/${conversation.conversation_id}/messages?limit=1`, token: conversation.token };
  };
  return { health, floor, message, conversations };
}

export async function run({ adminToken, request, load, workerdCpuMs }) {
  const { health, floor, message, conversations } = await ingestionPhases(request, adminToken);
  const phases = { health, floor, ingestion: message };

  // Warm both paths, then alternate short phases so drift and noisy neighbours hit
  // both alike; each round gives one ratio, and the median round is reported.
  await load({ durationMs: 2_000, concurrency: CONCURRENCY, next: health });
  await load({ durationMs: 2_000, concurrency: CONCURRENCY, next: message });
  const runs = { health: [], floor: [], ingestion: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(phases);
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const phase of order) {
      const before = workerdCpuMs();
      const run = await load({ durationMs: PHASE_MS, concurrency: CONCURRENCY, next: phases[phase] });
      const after = workerdCpuMs();
      // CPU per request of the busiest workerd process: the one running the Worker and its objects.
      const used = Object.keys(after).map((pid) => after[pid] - (before[pid] ?? 0));
      run.cpuMsPerRequest = used.length ? Math.max(...used) / run.requests : NaN;
      runs[phase].push(run);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const roundRatios = runs.ingestion.map((run, i) => run.rps / runs.health[i].rps);
  const floorRatios = runs.floor.map((run, i) => run.rps / runs.health[i].rps);
  const combine = (list) => ({
    requests: list.reduce((sum, r) => sum + r.requests, 0),
    rps: median(list.map((r) => r.rps)),
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    cpuMsPerRequest: median(list.map((r) => r.cpuMsPerRequest)),
    non2xx: list.reduce((sum, r) => sum + r.non2xx, 0),
    statuses: Object.assign({}, ...list.map((r) => r.statuses)),
  });
  const health_ = combine(runs.health);
  const floor_ = combine(runs.floor);
  const ingestion = combine(runs.ingestion);

  // What one message costs, from the server's own accounting.
  const sample = await request("POST", message(1).path, { token: conversations[1].token, body: message(1).body });
  const ratio = median(roundRatios);
  const toFloor = runs.ingestion.map((run, i) => run.rps / runs.floor[i].rps);
  const floorRatio = median(toFloor);
  const passed = floorRatio >= TARGET_FLOOR_RATIO && ingestion.non2xx === 0 && health_.non2xx === 0 && floor_.non2xx === 0;
  const fmt = (r) =>
    `${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.requests} requests, non-2xx ${r.non2xx}, ` +
    `worker-process CPU ${r.cpuMsPerRequest.toFixed(2)} ms/request`;
  return {
    name: "message ingestion vs /healthz",
    passed,
    figures: {
      health: health_,
      floor: floor_,
      ingestion,
      ratio,
      roundRatios,
      floorRatios,
      floorRatio,
      ingestionToFloor: toFloor,
      cost: sample.headers["chat-context-cost"],
    },
    lines: [
      `${CONVERSATIONS} conversations, ${CONCURRENCY} concurrent clients, 5 pairs per message (one changing on every other message)`,
      `${ROUNDS} rotating rounds of ${PHASE_MS / 1000} s per phase; medians of the rounds`,
      `/healthz:   ${fmt(health_)}`,
      `DO floor:  ${fmt(floor_)}`,
      `ingestion: ${fmt(ingestion)}`,
      `DO floor / healthz per round: ${floorRatios.map((r) => r.toFixed(2)).join(" ")} (median ${median(floorRatios).toFixed(2)})`,
      `throughput ratio per round: ${roundRatios.map((r) => r.toFixed(2)).join(" ")}`,
      `throughput ratio ingestion / DO floor per round: ${toFloor.map((r) => r.toFixed(2)).join(" ")}`,
      `throughput ratio ingestion / DO floor (median round): ${floorRatio.toFixed(2)} (target >= ${TARGET_FLOOR_RATIO})`,
      `throughput ratio ingestion / healthz (median round): ${ratio.toFixed(2)} (reference: ${HEALTHZ_REFERENCE_RATIO})`,
      `p99 ratio ingestion / healthz: ${(ingestion.p99 / health_.p99).toFixed(2)}`,
      `CPU per request, ingestion / healthz: ${(ingestion.cpuMsPerRequest / health_.cpuMsPerRequest).toFixed(2)}x; DO floor / healthz: ${(floor_.cpuMsPerRequest / health_.cpuMsPerRequest).toFixed(2)}x`,
      `cost of one message (Chat-Context-Cost): ${sample.headers["chat-context-cost"]}`,
      passed ? "PASS" : `FAIL${ingestion.non2xx ? ` (non-2xx: ${JSON.stringify(ingestion.statuses)})` : ""}`,
      // What stands between a message and its floor locally (README, "Performance").
      ...(passed
        ? []
        : ["where the time goes: `npx node bench/profile.mjs ingestion --fsyncs` (a commit's disk flush per message), then --no-fsync"]),
    ],
  };
}
