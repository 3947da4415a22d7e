// Dashboard pages against the API on one team with 10,000 conversations and 10,000
// participants, in one run on one server.
// Seeding: a team and its write key through the admin API, a chatbot through the API, then
// the 10,000 participants, conversations and their metadata projection (3 keys each) as
// SQL rows written straight into the server's local D1 (`wrangler d1 execute --file`):
// 10,000 widget starts would measure the widget, not the dashboard. A few conversations
// are started through the widget as well, so the conversation page reads a real object.
// Measured: sequential requests on one connection (run.mjs `sequence`), in interleaved
// rounds (each round asks every page once, the order rotating), so drift of the machine
// touches every page alike. Target: each dashboard page's p50 within 2x of
// `GET /v1/conversations?limit=50` (API key), the list the conversations page shows.
import { randomBytes } from "node:crypto";
import { executeD1 } from "../run.mjs";

const ROWS = 10_000;
const ROUNDS = 200;
const WARM_ROUNDS = 15;
const TARGET_RATIO = 2;
const REAL_CONVERSATIONS = 3;
const REAL_MESSAGES = 8;
// A statement stays well under D1's 100 KB statement limit.
const ROWS_PER_INSERT = 200;
const DAY_MS = 24 * 60 * 60 * 1000;

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

/** An id as src/shared/ids.ts makes them: time-ordered, so the seeded rows sort by their time. */
function idAt(prefix, ms) {
  let time = "";
  let remaining = ms;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[remaining % 32] + time;
    remaining = Math.floor(remaining / 32);
  }
  let tail = "";
  for (const byte of randomBytes(16)) tail += CROCKFORD[byte & 31];
  return `${prefix}_${time}${tail}`;
}

const q = (value) => (value === null ? "NULL" : typeof value === "number" ? String(value) : `'${String(value).replaceAll("'", "''")}'`);

function inserts(table, columns, rows) {
  const statements = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const values = rows.slice(i, i + ROWS_PER_INSERT).map((row) => `(${row.map(q).join(", ")})`);
    statements.push(`INSERT INTO ${table} (${columns.join(", ")}) VALUES\n${values.join(",\n")};`);
  }
  return statements;
}

const PLANS = ["free", "pro", "business"];

/** The SQL of ROWS participants, each with one conversation of a few messages and 3 metadata keys, over the last 30 days. */
function seedSql(teamId, chatbotId) {
  const now = Date.now();
  const first = now - 30 * DAY_MS;
  const participants = [];
  const conversations = [];
  const metadata = [];
  for (let i = 0; i < ROWS; i++) {
    const at = first + Math.floor((i * 30 * DAY_MS) / ROWS);
    const iso = new Date(at).toISOString();
    const last = new Date(at + 5 * 60_000).toISOString();
    // One in a hundred is on the rare plan: a filter that keeps few rows.
    const plan = i % 100 === 0 ? "enterprise" : PLANS[i % 3];
    const participantId = idAt("part", at);
    const conversationId = idAt("conv", at);
    const email = `person${i}@example.com`;
    const data = JSON.stringify({ plan, visits: i % 97, tags: [`t${i % 7}`], note: `seeded participant ${i}` });
    participants.push([
      participantId,
      teamId,
      chatbotId,
      "web",
      `bench-visitor-${i}`,
      `Person ${i}`,
      email,
      null,
      "Europe/Vilnius",
      data,
      iso,
      iso,
    ]);
    conversations.push([conversationId, teamId, chatbotId, "web", participantId, iso, last, 2 + (i % 9)]);
    metadata.push(
      [conversationId, chatbotId, "chat-widget:user_id", `user-${i}`, last],
      [conversationId, chatbotId, "chat-widget:email", email, last],
      [conversationId, chatbotId, "chat-widget:plan", plan, last],
    );
  }
  return [
    ...inserts(
      "participants",
      ["id", "team_id", "chatbot_id", "channel", "identifier", "name", "email", "phone", "timezone", "data", "created_at", "updated_at"],
      participants,
    ),
    ...inserts(
      "conversations",
      ["id", "team_id", "chatbot_id", "channel", "participant_id", "started_at", "last_message_at", "message_count"],
      conversations,
    ),
    ...inserts("conversation_metadata", ["conversation_id", "chatbot_id", "key", "value", "updated_at"], metadata),
  ].join("\n");
}

function seed(wrangler, state, sql) {
  const started = Date.now();
  executeD1(wrangler, state, sql);
  return { ms: Date.now() - started, bytes: Buffer.byteLength(sql) };
}

/** Real widget conversations, newest of all, with messages and metadata: the conversation page reads their objects. */
async function startRealConversations(request, chatbotId) {
  const ids = [];
  for (let c = 0; c < REAL_CONVERSATIONS; c++) {
    const started = await request("POST", "/v1/widget/conversations", {
      body: {
        chatbot_id: chatbotId,
        timezone: "Europe/Vilnius",
        data: { user_id: `real-${c}`, email: `real${c}@example.com`, plan: "pro" },
      },
    });
    if (started.status !== 201) throw new Error(`widget start: ${started.status} ${started.text}`);
    for (let m = 0; m < REAL_MESSAGES; m++) {
      const sent = await request("POST", `/v1/widget/conversations/${started.json.conversation_id}/messages`, {
        token: started.json.token,
        body: { text: `Message ${m} of a real conversation`, data: { [`step_${m}`]: `value ${m}`, cart_total: String(10 * m) } },
      });
      if (sent.status !== 201) throw new Error(`widget message: ${sent.status} ${sent.text}`);
    }
    ids.push(started.json.conversation_id);
  }
  return ids;
}

async function signIn(request, baseUrl, apiKey) {
  const response = await request("POST", "/dashboard/login", {
    body: new URLSearchParams({ api_key: apiKey, next: "/dashboard/conversations" }).toString(),
    headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: baseUrl },
  });
  const cookie = [response.headers["set-cookie"] ?? []].flat().find((value) => value.startsWith("cc_session="));
  if (response.status !== 303 || !cookie) throw new Error(`dashboard sign-in: ${response.status} ${response.text.slice(0, 300)}`);
  return cookie.split(";")[0];
}

/** Every conversation the API lists, paged 100 at a time: proves the seeded rows are what the server reads. */
async function countConversations(request, apiKey) {
  let count = 0;
  let cursor = null;
  do {
    const page = await request("GET", `/v1/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, {
      token: apiKey,
    });
    if (page.status !== 200) throw new Error(`list: ${page.status} ${page.text.slice(0, 300)}`);
    count += page.json.conversations.length;
    cursor = page.json.next_cursor;
  } while (cursor);
  return count;
}

const stats = (percentile, list) => {
  const sorted = [...list].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
};

export async function run({ adminToken, baseUrl, request, sequence, percentile, state, wrangler }) {
  if (!state || !wrangler) throw new Error("the dashboard scenario needs context.state and context.wrangler from bench/run.mjs");
  const team = await request("POST", "/v1/admin/teams", { token: adminToken, body: { name: "dashboard bench" } });
  if (team.status !== 201) throw new Error(`team: ${team.status} ${team.text}`);
  const apiKey = team.json.api_key;
  const chatbot = await request("POST", "/v1/chatbots", { token: apiKey, body: { name: "dashboard bench bot" } });
  if (chatbot.status !== 201) throw new Error(`chatbot: ${chatbot.status} ${chatbot.text}`);
  const chatbotId = chatbot.json.id;

  const seeded = seed(wrangler, state, seedSql(team.json.team.id, chatbotId));
  const realIds = await startRealConversations(request, chatbotId);
  const listed = await countConversations(request, apiKey);
  if (listed !== ROWS + REAL_CONVERSATIONS) throw new Error(`the API lists ${listed} conversations, expected ${ROWS + REAL_CONVERSATIONS}`);
  const cookie = await signIn(request, baseUrl, apiKey);

  const pages = [
    { kind: "api", label: "GET /v1/conversations?limit=50 (API key)", path: () => "/v1/conversations?limit=50", token: apiKey },
    { kind: "conversations", label: "GET /dashboard/conversations", path: () => "/dashboard/conversations", cookie },
    { kind: "participants", label: "GET /dashboard/participants", path: () => "/dashboard/participants", cookie },
    {
      kind: "conversation",
      label: "GET /dashboard/conversations/:id (a real conversation)",
      path: (n) => `/dashboard/conversations/${realIds[n % realIds.length]}`,
      cookie,
    },
  ];
  const informational = [
    {
      kind: "conversations-filtered",
      label: "GET /dashboard/conversations?metadata_key=chat-widget:plan&metadata_value=enterprise (1 in 100 match)",
      path: () => "/dashboard/conversations?metadata_key=chat-widget%3Aplan&metadata_value=enterprise",
      cookie,
    },
    { kind: "chatbots", label: "GET /dashboard/chatbots", path: () => "/dashboard/chatbots", cookie },
  ];

  // A page that is not there (yet) is reported, not measured.
  const measured = [];
  const missing = [];
  for (const page of [...pages, ...informational]) {
    const probe = await request("GET", page.path(0), {
      token: page.token,
      headers: page.cookie ? { Cookie: page.cookie } : {},
    });
    if (probe.status === 200) measured.push({ ...page, bytes: Buffer.byteLength(probe.text), body: probe.text });
    else missing.push({ ...page, status: probe.status });
  }
  const conversationsPage = measured.find((page) => page.kind === "conversations");
  const rowsShown = conversationsPage ? (conversationsPage.body.match(/href="\/dashboard\/conversations\/conv_/g) ?? []).length : 0;

  const toRequest = (page, n) => ({
    method: "GET",
    path: page.path(n),
    token: page.token,
    headers: page.cookie ? { Cookie: page.cookie } : {},
  });
  // Request n is in round r = floor(n / k); the round's order is rotated by r.
  const k = measured.length;
  const pageOf = (n) => measured[(n + Math.floor(n / k)) % k];
  const warm = await sequence({ amount: WARM_ROUNDS * k, next: (n) => toRequest(pageOf(n), n) });
  const warmFailure = warm.find((response) => response.status !== 200);
  if (warmFailure) throw new Error(`warm-up: ${warmFailure.status} ${warmFailure.text.slice(0, 300)}`);
  const responses = await sequence({ amount: ROUNDS * k, next: (n) => toRequest(pageOf(n), n) });
  const times = Object.fromEntries(measured.map((page) => [page.kind, []]));
  const failures = {};
  responses.forEach((response, n) => {
    const { kind } = pageOf(n);
    if (response.status !== 200) failures[kind] = (failures[kind] ?? 0) + 1;
    times[kind].push(response.ms);
  });
  const figures = Object.fromEntries(
    measured.map((page) => [page.kind, { label: page.label, bytes: page.bytes, ...stats(percentile, times[page.kind]) }]),
  );
  const api = figures.api;
  const targets = pages.filter((page) => page.kind !== "api");
  const ratios = {};
  for (const page of measured)
    if (page.kind !== "api") ratios[page.kind] = { p50: figures[page.kind].p50 / api.p50, p99: figures[page.kind].p99 / api.p99 };

  const within = targets.filter((page) => figures[page.kind] && ratios[page.kind].p50 <= TARGET_RATIO);
  const allMeasured = targets.every((page) => figures[page.kind]);
  const passed = allMeasured && within.length === targets.length && Object.keys(failures).length === 0 && rowsShown === 50;

  const fmt = (kind) => {
    const f = figures[kind];
    const ratio = ratios[kind] ? `; ${ratios[kind].p50.toFixed(2)}x / ${ratios[kind].p99.toFixed(2)}x the API` : "";
    return `${f.label}: p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, ${(f.bytes / 1024).toFixed(1)} KiB${ratio}`;
  };
  const lines = [
    `seeded ${ROWS} participants, ${ROWS} conversations and ${3 * ROWS} metadata rows in one team: ${(seeded.bytes / 1024 / 1024).toFixed(1)} MiB of SQL through wrangler d1 execute in ${(seeded.ms / 1000).toFixed(1)} s; ${REAL_CONVERSATIONS} real widget conversations of ${REAL_MESSAGES} messages; the API lists ${listed}`,
    `${ROUNDS} interleaved rounds of ${k} sequential requests (after ${WARM_ROUNDS} warm-up rounds); the conversations page shows ${rowsShown} rows`,
    ...measured.map((page) => fmt(page.kind)),
    ...missing.map((page) => `${page.label}: not measured, the page answers ${page.status} (not there yet)`),
    `target: each of ${targets.map((page) => page.kind).join(", ")} p50 within ${TARGET_RATIO}x of the API's p50 (the filtered list and the chatbots page are for information)`,
    passed
      ? "PASS"
      : `FAIL${allMeasured ? "" : " (a page of the target is not there to measure)"}${within.length === targets.filter((page) => figures[page.kind]).length ? "" : " (a page is over the ratio)"}${Object.keys(failures).length ? ` (non-200 answers: ${JSON.stringify(failures)})` : ""}${rowsShown === 50 ? "" : ` (the conversations page shows ${rowsShown} rows, not 50)`}`,
  ];
  return {
    name: "dashboard pages vs GET /v1/conversations, 10,000 conversations and participants",
    passed,
    figures: {
      rows: ROWS,
      seed: seeded,
      rounds: ROUNDS,
      pages: figures,
      ratios,
      missing: missing.map((page) => ({ kind: page.kind, status: page.status })),
      failures,
    },
    lines,
  };
}
