/**
 * The modules loaded beside an action's own code in its isolate. They run there, not in
 * the Worker: the runner (the isolate's entrypoint), "chat-context" (the helpers a team
 * imports) and the internal module that both share (the run in progress, the loop budget).
 */

/** Loop iterations and calls one run may make: far above any lookup, far below a hang. */
export const TICK_BUDGET = 2_000_000;
export const LOG_MAX_LINES = 100;
export const LOG_LINE_MAX_CHARS = 1_000;
const RESULT_MAX_DEPTH = 64;

export const INTERNAL_SOURCE = `
import { AsyncLocalStorage } from "node:async_hooks";
export const current = new AsyncLocalStorage();
let budget = ${TICK_BUDGET};
export function resetBudget() { budget = ${TICK_BUDGET}; }
export function tick() {
  if (--budget < 0) {
    budget = -1;
    throw new RangeError("The action went over its budget of ${TICK_BUDGET} loop iterations and calls (a loop that never ends?).");
  }
}
`;

export const HELPERS_SOURCE = `
import { current } from "chat-context-internal.js";
// The run's own helpers: which conversation and participant they reach was decided by the
// Worker when the run started, whatever ids a context passed here names.
function helpers() {
  const run = current.getStore();
  if (!run) throw new Error("chat-context helpers work only while the action runs.");
  return run.helpers;
}
export async function getConversationMetadata(context, key) { return helpers().getConversationMetadata(String(key)); }
export async function getParticipantData(context) { return helpers().getParticipantData(); }
export async function setParticipantData(context, patch) { return helpers().setParticipantData(patch); }
export async function appendToParticipantData(context, key, value) { return helpers().appendToParticipantData(String(key), value); }
export async function incrementParticipantData(context, key, by = 1) { return helpers().incrementParticipantData(String(key), by); }
`;

export const RUNNER_SOURCE = `
import { WorkerEntrypoint } from "cloudflare:workers";
import { current, resetBudget } from "chat-context-internal.js";
import execute from "action.js";

function format(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.stack || String(value);
  try { const text = JSON.stringify(value); if (text !== undefined) return text; } catch {}
  return String(value);
}
for (const level of ["log", "info", "warn", "error", "debug"]) {
  console[level] = (...args) => {
    const run = current.getStore();
    if (run) run.log(level, args);
  };
}

// Only JSON comes out: plain objects, arrays, strings, finite numbers, booleans and null.
function checkJson(value, path, depth, seen) {
  if (depth > ${RESULT_MAX_DEPTH}) throw new TypeError("The result is nested deeper than ${RESULT_MAX_DEPTH} levels.");
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("The result holds a number JSON cannot carry at " + path + ".");
    return;
  }
  if (typeof value !== "object") throw new TypeError("The result holds a " + typeof value + " at " + path + ", which is not JSON.");
  if (seen.has(value)) throw new TypeError("The result refers to itself at " + path + ".");
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJson(item, path + "/" + i, depth + 1, seen));
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError("The result holds a " + (value.constructor?.name ?? "non-plain object") + " at " + path + ", which is not JSON.");
    }
    for (const [key, item] of Object.entries(value)) if (item !== undefined) checkJson(item, path + "/" + key, depth + 1, seen);
  }
  seen.delete(value);
}

function describe(error) {
  if (error instanceof Error) return error.name + ": " + error.message;
  try { return "Threw " + JSON.stringify(error); } catch { return "Threw " + String(error); }
}

export class Runner extends WorkerEntrypoint {
  async run(context, helpers) {
    resetBudget();
    const logs = [];
    let dropped = 0;
    const run = {
      helpers,
      log(level, args) {
        if (logs.length >= ${LOG_MAX_LINES}) { dropped++; return; }
        let line = (level === "log" ? "" : "[" + level + "] ") + args.map(format).join(" ");
        if (line.length > ${LOG_LINE_MAX_CHARS}) line = line.slice(0, ${LOG_LINE_MAX_CHARS}) + "…";
        logs.push(line);
      },
    };
    const kept = () => (dropped > 0 ? [...logs, "… " + dropped + " more lines not kept"] : logs);
    try {
      if (typeof execute !== "function") throw new TypeError("The module's default export is not a function.");
      const value = await current.run(run, () => execute(Object.freeze({ ...context })));
      const result = value === undefined ? null : value;
      checkJson(result, "", 0, new Set());
      return { ok: true, json: JSON.stringify(result), logs: kept() };
    } catch (error) {
      return { ok: false, error: describe(error), logs: kept() };
    }
  }
}
export default { fetch() { return new Response("Not found", { status: 404 }); } };
`;
