#!/usr/bin/env node
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
// Builds the static assets served by the Worker's [assets] binding (wrangler.toml):
//   src/widget/client/widget.ts          -> dist/assets/widget.js      (the embeddable widget)
//   src/playground/client/playground.ts  -> dist/assets/playground.js  (the playground's panel)
//   src/playground/client/playground.css -> dist/assets/playground.css
//   src/dashboard/client/dashboard.ts    -> dist/assets/dashboard.js   (the dashboard's behaviours)
//   src/dashboard/client/dashboard.css   -> dist/assets/dashboard.css
// Run by `npm start`, `npm test` (pretest) and `npm run build`. Prints each size, gzipped.
import { build } from "esbuild";

const root = path.join(import.meta.dirname, "..");
const outdir = path.join(root, "dist", "assets");
// Files are overwritten in place (no wipe first), so a running `wrangler dev` never sees the directory empty.
mkdirSync(outdir, { recursive: true });

const entries = {
  widget: "src/widget/client/widget.ts",
  playground: "src/playground/client/playground.ts",
  dashboard: "src/dashboard/client/dashboard.ts",
};

await build({
  absWorkingDir: root,
  entryPoints: Object.entries(entries).map(([out, input]) => ({ in: input, out })),
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  // ES2020 (optional chaining, `??`): every browser with Shadow DOM of the last years.
  target: "es2020",
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});
await build({
  absWorkingDir: root,
  entryPoints: [
    { in: "src/playground/client/playground.css", out: "playground" },
    { in: "src/dashboard/client/dashboard.css", out: "dashboard" },
  ],
  outdir,
  minify: true,
  logLevel: "warning",
});

for (const name of ["widget.js", "playground.js", "playground.css", "dashboard.js", "dashboard.css"]) {
  const bytes = readFileSync(path.join(outdir, name));
  console.log(`[build] dist/assets/${name}: ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped`);
}
