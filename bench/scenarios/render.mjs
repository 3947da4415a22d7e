// Prompt render latency on a KV hit against a miss, in one run.
// Hits render one template again and again; misses render a template never seen before
// (a distinct suffix per request), so both paths do the same work but the cache. Requests
// are sequential and alternate hit/miss, so drift of the machine touches both alike.
// Sent by autocannon on one connection with a fixed amount (run.mjs `sequence`), each
// request's kind chosen by its index; times and headers come back per request.
const RENDERS = 300;

function data() {
  const tasks = Array.from({ length: 40 }, (_, i) => ({
    name: `task ${i}`,
    due_date: `2025-02-${String((i % 28) + 1).padStart(2, "0")}`,
    done: i % 3 === 0,
  }));
  return { plan: "enterprise", locale: "lt-LT", visits: 17, tags: ["vip", "beta", "ąčę 😀"], tasks, notes: "x".repeat(2_000) };
}

const TEMPLATE =
  "You are helping {participant_data.name}. It is {current_datetime}.\n" +
  "Their plan is {participant_data.plan}; first task: {participant_data.tasks[0].name}.\n" +
  "All they told us: {participant_data}";

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function run({ adminToken, request, sequence }) {
  const team = await request("POST", "/v1/admin/teams", { token: adminToken, body: { name: "render bench" } });
  const apiKey = team.json.api_key;
  const chatbot = await request("POST", "/v1/chatbots", { token: apiKey, body: { name: "render bench bot" } });
  const participant = await request("POST", "/v1/participants", {
    token: apiKey,
    body: { chatbot_id: chatbot.json.id, channel: "api", identifier: "bench-1", name: "Ona", timezone: "Europe/Vilnius", data: data() },
  });
  if (participant.status !== 201) throw new Error(`participant: ${participant.status} ${participant.text}`);
  const render = (template) => ({
    method: "POST",
    path: "/v1/prompts/render",
    token: apiKey,
    body: { participant_id: participant.json.id, template },
  });

  // Warm both code paths (and the hit key) before measuring.
  const warm = await sequence({ amount: 40, next: (n) => render(n % 2 ? `${TEMPLATE}\nwarm ${n >> 1}` : TEMPLATE) });
  const warmFailure = warm.find((response) => response.status !== 200);
  if (warmFailure) throw new Error(`render: ${warmFailure.status} ${warmFailure.text}`);

  // Request n is pair i = n >> 1; pairs alternate hit, miss / miss, hit.
  const kindOf = (n) => ((n >> 1) % 2 ? ["miss", "hit"] : ["hit", "miss"])[n % 2];
  const responses = await sequence({
    amount: 2 * RENDERS,
    next: (n) => render(kindOf(n) === "hit" ? TEMPLATE : `${TEMPLATE}\nrequest ${n >> 1}`),
  });
  const times = { hit: [], miss: [] };
  const wrong = { hit: 0, miss: 0 };
  const costs = {};
  responses.forEach((response, n) => {
    const kind = kindOf(n);
    if (response.status !== 200) throw new Error(`render: ${response.status} ${response.text}`);
    if (response.headers["chat-context-cache"] !== kind) wrong[kind]++;
    costs[kind] = response.headers["chat-context-cost"];
    times[kind].push(response.ms);
  });
  const stats = Object.fromEntries(
    Object.entries(times).map(([kind, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      return [kind, { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length }];
    }),
  );
  const passed = wrong.hit === 0 && wrong.miss === 0;
  const fmt = (s) => `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms (${s.n} sequential renders)`;
  return {
    name: "prompt render: KV hit vs miss",
    passed,
    figures: {
      hit: stats.hit,
      miss: stats.miss,
      ratio_p50: stats.miss.p50 / stats.hit.p50,
      ratio_p99: stats.miss.p99 / stats.hit.p99,
      costs,
      wrong,
    },
    lines: [
      `participant data ${JSON.stringify(data()).length} bytes; template with {participant_data}, two paths and {current_datetime}`,
      `hit:  ${fmt(stats.hit)}; cost ${costs.hit}`,
      `miss: ${fmt(stats.miss)}; cost ${costs.miss}`,
      `miss / hit: p50 ${(stats.miss.p50 / stats.hit.p50).toFixed(2)}x, p99 ${(stats.miss.p99 / stats.hit.p99).toFixed(2)}x`,
      passed
        ? "PASS (every render reported the expected hit or miss)"
        : `FAIL: unexpected cache header on ${wrong.hit} hits and ${wrong.miss} misses`,
    ],
  };
}
