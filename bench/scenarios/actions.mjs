// A custom action that reads one metadata key, against reading that key through the API, in
// one run: p50/p99 of POST /v1/actions/:id/run (a warm isolate) and of GET
// /v1/conversations/:id/metadata/:key, sequential and alternating so drift touches both alike.
// Also the cold runs: the first run of a new action, and the first after an edit (a new
// version, so a new isolate). Target: the run within 2x of the read at p50.
const PAIRS = 300;
const KEY = "chat-widget:user_id";
const CODE = `import { getConversationMetadata } from "chat-context";
export default async function execute(context) {
  return { user_id: await getConversationMetadata(context, "${KEY}") };
}`;

export async function run({ adminToken, request, sequence, percentile }) {
  const team = await request("POST", "/v1/admin/teams", { token: adminToken, body: { name: "actions bench" } });
  const apiKey = team.json.api_key;
  const chatbot = await request("POST", "/v1/chatbots", { token: apiKey, body: { name: "actions bench bot" } });
  const started = await request("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbot.json.id, data: { user_id: "u-1" } } });
  if (started.status !== 201) throw new Error(`conversation: ${started.status} ${started.text}`);
  const conversationId = started.json.conversation_id;
  const action = await request("POST", "/v1/actions", { token: apiKey, body: { name: "read user id", code: CODE } });
  if (action.status !== 201) throw new Error(`action: ${action.status} ${action.text}`);
  const runBody = { conversation_id: conversationId };

  const cold = await request("POST", `/v1/actions/${action.json.id}/run`, { token: apiKey, body: runBody });
  if (cold.status !== 200 || cold.json.result.user_id !== "u-1") throw new Error(`run: ${cold.status} ${cold.text}`);
  await request("PATCH", `/v1/actions/${action.json.id}`, { token: apiKey, body: { code: `${CODE}\n// v2` } });
  const coldEdit = await request("POST", `/v1/actions/${action.json.id}/run`, { token: apiKey, body: runBody });

  const encodedKey = encodeURIComponent(KEY);
  const kindOf = (n) => ((n >> 1) % 2 ? ["read", "run"] : ["run", "read"])[n % 2];
  const next = (n) =>
    kindOf(n) === "run"
      ? { method: "POST", path: `/v1/actions/${action.json.id}/run`, token: apiKey, body: runBody }
      : { method: "GET", path: `/v1/conversations/${conversationId}/metadata/${encodedKey}`, token: apiKey };
  await sequence({ amount: 40, next });
  const responses = await sequence({ amount: 2 * PAIRS, next });
  const times = { run: [], read: [] };
  responses.forEach((response, n) => {
    if (response.status !== 200) throw new Error(`${kindOf(n)}: ${response.status} ${response.text}`);
    times[kindOf(n)].push(response.ms);
  });
  const stats = Object.fromEntries(
    Object.entries(times).map(([kind, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      return [kind, { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length }];
    }),
  );
  const ratio = stats.run.p50 / stats.read.p50;
  const fmt = (s) => `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms (${s.n})`;
  return {
    name: "custom actions: a warm run vs the metadata read",
    passed: ratio <= 2,
    figures: { run: stats.run, read: stats.read, ratio_p50: ratio, cold_first_run_ms: cold.ms, cold_after_edit_ms: coldEdit.ms },
    lines: [
      `run (warm isolate, one metadata key): ${fmt(stats.run)}`,
      `GET metadata/:key:                    ${fmt(stats.read)}`,
      `run / read: p50 ${ratio.toFixed(2)}x, p99 ${(stats.run.p99 / stats.read.p99).toFixed(2)}x`,
      `cold: first run ${cold.ms.toFixed(1)} ms (action duration ${cold.json.duration_ms} ms); first run after an edit ${coldEdit.ms.toFixed(1)} ms`,
      ratio <= 2 ? "PASS (within 2x at p50)" : "FAIL: the run is over 2x the read at p50",
    ],
  };
}
