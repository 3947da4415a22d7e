// Global setup of the browser suite (vitest.browser.config.ts), run once in Node:
// builds the assets, applies the D1 migrations into a fresh temporary directory,
// starts `wrangler dev` on a free loopback port and stops it when the suite ends.
// Plain JavaScript (typed by test/browser/tsconfig.json) so the Worker's tsconfig,
// which has no Node types, never sees `node:` imports.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.join(import.meta.dirname, "..", "..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
export const ADMIN_TOKEN = "browser-admin-token";
const TOKEN_SECRET = "browser-token-secret-0123456789abcdef";
/**
 * Webhook settings of the suite's server, provided to the tests: loopback receivers allowed,
 * retries 1 s, 2 s, 4 s… for 6 s after a delivery is made, a receiver has 2 s to answer.
 */
export const WEBHOOK_VARS = {
  ALLOW_LOCAL_WEBHOOKS: "true",
  WEBHOOK_RETRY_BASE_SECONDS: "1",
  WEBHOOK_RETRY_WINDOW_SECONDS: "10",
  WEBHOOK_TIMEOUT_SECONDS: "2",
};
/** Attempts at /healthz, 250 ms apart: a bounded wait for workerd to come up. */
const HEALTH_ATTEMPTS = 480;

/** A port the kernel says is free on the loopback interface. */
function freePort() {
  return /** @type {Promise<number>} */ (
    new Promise((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const port = typeof address === "object" && address ? address.port : 0;
        server.close(() => resolve(port));
      });
    })
  );
}

/** @param {string[]} args */
function runNode(args) {
  const result = spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
  });
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
}

/** @param {import("vitest/node").TestProject} project */
export default async function setup(project) {
  runNode([path.join(ROOT, "scripts", "build.mjs")]);
  const persist = mkdtempSync(path.join(tmpdir(), "chat-context-browser-"));
  runNode([WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist]);

  const port = await freePort();
  const inspectorPort = await freePort();
  /** @type {string[]} */
  const output = [];
  const dev = spawn(
    process.execPath,
    [
      WRANGLER,
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      persist,
      "--var",
      `ADMIN_TOKEN:${ADMIN_TOKEN}`,
      "--var",
      `TOKEN_SECRET:${TOKEN_SECRET}`,
      // Webhooks to the receivers the e2e tests start on loopback, with a day of
      // retries squeezed into seconds (src/webhooks/settings.ts).
      ...Object.entries(WEBHOOK_VARS).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
    ],
    {
      cwd: ROOT,
      // Its own process group, so the teardown stops workerd with it.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      // No Request.cf fetch from workers.cloudflare.com: the suite stays on loopback.
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    },
  );
  const keep = (/** @type {Buffer} */ chunk) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  dev.stdout?.on("data", keep);
  dev.stderr?.on("data", keep);
  let exited = false;
  dev.on("exit", () => (exited = true));

  const stop = async () => {
    if (!exited && dev.pid) {
      try {
        process.kill(-dev.pid, "SIGTERM");
      } catch {
        // already gone
      }
      for (let i = 0; i < 40 && !exited; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      if (!exited) {
        try {
          process.kill(-dev.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    rmSync(persist, { recursive: true, force: true });
  };

  const base = `http://127.0.0.1:${port}`;
  let healthy = false;
  for (let attempt = 0; attempt < HEALTH_ATTEMPTS && !exited && !healthy; attempt++) {
    try {
      const response = await fetch(`${base}/healthz`);
      healthy = response.ok;
    } catch {
      // not listening yet
    }
    if (!healthy) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!healthy) {
    await stop();
    throw new Error(`wrangler dev did not become healthy on ${base}:\n${output.join("")}`);
  }

  project.provide("baseUrl", base);
  project.provide("adminToken", ADMIN_TOKEN);
  project.provide("webhookVars", WEBHOOK_VARS);
  return stop;
}
