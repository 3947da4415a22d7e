#!/usr/bin/env node
// `npm start`: builds the static assets, applies local D1 migrations, then serves the
// whole product on workerd through `wrangler dev` on PORT (default 8787) and HOST.
// ADMIN_TOKEN, TOKEN_SECRET and ALLOW_LOCAL_WEBHOOKS come from the environment, else from
// .dev.vars, else from the local defaults below, so a fresh clone needs no file made by hand;
// RATE_LIMITS (wrangler.toml's "on" unless set) comes from the environment or .dev.vars.
//
// The values reach wrangler in a private file (`--env-file`), never on its command line,
// where any local user could read them with `ps`. Given an env file, wrangler no longer
// reads .dev.vars itself, so every line of .dev.vars is carried into that file too.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";

// ALLOW_LOCAL_WEBHOOKS is "false" in wrangler.toml; locally webhooks may go to a receiver on
// this machine over plain http (docs/webhooks.md).
const LOCAL_DEFAULTS = {
  ADMIN_TOKEN: "local-admin-token",
  TOKEN_SECRET: "local-token-secret-change-me-in-production",
  ALLOW_LOCAL_WEBHOOKS: "true",
};
/** Deployment variables taken from the environment when set there; wrangler.toml's value otherwise. */
const FROM_ENVIRONMENT = ["RATE_LIMITS"];
const port = process.env.PORT ?? "8787";
const wrangler = ["node_modules/wrangler/bin/wrangler.js"];

function run(args) {
  const result = spawnSync(process.execPath, args, { stdio: "inherit", env: { ...process.env, CI: "true" } });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/**
 * One `NAME=value` line that wrangler's dotenv reads back as exactly `value`: `$` is
 * escaped (wrangler expands `$NAME`), and the quotes chosen are ones the value lacks.
 */
function envLine(name, value) {
  const escaped = value.replaceAll("$", "\\$");
  if (!escaped.includes("'")) return `${name}='${escaped}'`;
  // Inside double quotes dotenv turns \n and \r into line breaks, so no backslash there.
  if (!escaped.includes('"') && !escaped.includes("\\")) return `${name}="${escaped}"`;
  if (!escaped.includes("`")) return `${name}=\`${escaped}\``;
  console.error(`[start] ${name} holds ', " and \` at once, which wrangler cannot read back from a file; choose another value.`);
  process.exit(1);
}

const devVars = existsSync(".dev.vars") ? parseEnv(readFileSync(".dev.vars", "utf8")) : {};
const vars = { ...devVars };
for (const [name, fallback] of Object.entries(LOCAL_DEFAULTS)) {
  vars[name] = process.env[name] ?? devVars[name] ?? fallback;
  if (!process.env[name] && !devVars[name]) console.log(`[start] ${name} not set: using the local default "${fallback}"`);
}
for (const name of FROM_ENVIRONMENT) if (process.env[name] !== undefined) vars[name] = process.env[name];

// Checked before anything runs: a value wrangler could not read back stops here.
const lines = Object.entries(vars)
  .filter(([name]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
  .map(([name, value]) => envLine(name, value));

if (existsSync("scripts/build.mjs")) run(["scripts/build.mjs"]);
run([...wrangler, "d1", "migrations", "apply", "DB", "--local"]);

// mkdtemp makes the directory 0700; the file is 0600 as well, and removed when wrangler exits.
const privateDir = mkdtempSync(path.join(tmpdir(), "chat-context-start-"));
const envFile = path.join(privateDir, "vars.env");
writeFileSync(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });

const dev = spawn(
  process.execPath,
  [...wrangler, "dev", "--port", port, "--ip", process.env.HOST ?? "127.0.0.1", "--env-file", envFile, ...process.argv.slice(2)],
  { stdio: "inherit" },
);
const removeEnvFile = () => rmSync(privateDir, { recursive: true, force: true });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => dev.kill(signal));
dev.on("error", (error) => {
  removeEnvFile();
  console.error("[start] wrangler dev did not start:", error);
  process.exit(1);
});
dev.on("exit", (code) => {
  removeEnvFile();
  process.exit(code ?? 0);
});
