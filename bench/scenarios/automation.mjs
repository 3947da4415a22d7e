// Automation at load: 1,000 conversations with an inactivity trigger of 10 s go quiet at
// (nearly) once; every trigger fires from its conversation's Durable Object alarm. Reports
// the lateness of the firings (fired_at - due_at, as each object recorded it: p50, p99,
// max; target p99 under 2 s) and the webhook deliveries per second to a loopback receiver
// (every message.created of the run, visitor messages and the triggers' messages).
import http from "node:http";

const CONVERSATIONS = Number(process.env.BENCH_AUTOMATION_CONVERSATIONS) || 1_000;
const DELAY_SECONDS = 10;
const CONCURRENCY = 32;
const TARGET_P99_MS = 2_000;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A webhook receiver on loopback that counts deliveries and when they arrived. */
function receiver() {
  const arrivals = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        arrivals.push({ at: Date.now(), type: body.type, role: body.data?.message?.role, text: body.data?.message?.text });
      } catch {}
      response.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: server.address().port, arrivals })));
}

/** Runs `work(i)` for i in [0, n) with at most `limit` at once. */
async function pool(n, limit, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      for (let i = next++; i < n; i = next++) await work(i);
    }),
  );
}

export async function run(context) {
  const { request, percentile } = context;
  const team = await request("POST", "/v1/admin/teams", { token: context.adminToken, body: { name: "automation" } });
  const apiKey = team.json.api_key;
  const chatbot = await request("POST", "/v1/chatbots", { token: apiKey, body: { name: "automation", stand_in_replies: false } });
  const trigger = await request("POST", `/v1/chatbots/${chatbot.json.id}/triggers`, {
    token: apiKey,
    body: { on: "conversation_inactive", delay_seconds: DELAY_SECONDS, action: { type: "send_message", text: "Still there?" } },
  });
  if (trigger.status !== 201) throw new Error(`trigger: ${trigger.status} ${trigger.text}`);
  const sink = await receiver();
  const hook = await request("POST", "/v1/webhooks", {
    token: apiKey,
    body: { url: `http://127.0.0.1:${sink.port}/hook`, events: ["message.created"], chatbot_id: chatbot.json.id },
  });
  if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${hook.text}`);

  // Start the conversations and send each one message: each arms its timer for 10 s later.
  const conversations = new Array(CONVERSATIONS);
  const armedStarted = Date.now();
  await pool(CONVERSATIONS, CONCURRENCY, async (i) => {
    const started = await request("POST", "/v1/widget/conversations", { body: { chatbot_id: chatbot.json.id } });
    if (started.status !== 201) throw new Error(`start: ${started.status} ${started.text}`);
    const sent = await request("POST", `/v1/widget/conversations/${started.json.conversation_id}/messages`, {
      token: started.json.token,
      body: { text: `hello ${i}`, client_message_id: `m-${i}` },
    });
    if (sent.status !== 201) throw new Error(`message: ${sent.status} ${sent.text}`);
    conversations[i] = started.json.conversation_id;
  });
  const armingMs = Date.now() - armedStarted;

  // Wait for every timer to come due (the last was armed armingMs after the first), then a margin.
  await pause(DELAY_SECONDS * 1000 + 5_000);
  const lateness = [];
  let missing = 0;
  await pool(CONVERSATIONS, CONCURRENCY, async (i) => {
    const events = await request("GET", `/v1/conversations/${conversations[i]}/events`, { token: apiKey });
    const fired = events.json.events.find((event) => event.on === "conversation_inactive");
    if (!fired) {
      missing++;
      return;
    }
    lateness.push(Date.parse(fired.fired_at) - Date.parse(fired.due_at));
  });
  lateness.sort((a, b) => a - b);

  // Deliveries: wait until both messages of every conversation arrived (or 60 s).
  const expected = CONVERSATIONS * 2;
  const deadline = Date.now() + 60_000;
  while (sink.arrivals.length < expected && Date.now() < deadline) await pause(250);
  const delivered = sink.arrivals.length;
  const spanMs = delivered > 1 ? sink.arrivals.at(-1).at - sink.arrivals[0].at : 0;
  const perSecond = spanMs > 0 ? (delivered / spanMs) * 1000 : 0;
  sink.server.close();

  const p50 = percentile(lateness, 50);
  const p99 = percentile(lateness, 99);
  const max = lateness.at(-1) ?? Number.NaN;
  const passed = missing === 0 && p99 < TARGET_P99_MS;
  return {
    name: "automation: inactivity triggers and webhook deliveries",
    passed,
    figures: {
      conversations: CONVERSATIONS,
      armingMs,
      firings: lateness.length,
      missing,
      lateness: { p50, p99, max },
      delivered,
      expected,
      spanMs,
      perSecond,
    },
    lines: [
      `${CONVERSATIONS} conversations armed an inactivity trigger of ${DELAY_SECONDS} s within ${armingMs} ms`,
      `firings: ${lateness.length}, missing: ${missing}; lateness (fired_at - due_at): p50 ${p50} ms, p99 ${p99} ms, max ${max} ms (target p99 < ${TARGET_P99_MS} ms)`,
      `webhook deliveries to a loopback receiver: ${delivered}/${expected} in ${spanMs} ms: ${perSecond.toFixed(0)} per second`,
      passed ? "PASS" : "FAIL",
    ],
  };
}
