#!/usr/bin/env node
// `npm run bench`: starts the product on workerd (wrangler dev, fresh local state,
// loopback only), then runs every bench/scenarios/*.mjs against it in one run and
// prints their figures. Timing is measured here, outside the runtime: inside workerd
// the clock does not move during CPU work.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const ADMIN_TOKEN = "bench-admin-token";
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const wrangler = path.join(root, "node_modules/wrangler/bin/wrangler.js");
const only = process.argv.slice(2);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One HTTP request over a keep-alive agent; resolves {status, headers, json, ms}. */
export function request(baseUrl, method, urlPath, { token, body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const started = process.hrtime.bigint();
    const req = http.request(
      baseUrl + urlPath,
      {
        method,
        agent,
        headers: {
          ...(payload !== undefined ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {}),
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const text = Buffer.concat(chunks).toString("utf8");
          let json = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {}
          resolve({ status: res.statusCode, headers: res.headers, json, text, ms });
        });
      },
    );
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * CPU time (ms) used so far by each workerd process under `rootPid`, from /proc
 * (Linux only; empty elsewhere). wrangler dev runs two: its proxy and the one that
 * runs the Worker with its Durable Objects on a single thread.
 */
export function workerdCpuMs(rootPid) {
  if (!existsSync("/proc/self/stat")) return {};
  const stats = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      stats.set(Number(entry), { name, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {}
  }
  const underRoot = (pid) => {
    for (let cur = pid, hops = 0; cur > 1 && hops < 20; cur = stats.get(cur)?.ppid ?? 0, hops++) if (cur === rootPid) return true;
    return false;
  };
  const result = {};
  for (const [pid, stat] of stats) if (stat.name === "workerd" && underRoot(pid)) result[pid] = stat.ticks * 10;
  return result;
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Closed-loop load: `concurrency` clients each send `next(i)` back to back until
 * `durationMs` has passed. Bounded in time and count.
 */
export async function load(baseUrl, { durationMs, concurrency, maxRequests = 200_000, next }) {
  const latencies = [];
  let sent = 0;
  let non2xx = 0;
  const statuses = {};
  const deadline = Date.now() + durationMs;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline && sent < maxRequests) {
        const index = sent++;
        const { method, path: urlPath, token, body } = next(index);
        const response = await request(baseUrl, method, urlPath, { token, body });
        latencies.push(response.ms);
        if (response.status < 200 || response.status >= 300) {
          non2xx++;
          statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        }
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    non2xx,
    statuses,
  };
}

async function main() {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const state = mkdtempSync(path.join(tmpdir(), "chat-context-bench-"));
  const quiet = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" };
  if (existsSync(path.join(root, "scripts/build.mjs"))) {
    spawnSync(process.execPath, [path.join(root, "scripts/build.mjs")], { cwd: root, stdio: "inherit" });
  }
  const migrate = spawnSync(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    cwd: root,
    env: quiet,
    encoding: "utf8",
  });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);
  const server = spawn(
    process.execPath,
    [wrangler, "dev", "--port", String(port), "--ip", "127.0.0.1", "--persist-to", state, "--log-level", "warn",
      "--var", `ADMIN_TOKEN:${ADMIN_TOKEN}`, "--var", "TOKEN_SECRET:bench-token-secret"],
    { cwd: root, env: quiet, stdio: ["ignore", "inherit", "inherit"], detached: true },
  );
  const stop = () => {
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {}
    rmSync(state, { recursive: true, force: true });
  };
  process.on("SIGINT", () => (stop(), process.exit(130)));
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await request(baseUrl, "GET", "/healthz")).status === 200) break;
      } catch {}
      if (Date.now() > deadline) throw new Error("server did not become healthy within 60 s");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const context = {
      baseUrl,
      adminToken: ADMIN_TOKEN,
      request: (method, urlPath, options) => request(baseUrl, method, urlPath, options),
      load: (options) => load(baseUrl, options),
      workerdCpuMs: () => workerdCpuMs(server.pid),
      percentile,
    };
    const scenarios = readdirSync(path.join(root, "bench/scenarios"))
      .filter((file) => file.endsWith(".mjs"))
      .filter((file) => !only.length || only.some((name) => file.includes(name)))
      .sort();
    const results = [];
    let failed = false;
    for (const file of scenarios) {
      const scenario = await import(pathToFileURL(path.join(root, "bench/scenarios", file)).href);
      const result = await scenario.run(context);
      results.push(result);
      console.log(`\n## ${result.name}`);
      for (const line of result.lines) console.log(line);
      if (result.passed === false) failed = true;
    }
    mkdirSync(path.join(root, "bench/results"), { recursive: true });
    writeFileSync(path.join(root, "bench/results/latest.json"), JSON.stringify({ at: new Date().toISOString(), results }, null, 2));
    if (failed) process.exitCode = 1;
  } finally {
    stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
