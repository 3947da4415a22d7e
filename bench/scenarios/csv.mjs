// Participant CSV at scale: a 10,000-row import, the same file again unchanged, the export,
// and the export imported back, one after the other on a fresh chatbot.
// Target: each import answers in under 3 s, and /healthz is not stalled while the
// re-import runs (its probes' p50, p99 and max are reported next to an idle baseline and
// the first import's; the re-import's max must stay under STALL_LIMIT_MS).
// Then, for information (no target), the same file imported by a team with a webhook for
// participant.created: 10,000 events, their delivery rows and queue messages written as the
// import's batches land (a loopback receiver answers 204 to the deliveries that follow).
// Probes go one at a time through run.mjs `request` rather than autocannon: they must stop
// the moment the import answers, and an autocannon run lasts a fixed time.
const ROWS = 10_000;
const TARGET_MS = 3_000;
const IDLE_PROBES = 200;
const PROBE_GAP_MS = 5;
// A stalled /healthz waits for most of an import; idle probes stay far below this.
const STALL_LIMIT_MS = 250;
// A hung server fails the scenario rather than the run waiting forever.
const REQUEST_TIMEOUT_MS = 60_000;

const HEADER = "identifier,channel,name,data.plan,data.visits,data.tags,data.vip,data.note";

/** A spreadsheet's worth of participants: a name and five data columns each. */
function csvFile() {
  const lines = [HEADER];
  for (let i = 0; i < ROWS; i++) {
    const plan = ["free", "pro", "enterprise"][i % 3];
    lines.push(
      `user-${i},${i % 4 ? "api" : "whatsapp"},Person ${i},${plan},${i % 97},"[""t${i % 7}"",""t${i % 11}""]",${i % 2 === 0},note for ${i}; ok`,
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

import { createServer } from "node:http";

/** A loopback webhook receiver that answers 204 and counts what it got; `close()` stops it. */
async function startReceiver() {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, received: () => received, close: () => server.close() };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Latency figures of /healthz probes sent one after another until `until` settles (or `count` are sent). */
async function probeHealth(request, percentile, { until, count = Infinity }) {
  let settled = false;
  const settle = () => {
    settled = true;
  };
  // Both outcomes handled here; the caller awaits `until` itself for its value or error.
  until?.then(settle, settle);
  const times = [];
  let failed = 0;
  while (!settled && times.length < count) {
    const response = await request("GET", "/healthz", { timeoutMs: REQUEST_TIMEOUT_MS });
    if (response.status !== 200) failed++;
    times.push(response.ms);
    await sleep(PROBE_GAP_MS);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { probes: times.length, failed, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

export async function run({ adminToken, request, workerdCpuMs, percentile }) {
  const team = await request("POST", "/v1/admin/teams", { token: adminToken, body: { name: "csv bench" } });
  const apiKey = team.json.api_key;
  const chatbot = await request("POST", "/v1/chatbots", { token: apiKey, body: { name: "csv bench bot" } });
  const path = `/v1/participants/import?chatbot_id=${chatbot.json.id}`;
  const file = csvFile();
  const importFile = async (body) => {
    const before = workerdCpuMs();
    const response = await request("POST", path, {
      token: apiKey,
      body,
      headers: { "Content-Type": "text/csv" },
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    const after = workerdCpuMs();
    if (response.status !== 200) throw new Error(`import: ${response.status} ${response.text.slice(0, 500)}`);
    const used = Object.keys(after).map((pid) => after[pid] - (before[pid] ?? 0));
    return {
      ms: response.ms,
      report: response.json,
      cost: response.headers["chat-context-cost"],
      workerCpuMs: used.length ? Math.max(...used) : NaN,
    };
  };

  const idle = await probeHealth(request, percentile, { count: IDLE_PROBES });
  const creating = importFile(file);
  const duringImport = await probeHealth(request, percentile, { until: creating });
  const first = await creating;
  const pending = importFile(file);
  const during = await probeHealth(request, percentile, { until: pending });
  const again = await pending;
  const exported = await request("GET", `/v1/participants/export?chatbot_id=${chatbot.json.id}`, {
    token: apiKey,
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
  const exportMs = exported.ms;
  if (exported.status !== 200) throw new Error(`export: ${exported.status} ${exported.text.slice(0, 500)}`);
  const roundTrip = await importFile(exported.text);

  // Informational: the same file for a team whose webhook hears of every new participant.
  const receiver = await startReceiver();
  let withWebhook;
  try {
    const hooked = await request("POST", "/v1/admin/teams", { token: adminToken, body: { name: "csv bench with a webhook" } });
    const hookedBot = await request("POST", "/v1/chatbots", { token: hooked.json.api_key, body: { name: "csv bench bot" } });
    const webhook = await request("POST", "/v1/webhooks", {
      token: hooked.json.api_key,
      body: { url: receiver.url, events: ["participant.created"] },
    });
    if (webhook.status !== 201) throw new Error(`webhook: ${webhook.status} ${webhook.text}`);
    const response = await request("POST", `/v1/participants/import?chatbot_id=${hookedBot.json.id}`, {
      token: hooked.json.api_key,
      body: file,
      headers: { "Content-Type": "text/csv" },
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    if (response.status !== 200) throw new Error(`import with a webhook: ${response.status} ${response.text.slice(0, 500)}`);
    withWebhook = { ms: response.ms, report: response.json, deliveredWithinOneSecond: 0 };
    await sleep(1_000);
    withWebhook.deliveredWithinOneSecond = receiver.received();
  } finally {
    receiver.close();
  }

  const summary = ({ created, updated, unchanged, errors }) =>
    `created ${created}, updated ${updated}, unchanged ${unchanged}, errors ${errors.length}`;
  const counts = (report, expected) =>
    report.errors.length === 0 && Object.entries(expected).every(([counter, value]) => report[counter] === value);
  const correct =
    counts(first.report, { created: ROWS, updated: 0, unchanged: 0 }) &&
    counts(again.report, { created: 0, updated: 0, unchanged: ROWS }) &&
    counts(roundTrip.report, { created: 0, updated: 0, unchanged: ROWS });
  const fast = first.ms < TARGET_MS && again.ms < TARGET_MS && roundTrip.ms < TARGET_MS;
  const probesOk = [idle, duringImport, during].every((h) => h.failed === 0);
  const responsive = during.max < STALL_LIMIT_MS;
  const passed = correct && fast && probesOk && responsive;
  const fmtImport = (label, run) =>
    `${label}: ${run.ms.toFixed(0)} ms (target < ${TARGET_MS} ms); ${summary(run.report)}; worker-process CPU ${run.workerCpuMs.toFixed(0)} ms; cost ${run.cost}`;
  const fmtHealth = (h) =>
    `p50 ${h.p50.toFixed(1)} ms, p99 ${h.p99.toFixed(1)} ms, max ${h.max.toFixed(1)} ms (${h.probes} probes, ${h.failed} failed)`;
  return {
    name: "participant CSV: 10,000-row import and re-import",
    passed,
    figures: {
      rows: ROWS,
      bytes: Buffer.byteLength(file),
      import: { ms: first.ms, report: first.report, cost: first.cost, workerCpuMs: first.workerCpuMs },
      reimport: { ms: again.ms, report: again.report, cost: again.cost, workerCpuMs: again.workerCpuMs },
      export: { ms: exportMs, bytes: Buffer.byteLength(exported.text) },
      exportReimport: { ms: roundTrip.ms, report: roundTrip.report, cost: roundTrip.cost, workerCpuMs: roundTrip.workerCpuMs },
      healthIdle: idle,
      healthDuringImport: duringImport,
      healthDuringReimport: during,
      importWithWebhook: withWebhook,
    },
    lines: [
      `${ROWS} rows (identifier, channel, name and 5 data columns), ${(Buffer.byteLength(file) / 1024).toFixed(0)} KiB`,
      fmtImport("import (all new)      ", first),
      fmtImport("re-import (unchanged) ", again),
      `export: ${exportMs.toFixed(0)} ms, ${(Buffer.byteLength(exported.text) / 1024).toFixed(0)} KiB`,
      fmtImport("export re-imported    ", roundTrip),
      `/healthz idle:                ${fmtHealth(idle)}`,
      `/healthz during import:       ${fmtHealth(duringImport)}`,
      `/healthz during re-import:    ${fmtHealth(during)} (target: max < ${STALL_LIMIT_MS} ms)`,
      `import with a webhook (informational): ${withWebhook.ms.toFixed(0)} ms; ${summary(withWebhook.report)}; ` +
        `${ROWS} participant.created deliveries queued, ${withWebhook.deliveredWithinOneSecond} received within 1 s of the answer`,
      passed
        ? "PASS"
        : `FAIL${correct ? "" : " (unexpected counts)"}${fast ? "" : ` (an import took ${TARGET_MS} ms or more)`}${probesOk ? "" : " (a /healthz probe failed)"}${responsive ? "" : " (/healthz stalled during the re-import)"}`,
    ],
  };
}
