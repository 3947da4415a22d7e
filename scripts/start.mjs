#!/usr/bin/env node
// `npm start`: builds the static assets, applies local D1 migrations, then serves the
// whole product on workerd through `wrangler dev` on PORT (default 8787).
// ADMIN_TOKEN and TOKEN_SECRET come from the environment, else from .dev.vars, else
// from the local defaults below, so a fresh clone needs no file made by hand.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const LOCAL_DEFAULTS = { ADMIN_TOKEN: "local-admin-token", TOKEN_SECRET: "local-token-secret-change-me-in-production" };
const port = process.env.PORT ?? "8787";
const wrangler = ["node_modules/wrangler/bin/wrangler.js"];

function run(args) {
  const result = spawnSync(process.execPath, args, { stdio: "inherit", env: { ...process.env, CI: "true" } });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const devVars = existsSync(".dev.vars")
  ? Object.fromEntries(
      readFileSync(".dev.vars", "utf8")
        .split("\n")
        .map((line) => /^\s*([A-Z_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line))
        .filter(Boolean)
        .map((match) => [match[1], match[2]]),
    )
  : {};

const vars = [];
for (const [name, fallback] of Object.entries(LOCAL_DEFAULTS)) {
  const value = process.env[name] ?? devVars[name] ?? fallback;
  vars.push("--var", `${name}:${value}`);
  if (!process.env[name] && !devVars[name]) console.log(`[start] ${name} not set: using the local default "${fallback}"`);
}

if (existsSync("scripts/build.mjs")) run(["scripts/build.mjs"]);
run([...wrangler, "d1", "migrations", "apply", "DB", "--local"]);

const dev = spawn(
  process.execPath,
  [...wrangler, "dev", "--port", port, "--ip", process.env.HOST ?? "127.0.0.1", ...vars, ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
