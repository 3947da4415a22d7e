#!/usr/bin/env node
// Where a route's time goes on the thread that runs the Worker and its Durable Objects
// (wrangler dev runs them on one workerd thread), measured rather than guessed.
// Needs Node 22 or later (a global WebSocket): `npx node bench/profile.mjs …` uses the
// project's Node 24.
//
//   npx node bench/profile.mjs ingestion                  # V8 profile: JavaScript functions and modules
//   npx node bench/profile.mjs ingestion --perf           # Linux perf: the whole thread (SQLite, C++, kernel)
//   npx node bench/profile.mjs ingestion --measure 5      # CPU per request only, 5 rotating rounds
//   npx node bench/profile.mjs ingestion --against DIR --measure 8   # before/after: DIR's checkout against this one
//   npx node bench/profile.mjs ingestion --fsyncs         # fsync and write calls per request, by file (strace)
//   npx node bench/profile.mjs ingestion --measure 5 --no-fsync   # the same with every fsync a no-op (diagnostic)
//   npx node bench/profile.mjs --report bench/results/profile-message.cpuprofile bench/results/profile-floor.cpuprofile
//
// Options: --seconds N (per phase, default 8), --interval µs (V8 sampling, default 100),
// --hz N (perf sampling, default 4999), --top N (rows per table, default 30),
// --state-dir DIR (where the servers keep their state: the system's temporary directory by
// default, as the bench; /dev/shm to take the disk's fsync out), --observability off
// (X_LOCAL_OBSERVABILITY=false: wrangler's local span collector off; on by default, as the bench),
// --no-fsync (a diagnostic, not a measure of the product: bench/diagnostics/no-fsync.c, built
// with cc and preloaded into wrangler dev, turns every fsync into a no-op, so a run with it
// against one without shows what the disk's flush of each commit costs the thread).
//
// --fsyncs: each phase once under `strace -f -c` on the Worker's process, per file written:
// how many fsync and pwrite calls a request makes (the objects' WAL, D1, wrangler's local
// observability store), and the time strace saw inside fsync. strace slows the server
// several times: read its counts, not its rates.
//
// Each mode starts `wrangler dev` as bench/run.mjs does (fresh state, migrations applied,
// RATE_LIMITS off, the bench's tokens, plus --inspector-port) and sets up the scenario as
// bench/scenarios/ingestion.mjs does: a team, a chatbot, 200 widget conversations. Phases:
//   message  POST /v1/widget/conversations/:id/messages, text, client_message_id, timezone, 5 pairs
//   floor    GET  /v1/widget/conversations/:id/messages?limit=1 (token check, one object call, one read)
// Load is autocannon's (32 connections, each request the next index, so consecutive requests
// rotate over the conversations); each phase is warmed 3 s first, not measured. CPU per
// request is the Worker's workerd process's (from /proc; wrangler's proxy is the other one).
//
// Default mode: connects to the inspector's WebSocket (Chrome DevTools Protocol:
// Profiler.enable, setSamplingInterval, start/stop around each phase), writes
// bench/results/profile-<phase>.cpuprofile (DevTools' Performance tab, speedscope.app) and
// bench/results/profile-bundle.js (the bundle, for its line numbers), and prints self time
// per module and per function, with the differences between the phases. Samples are
// counted, not weighed by their time deltas (a starved sampler leaves gaps that would be
// charged to whatever ran before them). Calls into the runtime's C++ (sql.exec, RPC, Response)
// are charged to the calling function: a function's self time includes them.
//
// --perf: `perf record -g` on the Worker's process (bench/results/perf-<phase>.data), then
// the top symbols by self time, and every sample sorted by what is on its stack (the commit
// of the object's write transaction, transactionSync, sql.exec, the RPC call, Hono, GC,
// microtasks, …) and by its innermost frame (JavaScript, V8, SQLite, kernel, malloc, …), in
// µs per request for each phase and their difference. JIT-compiled JavaScript has no symbols.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { ADMIN_TOKEN, BENCH_VARS, freePort, load, request, workerdCpuMs } from "./run.mjs";
import { ingestionPhases } from "./scenarios/ingestion.mjs";

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const resultsDir = path.join(root, "bench/results");
const CONCURRENCY = 32;

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}
const SECONDS = Number(option("seconds", 8));
const INTERVAL_US = Number(option("interval", 100));
const TOP = Number(option("top", 30));
const MEASURE_ROUNDS = Number(option("measure", 0));
const PERF_HZ = Number(option("hz", 4999));
// Where the servers keep their state (D1, the objects' SQLite): the system's temporary
// directory, as the bench; `--state-dir /dev/shm` puts it on tmpfs, where a commit's
// fsync costs next to nothing, to see how much of a write is the disk's flush.
const STATE_DIR = option("state-dir", tmpdir());

// ---- the inspector (Chrome DevTools Protocol over a WebSocket) --------------------------

async function openInspector(inspectorPort) {
  const deadline = Date.now() + 30_000;
  let targets = [];
  for (;;) {
    try {
      targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
      if (targets.length) break;
    } catch {}
    if (Date.now() > deadline) throw new Error("the inspector listed no target within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // wrangler lists the user Worker (its Durable Objects run in the same isolate).
  const target = targets.find((t) => /chat-context/.test(`${t.title} ${t.url} ${t.id}`)) ?? targets[0];
  // wrangler's inspector proxy admits only a local Origin; Node's WebSocket (22+) takes headers.
  if (!globalThis.WebSocket) throw new Error("this script needs Node 22 or later (a global WebSocket): run it with `npx node`");
  const socket = new WebSocket(target.webSocketDebuggerUrl, { headers: { Origin: "http://localhost" } });
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = (event) => reject(new Error(`inspector: ${event.message ?? "connection failed"}`));
  });
  let nextId = 1;
  const waiting = new Map();
  const listeners = [];
  socket.onmessage = (event) => {
    const message = JSON.parse(typeof event.data === "string" ? event.data : event.data.toString());
    if (message.id && waiting.has(message.id)) {
      const { resolve, reject } = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) reject(new Error(`${message.error.message} (${message.error.code})`));
      else resolve(message.result);
    } else if (message.method) for (const listener of listeners) listener(message);
  };
  return {
    target,
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    on: (listener) => listeners.push(listener),
    close: () => socket.close(),
  };
}

/** Each script's source, for naming modules: scriptParsed replays every loaded script on Debugger.enable. */
async function scriptSources(inspector) {
  const scripts = [];
  inspector.on((message) => {
    if (message.method === "Debugger.scriptParsed") scripts.push(message.params);
  });
  await inspector.send("Debugger.enable");
  await new Promise((resolve) => setTimeout(resolve, 500));
  const sources = {};
  for (const script of scripts) {
    if (!script.url || script.url.startsWith("node:") || script.url.startsWith("cloudflare:")) continue;
    try {
      sources[script.scriptId] = {
        url: script.url,
        source: (await inspector.send("Debugger.getScriptSource", { scriptId: script.scriptId })).scriptSource,
      };
    } catch {}
  }
  await inspector.send("Debugger.disable");
  return sources;
}

/** For each script, a line -> module lookup from esbuild's `// path` markers, which open every module of the bundle. */
function moduleIndex(sources) {
  const index = {};
  for (const [scriptId, { url, source }] of Object.entries(sources)) {
    const starts = [];
    const lines = source.split("\n");
    for (let line = 0; line < lines.length; line++) {
      const marker = /^\/\/ ((?:src|node_modules|\.\.?\/|\.wrangler|[\w@-]+\/)[^\s]*\.(?:[cm]?[jt]sx?|json))$/.exec(lines[line]);
      if (marker) starts.push({ line, module: marker[1].replace(/^.*node_modules\//, "node_modules/") });
    }
    index[scriptId] = { url, starts };
  }
  return index;
}

function moduleOf(index, callFrame) {
  const script = index?.[callFrame.scriptId];
  if (!script) return callFrame.url ? path.basename(callFrame.url) : callFrame.functionName || "(native)";
  let found = path.basename(script.url || "") || "(script)";
  for (const start of script.starts) {
    if (start.line > callFrame.lineNumber) break;
    found = start.module;
  }
  // Group dependencies by package, keep our own sources by file.
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(found);
  return pkg ? `${pkg[1]} (package)` : found;
}

// ---- aggregating a .cpuprofile ---------------------------------------------------------

/**
 * Self time per function and per module, in samples; idle samples left out. Samples are
 * counted rather than weighed by their time deltas: on a busy machine the sampling thread
 * is starved now and then (gaps of tens of ms), and a delta-weighted profile charges each
 * gap to whatever ran just before it. Each busy sample stands for an equal slice of the
 * isolate's busy time.
 */
export function aggregate(profile, index) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map();
  const byModule = new Map();
  let busy = 0;
  let idle = 0;
  for (const id of profile.samples) {
    const frame = nodes.get(id).callFrame;
    if (frame.functionName === "(idle)") {
      idle++;
      continue;
    }
    busy++;
    const special = frame.functionName.startsWith("(") && !frame.url;
    const module = special ? frame.functionName : moduleOf(index, frame);
    const fn = special ? frame.functionName : `${frame.functionName || "(anonymous)"} ${module}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + 1);
    byModule.set(module, (byModule.get(module) ?? 0) + 1);
  }
  return { busy, idle, byFunction, byModule };
}

/**
 * µs per request of one item: its share of the busy samples times the isolate's busy time
 * per request, estimated as the workerd process's CPU per request (which also holds a
 * little of other threads) or, without /proc, the profile's busy share of wall time.
 */
function busyUsPerRequest(phase) {
  const { busy, idle } = phase.aggregate;
  if (phase.cpuMsPerRequest !== undefined) return phase.cpuMsPerRequest * 1000;
  return ((phase.seconds * 1e6) / phase.requests) * (busy / (busy + idle));
}

function table(title, map, phase, top) {
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  const scale = busyUsPerRequest(phase) / phase.aggregate.busy;
  console.log(`\n${title}`);
  console.log("  µs/req   share  samples  name");
  for (const [name, samples] of rows) {
    console.log(
      `  ${(samples * scale).toFixed(1).padStart(6)}  ${((100 * samples) / phase.aggregate.busy).toFixed(1).padStart(5)}%  ${String(samples).padStart(7)}  ${name}`,
    );
  }
}

function diffTable(title, a, b, pick, top) {
  const scaleA = busyUsPerRequest(a) / a.aggregate.busy;
  const scaleB = busyUsPerRequest(b) / b.aggregate.busy;
  const [mapA, mapB] = [pick(a.aggregate), pick(b.aggregate)];
  const rows = [...new Set([...mapA.keys(), ...mapB.keys()])]
    .map((name) => [name, (mapA.get(name) ?? 0) * scaleA, (mapB.get(name) ?? 0) * scaleB])
    .sort((x, y) => y[1] - y[2] - (x[1] - x[2]));
  console.log(`\n${title}`);
  console.log(`  ${a.name.padStart(8)} ${b.name.padStart(8)}     diff  (est. µs per request)`);
  for (const [name, x, y] of rows.slice(0, top)) {
    console.log(`  ${x.toFixed(1).padStart(8)} ${y.toFixed(1).padStart(8)} ${(x - y).toFixed(1).padStart(8)}  ${name}`);
  }
}

function report(phases) {
  for (const phase of phases) {
    const { busy, idle, byFunction, byModule } = phase.aggregate;
    console.log(
      `\n### ${phase.name}: ${phase.requests} requests in ${phase.seconds.toFixed(1)} s (${(phase.requests / phase.seconds).toFixed(0)} req/s)`,
    );
    if (phase.cpuMsPerRequest !== undefined)
      console.log(`workerd process CPU: ${phase.cpuMsPerRequest.toFixed(3)} ms/request (with the profiler on)`);
    console.log(`samples: ${busy} busy, ${idle} idle (${((100 * idle) / (idle + busy)).toFixed(0)}%)`);
    table("self time by module", byModule, phase, TOP);
    table("self time by function", byFunction, phase, TOP);
  }
  if (phases.length >= 2) {
    const [a, b] = phases;
    console.log(`\n### ${a.name} minus ${b.name}: ${(busyUsPerRequest(a) - busyUsPerRequest(b)).toFixed(1)} µs/request more`);
    diffTable("by module", a, b, (x) => x.byModule, TOP);
    diffTable("by function", a, b, (x) => x.byFunction, TOP);
  }
}

// ---- scenarios -------------------------------------------------------------------------

/** The setup and requests of bench/scenarios/ingestion.mjs: message against the floor. */
async function ingestion(baseUrl) {
  const { message, floor } = await ingestionPhases((method, urlPath, options) => request(baseUrl, method, urlPath, options), ADMIN_TOKEN);
  return { message, floor };
}

const SCENARIOS = { ingestion };

// ---- phases ----------------------------------------------------------------------------

/** CPU (ms) each workerd process under `pid` used while `run` ran, with the run's result. */
async function withCpu(pid, run) {
  const before = workerdCpuMs(pid);
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const after = workerdCpuMs(pid);
  const cpuByPid = Object.fromEntries(Object.keys(after).map((p) => [p, after[p] - (before[p] ?? 0)]));
  return { ...result, seconds, cpuByPid, cpu: Object.values(cpuByPid).sort((a, b) => b - a) };
}

/**
 * --measure N: no profiler, N rounds of every phase in turn (the order rotating, as the
 * bench does); for each phase the median round's CPU per request of each workerd process
 * (the busiest runs the Worker and its objects; the other is wrangler's proxy) and req/s.
 */
async function measure(pid, baseUrl, phases) {
  const names = Object.keys(phases);
  for (const name of names) await load(baseUrl, { durationMs: 2_000, concurrency: CONCURRENCY, next: phases[name] });
  const worker = workerProcess(pid, baseUrl);
  const runs = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < MEASURE_ROUNDS; round++) {
    for (const name of names.map((_, i) => names[(i + round) % names.length])) {
      console.log(`round ${round + 1}: ${name} for ${SECONDS} s`);
      const run = await withCpu(pid, () => load(baseUrl, { durationMs: SECONDS * 1000, concurrency: CONCURRENCY, next: phases[name] }));
      if (run.non2xx) console.warn(`${name}: ${run.non2xx} non-2xx answers ${JSON.stringify(run.statuses)}`);
      const others = Object.entries(run.cpuByPid).filter(([p]) => p !== worker);
      runs[name].push({
        rps: run.rps,
        worker: run.cpuByPid[worker] / run.requests,
        proxy: others.reduce((sum, [, ms]) => sum + ms, 0) / run.requests,
      });
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`\n${MEASURE_ROUNDS} rounds of ${SECONDS} s per phase, ${CONCURRENCY} connections; medians of the rounds`);
  for (const name of names) {
    const list = runs[name];
    console.log(
      `${name.padEnd(10)} ${median(list.map((r) => r.rps))
        .toFixed(0)
        .padStart(5)} req/s  CPU ms/request: Worker process ` +
        `${median(list.map((r) => r.worker)).toFixed(3)} (rounds ${list.map((r) => r.worker.toFixed(3)).join(" ")}), ` +
        `wrangler's proxy ${median(list.map((r) => r.proxy)).toFixed(3)}`,
    );
  }
  if (names.length >= 2) {
    const ratios = runs[names[0]].map((run, i) => run.rps / runs[names[1]][i].rps);
    const diffs = runs[names[0]].map((run, i) => run.worker - runs[names[1]][i].worker);
    console.log(
      `throughput ${names[0]} / ${names[1]} per round: ${ratios.map((r) => r.toFixed(2)).join(" ")} (median ${median(ratios).toFixed(2)})`,
    );
    console.log(
      `Worker CPU ${names[0]} - ${names[1]} per round (ms): ${diffs.map((d) => d.toFixed(3)).join(" ")} (median ${median(diffs).toFixed(3)})`,
    );
  }
}

/**
 * The workerd process that runs the Worker and its objects: wrangler dev starts two, and
 * the other (its proxy) is the one listening on the public port.
 */
function workerProcess(pid, baseUrl) {
  const port = new URL(baseUrl).port;
  const pids = Object.keys(workerdCpuMs(pid));
  const worker = pids.find((p) => {
    try {
      return !readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`entry=127.0.0.1:${port}`);
    } catch {
      return false;
    }
  });
  if (!worker) throw new Error(`no workerd process besides the proxy among ${pids.join(", ")}`);
  return worker;
}

/**
 * --perf: the same load, sampled by Linux `perf` instead of the inspector: native frames
 * too (SQLite, workerd's C++, V8's runtime; JIT-compiled JavaScript shows as one bucket),
 * of the busiest workerd process. Writes bench/results/perf-<phase>.data and prints each
 * phase's top symbols by self time (`perf report --no-children`).
 */
async function perfPhases(pid, baseUrl, phases) {
  mkdirSync(resultsDir, { recursive: true });
  const reports = [];
  for (const [name, next] of Object.entries(phases)) {
    console.log(`${name}: warming 3 s, then perf for ${SECONDS} s`);
    await load(baseUrl, { durationMs: 3_000, concurrency: CONCURRENCY, next });
    const worker = workerProcess(pid, baseUrl);
    const file = path.join(resultsDir, `perf-${name}.data`);
    const perf = spawn("perf", ["record", "-q", "-F", String(PERF_HZ), "-g", "-p", worker, "-o", file, "--", "sleep", String(SECONDS)], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const run = await withCpu(pid, () => load(baseUrl, { durationMs: SECONDS * 1000, concurrency: CONCURRENCY, next }));
    await new Promise((resolve) => perf.once("exit", resolve));
    const cpuMsPerRequest = run.cpuByPid[worker] / run.requests;
    const symbols = spawnSync(
      "perf",
      ["report", "-i", file, "--no-children", "--sort", "dso,sym", "--stdio", "-g", "none", "--percent-limit", "0.3"],
      {
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      },
    ).stdout;
    reports.push({ name, requests: run.requests, cpuMsPerRequest, symbols, ...(await perfCategories(file)) });
  }
  const us = (report, count) => (count / report.samples) * report.cpuMsPerRequest * 1000;
  const table = (title, pick) => {
    console.log(`\n${title} (µs per request)`);
    console.log(`  ${reports.map((r) => r.name.padStart(9)).join("")}${reports.length === 2 ? "     diff" : ""}`);
    const names = [...new Set(reports.flatMap((r) => [...pick(r).keys()]))];
    const rows = names.map((category) => [category, ...reports.map((r) => us(r, pick(r).get(category) ?? 0))]);
    rows.sort((a, b) => b[1] - a[1]);
    for (const [category, ...values] of rows) {
      const diff = values.length === 2 ? (values[0] - values[1]).toFixed(1).padStart(9) : "";
      console.log(`  ${values.map((v) => v.toFixed(1).padStart(9)).join("")}${diff}  ${category}`);
    }
  };
  for (const report of reports) {
    console.log(`\n### ${report.name}: ${report.requests} requests, Worker process CPU ${report.cpuMsPerRequest.toFixed(3)} ms/request`);
    console.log("top symbols by self time:");
    for (const row of report.symbols
      .split("\n")
      .filter((line) => /^\s+\d/.test(line))
      .slice(0, TOP)) {
      console.log(
        `  ${((Number.parseFloat(row) / 100) * report.cpuMsPerRequest * 1000).toFixed(1).padStart(7)} µs/req ${row.trim().slice(0, 160)}`,
      );
    }
  }
  table("where the Worker thread's CPU goes, by what is on the stack", (r) => r.byStack);
  table("by what the sampled instruction is", (r) => r.byLeaf);
}

/**
 * Stack categories, the first that matches a sample's stack wins. With local
 * observability on (wrangler's default), the collector's own transactionSync and SQL land
 * in the object rows too: run with `--observability off` to see the application alone.
 */
const STACK_CATEGORIES = [
  ["SQLite commit of the implicit transaction (WAL write, fsync)", /startImplicitTxnImpl|ImplicitTxn::commit|ActorSqlite::commitImpl/],
  [
    "V8 garbage collection",
    /Heap::CollectGarbage|MinorGCJob|ScavengerCollector|MarkCompactCollector|ConcurrentMarking|Heap::PerformGarbageCollection|IncrementalMarking/,
  ],
  ["local observability (tail stream)", /TailStream|tracing::/],
  ["object: transactionSync (the message's statements and JS)", /DurableObjectStorage::transactionSync/],
  ["object: sql.exec outside a transaction", /SqlStorage::exec|SqlStorage::Cursor/],
  ["object: rest of the RPC method", /JsRpcTargetBase::callImpl/],
  ["Worker: the RPC call to the object", /JsRpcProperty::call|JsRpcClientProvider/],
  ["resuming after an RPC answer", /resumeAfterIo<capnp::Response<workerd::rpc::JsRpcTarget/],
  ["Worker: fetch handler (Hono, routes)", /WorkerEntrypoint::requestImpl|ServiceWorkerGlobalScope::request/],
  ["HTTP and socket I/O", /kj::HttpServer|HttpInputStream|HttpOutputStream|AsyncIoStream|HttpService|kj_hyper/],
  ["promise continuations (microtasks)", /RunMicrotasks/],
];

/** What a sample's innermost frame is: JavaScript, V8's C++, SQLite, the kernel, … */
function leafCategory(leaf) {
  if (/^Builtins_/.test(leaf)) return "JavaScript: V8 builtins and interpreter";
  if (/\[unknown\]/.test(leaf)) return "JavaScript: JIT-compiled code";
  if (/v8::internal::(Heap|Scavenger|MarkCompact|Concurrent|Marking|Sweeper)/.test(leaf)) return "V8 heap";
  if (/v8::/.test(leaf)) return "V8 runtime (C++)";
  if (/sqlite|wal[A-Z]|pager|vdbe|[bB]tree|pcache|yy_/.test(leaf)) return "SQLite";
  if (/tcmalloc|TCMalloc|malloc|free\b/.test(leaf)) return "malloc";
  if (/\[kernel/.test(leaf) || /\(\[kernel/.test(leaf)) return "kernel";
  if (/workerd::jsg/.test(leaf)) return "workerd jsg (JS/C++ glue)";
  if (/kj::|capnp::|kj_rs/.test(leaf)) return "kj/capnp (event loop, RPC)";
  if (/workerd::/.test(leaf)) return "workerd (other)";
  if (/libc\.so|libgcc|ld-linux/.test(leaf)) return "libc";
  return "other";
}

/** Counts `perf script` samples by stack category and by innermost frame. */
async function perfCategories(file) {
  const script = spawn("perf", ["script", "-i", file], { stdio: ["ignore", "pipe", "ignore"] });
  const byStack = new Map();
  const byLeaf = new Map();
  let samples = 0;
  let frames = [];
  const flush = () => {
    if (!frames.length) return;
    samples++;
    const stack = frames.join("\n");
    const category =
      STACK_CATEGORIES.find(([, pattern]) => pattern.test(stack))?.[0] ?? (/\[kernel/.test(frames[0]) ? "kernel (other)" : "other");
    byStack.set(category, (byStack.get(category) ?? 0) + 1);
    const leaf = leafCategory(frames[0]);
    byLeaf.set(leaf, (byLeaf.get(leaf) ?? 0) + 1);
    frames = [];
  };
  for await (const line of createInterface({ input: script.stdout })) {
    if (line.trim() === "") flush();
    else if (/^\s/.test(line)) frames.push(line.trim());
  }
  flush();
  return { samples, byStack, byLeaf };
}

/** Profiles each phase (after a warm-up), saves the profiles and prints the report. */
async function profilePhases(pid, baseUrl, inspectorPort, phases) {
  const inspector = await openInspector(inspectorPort);
  console.log(`inspector target: ${inspector.target.title ?? inspector.target.id}`);
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: INTERVAL_US });
  mkdirSync(resultsDir, { recursive: true });
  const results = [];
  for (const [name, next] of Object.entries(phases)) {
    console.log(`${name}: warming 3 s, then profiling ${SECONDS} s`);
    await load(baseUrl, { durationMs: 3_000, concurrency: CONCURRENCY, next });
    await inspector.send("Profiler.start");
    const run = await withCpu(pid, () => load(baseUrl, { durationMs: SECONDS * 1000, concurrency: CONCURRENCY, next }));
    const { profile } = await inspector.send("Profiler.stop");
    if (run.non2xx) console.warn(`${name}: ${run.non2xx} non-2xx answers ${JSON.stringify(run.statuses)}`);
    results.push({
      name,
      profile,
      requests: run.requests,
      seconds: run.seconds,
      cpuMsPerRequest: run.cpu.length ? run.cpu[0] / run.requests : undefined,
    });
  }
  await inspector.send("Profiler.disable");
  const sources = await scriptSources(inspector);
  inspector.close();
  const modules = moduleIndex(sources);
  // The bundle wrangler built, so the profile's line numbers can be looked up.
  const bundle = Object.values(sources).sort((a, b) => b.source.length - a.source.length)[0];
  if (bundle) writeFileSync(path.join(resultsDir, "profile-bundle.js"), bundle.source);
  const phaseReports = results.map((result) => {
    const file = path.join(resultsDir, `profile-${result.name}.cpuprofile`);
    // DevTools reads the profile's own fields; the rest is for --report.
    writeFileSync(
      file,
      JSON.stringify({
        ...result.profile,
        requests: result.requests,
        seconds: result.seconds,
        cpuMsPerRequest: result.cpuMsPerRequest,
        modules,
      }),
    );
    console.log(`wrote ${path.relative(root, file)}`);
    return { ...result, aggregate: aggregate(result.profile, modules) };
  });
  report(phaseReports);
}

/**
 * --fsyncs: every phase once with `strace -f -c -y` attached to the Worker's process (warmed
 * first), its fsync and pwrite64 calls summed per file class and divided by the phase's
 * requests. strace stops the thread at every traced call: counts hold, rates do not.
 */
async function countFsyncs(pid, baseUrl, phases) {
  const worker = workerProcess(pid, baseUrl);
  const classOf = (file) =>
    file.includes("/do/")
      ? "Durable Objects' SQLite"
      : file.includes("/d1/")
        ? "D1 (local SQLite)"
        : file.includes("observability")
          ? "wrangler's local observability store"
          : "other";
  for (const [name, next] of Object.entries(phases)) {
    await load(baseUrl, { durationMs: 2_000, concurrency: CONCURRENCY, next });
    const out = path.join(tmpdir(), `chat-context-strace-${name}-${process.pid}.txt`);
    const tracer = spawn("strace", ["-f", "-q", "-y", "-T", "-e", "trace=fsync,fdatasync,pwrite64", "-o", out, "-p", worker], {
      stdio: "ignore",
    });
    const attached = await new Promise((resolve) => {
      tracer.once("error", () => resolve(false));
      setTimeout(() => resolve(true), 1_000);
    });
    if (!attached) throw new Error("--fsyncs needs strace (Debian package strace)");
    const run = await load(baseUrl, { durationMs: SECONDS * 1000, concurrency: CONCURRENCY, next });
    tracer.kill("SIGINT");
    await new Promise((resolve) => tracer.once("exit", resolve));
    const counts = new Map();
    for (const line of readFileSync(out, "utf8").split("\n")) {
      // A call another thread interrupted is logged `<unfinished ...>` (counted, not timed).
      const call = /(fsync|fdatasync|pwrite64)\(\d+<([^>]*)>/.exec(line);
      if (!call) continue;
      const took = /<([\d.]+)>$/.exec(line);
      const key = `${classOf(call[2])}\t${call[1] === "pwrite64" ? "pwrite64" : "fsync"}`;
      const entry = counts.get(key) ?? { calls: 0, seconds: 0 };
      entry.calls++;
      entry.seconds += took ? Number(took[1]) : 0;
      counts.set(key, entry);
    }
    rmSync(out, { force: true });
    console.log(`\n${name}: ${run.requests} requests under strace (${SECONDS} s); calls per request, by file`);
    for (const [key, entry] of [...counts].sort((a, b) => b[1].calls - a[1].calls)) {
      const [file, call] = key.split("\t");
      console.log(
        `  ${(entry.calls / run.requests).toFixed(2).padStart(6)} ${call.padEnd(9)} ${file}` +
          (call === "fsync" ? ` (mean ${((entry.seconds / entry.calls) * 1e6).toFixed(0)} µs each, under strace)` : ""),
      );
    }
  }
}

// ---- main ------------------------------------------------------------------------------

async function main() {
  const reportAt = process.argv.indexOf("--report");
  if (reportAt >= 0) {
    const files = process.argv.slice(reportAt + 1).filter((arg) => arg.endsWith(".cpuprofile"));
    report(
      files.map((file) => {
        const saved = JSON.parse(readFileSync(file, "utf8"));
        const requests = saved.requests ?? 1;
        return {
          name: path.basename(file, ".cpuprofile").replace(/^profile-/, ""),
          requests,
          seconds: saved.seconds ?? 1,
          cpuMsPerRequest: saved.cpuMsPerRequest,
          aggregate: aggregate(saved, saved.modules),
        };
      }),
    );
    return;
  }
  const scenarioName = process.argv.slice(2).find((arg, i, args) => !arg.startsWith("--") && !args[i - 1]?.startsWith("--")) ?? "ingestion";
  const scenario = SCENARIOS[scenarioName];
  if (!scenario) throw new Error(`unknown scenario ${scenarioName}; known: ${Object.keys(SCENARIOS).join(", ")}`);

  const against = option("against", null);
  const servers = [];
  const stopAll = () => {
    for (const server of servers) server.stop();
  };
  process.on("SIGINT", () => {
    stopAll();
    process.exit(130);
  });
  try {
    for (const dir of against ? [path.resolve(against), root] : [root]) {
      const server = await startServer(dir);
      servers.push(server);
      console.log(`setting up ${scenarioName} on ${path.relative(process.cwd(), dir) || "."}`);
      server.phases = await scenario(server.baseUrl);
    }
    const [server] = servers;
    if (against) await compare(servers);
    else if (MEASURE_ROUNDS > 0) await measure(server.pid, server.baseUrl, server.phases);
    else if (process.argv.includes("--fsyncs")) await countFsyncs(server.pid, server.baseUrl, server.phases);
    else if (process.argv.includes("--perf")) await perfPhases(server.pid, server.baseUrl, server.phases);
    else await profilePhases(server.pid, server.baseUrl, server.inspectorPort, server.phases);
  } finally {
    stopAll();
  }
}

/** Builds bench/diagnostics/no-fsync.c into a shared library (once per run) and returns its path. */
function noFsyncLibrary() {
  const library = path.join(tmpdir(), "chat-context-no-fsync.so");
  const built = spawnSync("cc", ["-shared", "-fPIC", "-O2", "-o", library, path.join(root, "bench/diagnostics/no-fsync.c")], {
    encoding: "utf8",
  });
  if (built.error || built.status !== 0) throw new Error(`--no-fsync needs a C compiler (cc): ${built.error?.message ?? built.stderr}`);
  return library;
}

/**
 * `wrangler dev` on the checkout at `dir`, as bench/run.mjs starts it (fresh state in a
 * temporary directory, migrations applied, the bench's variables), with an inspector
 * port; resolves once /healthz answers.
 */
async function startServer(dir) {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const baseUrl = `http://127.0.0.1:${port}`;
  const state = mkdtempSync(path.join(STATE_DIR, "chat-context-profile-"));
  const quiet = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" };
  // wrangler dev records every span (each sql.exec, RPC, fetch) in a local collector on the
  // same thread; `--observability off` turns that off (the bench keeps wrangler's default).
  if (option("observability", "on") === "off") quiet.X_LOCAL_OBSERVABILITY = "false";
  if (process.argv.includes("--no-fsync")) quiet.LD_PRELOAD = noFsyncLibrary();
  const wranglerJs = path.join(dir, "node_modules/wrangler/bin/wrangler.js");
  if (existsSync(path.join(dir, "scripts/build.mjs")))
    spawnSync(process.execPath, [path.join(dir, "scripts/build.mjs")], { cwd: dir, stdio: "ignore" });
  const migrate = spawnSync(process.execPath, [wranglerJs, "d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    cwd: dir,
    env: quiet,
    encoding: "utf8",
  });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);
  const server = spawn(
    process.execPath,
    [
      wranglerJs,
      "dev",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      state,
      "--log-level",
      "error",
      ...BENCH_VARS,
    ],
    { cwd: dir, env: quiet, stdio: ["ignore", "ignore", "inherit"], detached: true },
  );
  const stop = () => {
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {}
    rmSync(state, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await request(baseUrl, "GET", "/healthz", { timeoutMs: 2_000 })).status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      stop();
      throw new Error("server did not become healthy within 60 s");
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { dir, pid: server.pid, baseUrl, inspectorPort, stop };
}

/**
 * --against DIR: the same scenario on two checkouts at once (DIR first, this one second),
 * their phases interleaved round by round (A message, B message, A floor, B floor, the
 * order rotating), so load from elsewhere on the machine falls on both alike. Prints each
 * checkout's median Worker CPU per request per phase, and the per-round differences.
 */
async function compare(servers) {
  const names = Object.keys(servers[0].phases);
  const runs = servers.map(() => Object.fromEntries(names.map((name) => [name, []])));
  const workers = [];
  for (const server of servers) {
    for (const name of names) await load(server.baseUrl, { durationMs: 2_000, concurrency: CONCURRENCY, next: server.phases[name] });
    workers.push(workerProcess(server.pid, server.baseUrl));
  }
  const slots = names.flatMap((name) => servers.map((_, s) => [s, name]));
  for (let round = 0; round < MEASURE_ROUNDS; round++) {
    for (const [s, name] of slots.map((_, i) => slots[(i + round) % slots.length])) {
      const server = servers[s];
      console.log(`round ${round + 1}: ${name} on ${path.basename(server.dir)} for ${SECONDS} s`);
      const run = await withCpu(server.pid, () =>
        load(server.baseUrl, { durationMs: SECONDS * 1000, concurrency: CONCURRENCY, next: server.phases[name] }),
      );
      if (run.non2xx) console.warn(`${name}: ${run.non2xx} non-2xx answers ${JSON.stringify(run.statuses)}`);
      runs[s][name].push({ rps: run.rps, worker: run.cpuByPid[workers[s]] / run.requests });
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`\n${MEASURE_ROUNDS} rounds of ${SECONDS} s per phase and checkout, ${CONCURRENCY} connections; medians of the rounds`);
  servers.forEach((server, s) => {
    for (const name of names) {
      const list = runs[s][name];
      console.log(
        `${path.basename(server.dir).padEnd(12)} ${name.padEnd(10)} ${median(list.map((r) => r.rps))
          .toFixed(0)
          .padStart(5)} req/s  ` +
          `Worker CPU ${median(list.map((r) => r.worker)).toFixed(3)} ms/request (rounds ${list.map((r) => r.worker.toFixed(3)).join(" ")})`,
      );
    }
    if (names.length >= 2) {
      const ratios = runs[s][names[0]].map((run, i) => run.rps / runs[s][names[1]][i].rps);
      const diffs = runs[s][names[0]].map((run, i) => run.worker - runs[s][names[1]][i].worker);
      console.log(
        `${path.basename(server.dir).padEnd(12)} ${names[0]} / ${names[1]} throughput per round ${ratios.map((r) => r.toFixed(2)).join(" ")} ` +
          `(median ${median(ratios).toFixed(2)}); CPU ${names[0]} - ${names[1]} median ${median(diffs).toFixed(3)} ms`,
      );
    }
  });
  for (const name of names) {
    const diffs = runs[1][name].map((run, i) => run.worker - runs[0][name][i].worker);
    console.log(
      `${name}: this checkout minus the other, per round (ms): ${diffs.map((d) => d.toFixed(3)).join(" ")} (median ${median(diffs).toFixed(3)})`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
