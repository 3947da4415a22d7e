// Analytics at scale: one chatbot grown to 100,000 and then to ANALYTICS_ROWS conversations
// (1,000,000 unless told), each with 10 widget keys, in one run on one server.
// Seeding: a team and its key through the admin API, a chatbot through the API, then the
// participants, conversations and metadata projection written straight into the server's
// local D1 (`wrangler d1 execute --file`) as INSERT ... SELECT over a recursive counter, in
// chunks of 100,000 conversations: a million widget starts would measure the widget.
// Measured at each size, in interleaved rounds on one connection: /healthz (the floor), an
// equality filter on chat-widget:user_id, a filter that matches nothing, the segment by
// utm_source with outcome counts, and cart value buckets against outcomes; and the database
// size per conversation (the local D1 SQLite file / conversations, with a breakdown by table
// where the sqlite3 CLI is there). Targets: filters p50 < 20 ms, segments p50 < 500 ms.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { executeD1 } from "../run.mjs";

const SIZES = [100_000, Number(process.env.ANALYTICS_ROWS ?? 1_000_000)].filter((size, i, all) => all.indexOf(size) === i);
const CHUNK = 100_000;
const ROUNDS = { fast: 200, slow: 15 };
const TARGETS = { filter: 20, segment: 500 };

const KEYS = ["user_id", "utm_source", "plan", "cart_value", "store", "locale", "email", "page", "utm_campaign", "device"];

/** The SQL of conversations first+1 .. first+count, each with a participant and 10 keys. */
function chunkSql(teamId, chatbotId, first, count) {
  const n = `WITH RECURSIVE n(i) AS (SELECT ${first + 1} UNION ALL SELECT i + 1 FROM n WHERE i < ${first + count})`;
  // 90 days, newest last; ids sort as the times do.
  const at = "strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + i * 7, 'unixepoch')";
  const value = `CASE k.key
    WHEN 'chat-widget:user_id' THEN 'user-' || i
    WHEN 'chat-widget:utm_source' THEN 'source-' || (i % 10)
    WHEN 'chat-widget:plan' THEN CASE i % 4 WHEN 0 THEN 'free' WHEN 1 THEN 'pro' WHEN 2 THEN 'business' ELSE 'enterprise' END
    WHEN 'chat-widget:cart_value' THEN CASE WHEN i % 100 = 0 THEN 'n/a' ELSE printf('%.2f', ((i * 7919) % 50000) / 100.0) END
    WHEN 'chat-widget:store' THEN 'store-' || (i % 20)
    WHEN 'chat-widget:locale' THEN CASE i % 3 WHEN 0 THEN 'en-US' WHEN 1 THEN 'lt-LT' ELSE 'de-DE' END
    WHEN 'chat-widget:email' THEN 'person' || i || '@example.com'
    WHEN 'chat-widget:page' THEN '/products/item-' || (i % 500)
    WHEN 'chat-widget:utm_campaign' THEN 'spring-sale-' || (i % 30)
    ELSE CASE i % 2 WHEN 0 THEN 'mobile' ELSE 'desktop' END END`;
  return [
    `${n} INSERT INTO participants (id, team_id, chatbot_id, channel, identifier, data, created_at, updated_at)
     SELECT printf('part_b%025d', i), '${teamId}', '${chatbotId}', 'web', 'bench-visitor-' || i, '{}', ${at}, ${at} FROM n;`,
    `${n} INSERT INTO conversations (id, team_id, chatbot_id, channel, participant_id, started_at, last_message_at, message_count, status, outcome, ended_at, seq)
     SELECT printf('conv_b%025d', i), '${teamId}', '${chatbotId}', 'web', printf('part_b%025d', i), ${at}, ${at}, 2 + i % 9,
       CASE WHEN i % 4 = 3 THEN 'open' ELSE 'ended' END,
       CASE i % 4 WHEN 0 THEN 'handoff' WHEN 1 THEN 'purchase' WHEN 2 THEN 'resolved' END,
       CASE WHEN i % 4 = 3 THEN NULL ELSE ${at} END,
       base.seq + i FROM n, (SELECT COALESCE(MAX(seq), 0) - ${first} AS seq FROM conversations) base;`,
    // As upsertProjectedMetadata writes them: each row with its conversation's day and outcome label id.
    `${n} INSERT INTO metadata_values (key_id, conv, value, num, day, outcome)
     SELECT key_id, conv, value, CASE WHEN value GLOB '[0-9]*' THEN CAST(value AS REAL) END, day, outcome FROM (
       SELECT k.id AS key_id, c.seq AS conv, ${value} AS value, unixepoch(c.started_at) / 86400 AS day, o.id AS outcome
       FROM n JOIN conversations c ON c.id = printf('conv_b%025d', i) JOIN metadata_keys k ON k.chatbot_id = '${chatbotId}'
       LEFT JOIN outcome_labels o ON o.label = c.outcome
     ) ORDER BY key_id, conv;`,
  ];
}

/** The local D1 database's SQLite file: the largest .sqlite under the state's d1 directory. */
function d1File(state) {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".sqlite") && full.includes(`${path.sep}d1${path.sep}`)) files.push(full);
    }
  };
  walk(state);
  return files.map((file) => ({ file, bytes: statSync(file).size })).sort((a, b) => b.bytes - a.bytes)[0];
}

/** Bytes by table and index (their own pages), where the sqlite3 CLI and its dbstat are there. */
function breakdown(file) {
  const result = spawnSync("sqlite3", ["-readonly", file, "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC;"], {
    encoding: "utf8",
  });
  if (result.status !== 0) return null;
  return Object.fromEntries(
    result.stdout
      .trim()
      .split("\n")
      .map((line) => line.split("|"))
      .map(([name, bytes]) => [name, Number(bytes)]),
  );
}

const stats = (percentile, list) => {
  const sorted = [...list].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
};

async function measure({ sequence, percentile }, apiKey, chatbotId, size) {
  const analytics = (body) => ({
    method: "POST",
    path: "/v1/analytics/conversations",
    token: apiKey,
    body: { chatbot_id: chatbotId, ...body },
  });
  // Conversations start 7 s apart from 2026-01-01: the day two thirds of the way through.
  const lastThird = new Date((1767225600 + Math.floor((size * 7 * 2) / 3)) * 1000).toISOString().slice(0, 10);
  const kinds = {
    fast: [
      { kind: "healthz", label: "GET /healthz", next: () => ({ method: "GET", path: "/healthz" }) },
      {
        kind: "user",
        label: "filter chat-widget:user_id eq (1 match)",
        next: (n) => analytics({ filters: [{ key: "chat-widget:user_id", op: "eq", value: `user-${1 + ((n * 7919) % size)}` }] }),
        total: 1,
      },
      {
        kind: "nomatch",
        label: "filter chat-widget:user_id eq (no match)",
        next: (n) => analytics({ filters: [{ key: "chat-widget:user_id", op: "eq", value: `nobody-${n}` }] }),
        total: 0,
      },
      {
        kind: "list",
        label: "GET /v1/conversations?filter= user_id eq (informational)",
        next: (n) => ({
          method: "GET",
          path: `/v1/conversations?chatbot_id=${chatbotId}&filter=${encodeURIComponent(JSON.stringify([{ key: "chat-widget:user_id", op: "eq", value: `user-${1 + ((n * 104729) % size)}` }]))}`,
          token: apiKey,
        }),
      },
    ],
    slow: [
      {
        kind: "segment",
        label: "group_by utm_source with outcomes (all conversations)",
        next: () => analytics({ group_by: "chat-widget:utm_source" }),
        total: size,
      },
      {
        kind: "buckets",
        label: "cart_value buckets [50,100,200,300,400] with outcomes",
        next: () => analytics({ group_by: "chat-widget:cart_value", buckets: [50, 100, 200, 300, 400] }),
        total: size,
      },
      {
        kind: "segment-days",
        label: "group_by utm_source with outcomes, the last third of the days (informational)",
        next: () => analytics({ group_by: "chat-widget:utm_source", from: lastThird }),
      },
      {
        kind: "segment-filtered",
        label: "group_by plan, filter utm_source eq source-3 (informational)",
        next: () => analytics({ group_by: "chat-widget:plan", filters: [{ key: "chat-widget:utm_source", op: "eq", value: "source-3" }] }),
      },
    ],
  };
  const figures = {};
  for (const [speed, list] of Object.entries(kinds)) {
    const k = list.length;
    const pick = (n) => list[(n + Math.floor(n / k)) % k];
    const toRequest = (n) => pick(n).next(n);
    await sequence({ amount: 2 * k, next: toRequest });
    const responses = await sequence({ amount: ROUNDS[speed] * k, next: toRequest });
    const times = Object.fromEntries(list.map((entry) => [entry.kind, []]));
    const reads = Object.fromEntries(list.map((entry) => [entry.kind, []]));
    responses.forEach((response, n) => {
      const entry = pick(n);
      if (response.status !== 200) throw new Error(`${entry.label}: ${response.status} ${response.text.slice(0, 300)}`);
      if (entry.total !== undefined && JSON.parse(response.text).total !== entry.total)
        throw new Error(`${entry.label}: total ${JSON.parse(response.text).total}, expected ${entry.total}`);
      times[entry.kind].push(response.ms);
      const cost = /d1-rows-read=(\d+)/.exec(response.headers["chat-context-cost"] ?? "");
      if (cost) reads[entry.kind].push(Number(cost[1]));
    });
    for (const entry of list)
      figures[entry.kind] = {
        label: entry.label,
        ...stats(percentile, times[entry.kind]),
        rowsRead: reads[entry.kind].length ? Math.max(...reads[entry.kind]) : null,
      };
  }
  return figures;
}

export async function run(context) {
  const { adminToken, request, state, wrangler } = context;
  if (!state || !wrangler) throw new Error("the analytics scenario needs context.state and context.wrangler from bench/run.mjs");
  const team = await request("POST", "/v1/admin/teams", { token: adminToken, body: { name: "analytics bench" } });
  if (team.status !== 201) throw new Error(`team: ${team.status} ${team.text}`);
  const apiKey = team.json.api_key;
  const chatbot = await request("POST", "/v1/chatbots", { token: apiKey, body: { name: "analytics bench bot" } });
  if (chatbot.status !== 201) throw new Error(`chatbot: ${chatbot.status} ${chatbot.text}`);
  const chatbotId = chatbot.json.id;
  const teamId = team.json.team.id;
  executeD1(
    wrangler,
    state,
    `INSERT OR IGNORE INTO metadata_keys (chatbot_id, key) VALUES ${KEYS.map((key) => `('${chatbotId}', 'chat-widget:${key}')`).join(", ")};`,
  );

  const lines = [];
  const sizes = [];
  let seeded = 0;
  let seedMs = 0;
  for (const size of SIZES) {
    const started = Date.now();
    for (let first = seeded; first < size; first += CHUNK) {
      const count = Math.min(CHUNK, size - first);
      executeD1(wrangler, state, chunkSql(teamId, chatbotId, first, count).join("\n"));
      process.stderr.write(`analytics: seeded ${first + count} conversations (${Math.round((Date.now() - started) / 1000)} s)\n`);
    }
    seedMs += Date.now() - started;
    seeded = size;
    const file = d1File(state);
    const tables = breakdown(file.file);
    const figures = await measure(context, apiKey, chatbotId, size);
    const before = lines.length;
    sizes.push({ size, seedMs: Date.now() - started, bytes: file.bytes, tables, figures });
    lines.push(
      `### ${size.toLocaleString("en")} conversations (seeded in ${((Date.now() - started) / 1000).toFixed(0)} s, ${seedMs} ms so far)`,
    );
    lines.push(`database ${(file.bytes / 1e6).toFixed(0)} MB, ${(file.bytes / size).toFixed(0)} bytes per conversation`);
    if (tables) {
      const group = (test) =>
        Object.entries(tables)
          .filter(([name]) => test(name))
          .reduce((sum, [, bytes]) => sum + bytes, 0);
      const metadata = group((name) => name.startsWith("metadata_"));
      const conversations = group((name) => name.startsWith("conversations") || name === "sqlite_autoindex_conversations_1");
      const participants = group((name) => name.startsWith("participants") || name.startsWith("sqlite_autoindex_participants"));
      lines.push(
        `per conversation: metadata (10 keys) ${(metadata / size).toFixed(0)} B, conversations row and indexes ${(conversations / size).toFixed(0)} B, participant ${(participants / size).toFixed(0)} B`,
      );
    }
    for (const figure of Object.values(figures))
      lines.push(
        `${figure.label}: p50 ${figure.p50.toFixed(1)} ms, p99 ${figure.p99.toFixed(1)} ms (n=${figure.n}${figure.rowsRead !== null ? `, rows read ${figure.rowsRead}` : ""})`,
      );
    // Each size's figures as soon as they are measured: a long run that fails later keeps them.
    process.stderr.write(`${lines.slice(before).join("\n")}\n`);
  }
  const last = sizes.at(-1);
  const first = sizes[0];
  if (sizes.length > 1) {
    lines.push(`### growth ${first.size.toLocaleString("en")} -> ${last.size.toLocaleString("en")}`);
    for (const kind of Object.keys(last.figures))
      lines.push(`${last.figures[kind].label}: p50 x${(last.figures[kind].p50 / first.figures[kind].p50).toFixed(2)}`);
    lines.push(`bytes per conversation: ${(first.bytes / first.size).toFixed(0)} -> ${(last.bytes / last.size).toFixed(0)}`);
  }
  const f = last.figures;
  const passed =
    f.user.p50 < TARGETS.filter && f.nomatch.p50 < TARGETS.filter && f.segment.p50 < TARGETS.segment && f.buckets.p50 < TARGETS.segment;
  lines.push(
    `targets at ${last.size.toLocaleString("en")}: filters p50 < ${TARGETS.filter} ms, segments p50 < ${TARGETS.segment} ms: ${passed ? "met" : "NOT met"}`,
  );
  return { name: "analytics", lines, passed, sizes };
}
