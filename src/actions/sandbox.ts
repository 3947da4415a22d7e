/**
 * Runs an action in an isolate of its own (Worker Loader): the team's module, the runner
 * and the "chat-context" helpers, with no bindings (`env` is empty), the network only
 * through ActionOutbound, and helpers that reach only the run's own conversation and
 * participant (ActionHelpers, built here with them).
 */
import { exports, RpcTarget } from "cloudflare:workers";
import { conversationClient } from "../conversations/client";
import { writeParticipantData } from "../participants/data-writes";
import { isJsonObject, type JsonObject, type JsonValue, mergePatch } from "../participants/json-data";
import { findTeamParticipant, presentParticipant } from "../participants/storage";
import { ProblemError } from "../shared/problem";
import { publishEvents } from "../webhooks/publish";
import { webhookSettings } from "../webhooks/settings";
import { HELPERS_MODULE, INTERNAL_MODULE, instrument } from "./code";
import { HELPERS_SOURCE, INTERNAL_SOURCE, LOG_LINE_MAX_CHARS, LOG_MAX_LINES, RUNNER_SOURCE } from "./sandbox-modules";
import type { Action } from "./storage";

export const RESULT_MAX_BYTES = 64 * 1024;
/** CPU per request of the isolate where the platform enforces it (Cloudflare; local workerd does not). */
const CPU_MS = 1_000;
/** fetch calls per run where the platform counts them: a lookup needs a few. */
const SUBREQUESTS = 50;
const COMPATIBILITY_DATE = "2026-11-01";

export type RunScope = { teamId: string; chatbotId: string | null; conversationId: string | null; participantId: string | null };

export type RunOutcome =
  | { ok: true; result: JsonValue; logs: string[]; duration_ms: number }
  | { ok: false; error: string; logs: string[]; duration_ms: number };

type RunnerAnswer = { ok: true; json: string; logs: string[] } | { ok: false; error: string; logs: string[] };

const messageOf = (error: unknown) =>
  error instanceof ProblemError ? error.problem.detail : error instanceof Error ? error.message : String(error);

/** What an action handed a helper, as JSON (a Date becomes its string, a Map an object), or undefined. */
function asJson(value: unknown): JsonValue | undefined {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  } catch {
    return undefined;
  }
}

/**
 * The helpers one run may call, over RPC from its isolate. The scope is fixed here, so an
 * action cannot name another conversation or participant; `state.open` ends with the run,
 * so nothing it left running can write after its answer.
 */
class ActionHelpers extends RpcTarget {
  readonly #env: Env;
  readonly #scope: RunScope;
  readonly #state: { open: boolean };

  constructor(env: Env, scope: RunScope, state: { open: boolean }) {
    super();
    this.#env = env;
    this.#scope = scope;
    this.#state = state;
  }

  #participant(): string {
    if (!this.#state.open) throw new Error("The run has ended; its helpers no longer answer.");
    if (this.#scope.participantId === null)
      throw new Error("This run has no participant: run it with a conversation_id or participant_id.");
    return this.#scope.participantId;
  }

  async getConversationMetadata(key: unknown): Promise<string | null> {
    if (!this.#state.open) throw new Error("The run has ended; its helpers no longer answer.");
    if (this.#scope.conversationId === null || typeof key !== "string" || key.length > 1_000) return null;
    const entry = await conversationClient(this.#env, this.#scope.conversationId).readMetadataKey(key);
    return entry?.value ?? null;
  }

  async getParticipantData(): Promise<JsonObject> {
    const id = this.#participant();
    const row = await findTeamParticipant(this.#env.DB, this.#scope.teamId, id);
    if (!row) throw new Error("The participant no longer exists.");
    return presentParticipant(row).data;
  }

  setParticipantData(patch: unknown): Promise<JsonObject> {
    const json = asJson(patch);
    if (json === undefined || !isJsonObject(json))
      return Promise.reject(new TypeError("setParticipantData takes an object (a JSON merge patch)."));
    return this.#write((current) => mergePatch(current, json) as JsonObject);
  }

  appendToParticipantData(key: string, item: unknown): Promise<JsonObject> {
    const value = asJson(item);
    if (value === undefined) return Promise.reject(new TypeError("appendToParticipantData takes a JSON value."));
    return this.#write((current) => {
      const list = current[key];
      if (list !== undefined && !Array.isArray(list)) throw new TypeError(`${key} is not a list.`);
      return { ...current, [key]: [...(list ?? []), value] };
    });
  }

  incrementParticipantData(key: string, by: unknown): Promise<JsonObject> {
    if (typeof by !== "number" || !Number.isFinite(by))
      return Promise.reject(new TypeError("incrementParticipantData takes a finite number."));
    return this.#write((current) => {
      const value = current[key] ?? 0;
      if (typeof value !== "number") throw new TypeError(`${key} is not a number.`);
      return { ...current, [key]: value + by };
    });
  }

  async #write(mutate: (current: JsonObject) => JsonObject): Promise<JsonObject> {
    const participantId = this.#participant();
    try {
      const written = await writeParticipantData({
        db: this.#env.DB,
        teamId: this.#scope.teamId,
        target: { participantId },
        mutate,
        respond: (outcome) => ({ status: 200, body: { data: outcome.participant.data } }),
      });
      await publishEvents(this.#env, written.events);
      return written.body.data as JsonObject;
    } catch (error) {
      // Only the reason crosses into the isolate, never our stack.
      throw new Error(messageOf(error));
    }
  }
}

function sandboxCode(env: Env, action: Action): WorkerLoaderWorkerCode {
  return {
    compatibilityDate: COMPATIBILITY_DATE,
    // AsyncLocalStorage only (which run a log line or a helper call belongs to). Loaded
    // workers get Node's modules by default: refused, or `process.getBuiltinModule` would
    // hand an action what its imports may not name.
    compatibilityFlags: ["nodejs_als", "no_nodejs_compat", "no_nodejs_compat_v2"],
    mainModule: "runner.js",
    modules: {
      "runner.js": RUNNER_SOURCE,
      [INTERNAL_MODULE]: INTERNAL_SOURCE,
      // A bare name ("chat-context") needs its type said explicitly.
      [HELPERS_MODULE]: { js: HELPERS_SOURCE },
      "action.js": instrument(action.code),
    },
    env: {},
    globalOutbound: exports.ActionOutbound({ props: { allowedHosts: action.allowed_hosts, allowLocal: webhookSettings(env).allowLocal } }),
    limits: { cpuMs: CPU_MS, subRequests: SUBREQUESTS },
  };
}

/** The isolate's id: a new version of the action is a new isolate, never a stale one. */
export const isolateId = (action: Pick<Action, "id" | "version">) => `${action.id}:v${action.version}`;

/** Runs `action` once within its timeout; every failure is an outcome, never a throw. */
export async function runAction(env: Env, action: Action, scope: RunScope, input: JsonValue): Promise<RunOutcome> {
  const started = Date.now();
  const state = { open: true };
  const context = {
    conversation_id: scope.conversationId,
    participant_id: scope.participantId,
    chatbot_id: scope.chatbotId,
    input,
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<RunnerAnswer>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, error: `The action did not finish within ${action.timeout_ms} ms.`, logs: [] }),
      action.timeout_ms,
    );
  });
  let answer: RunnerAnswer;
  try {
    const worker = env.LOADER.get(isolateId(action), () => sandboxCode(env, action));
    const runner = worker.getEntrypoint("Runner") as unknown as { run(context: unknown, helpers: ActionHelpers): Promise<RunnerAnswer> };
    answer = await Promise.race([runner.run(context, new ActionHelpers(env, scope, state)), timeout]);
  } catch (error) {
    // The isolate could not load the code (an import that does not resolve) or died.
    answer = { ok: false, error: messageOf(error), logs: [] };
  } finally {
    clearTimeout(timer);
    state.open = false;
  }
  return judge(answer, Date.now() - started);
}

const text = (value: unknown, max: number) => (typeof value === "string" ? value.slice(0, max) : "");

/**
 * The runner's answer, checked again here: it ran in the action's isolate, where the code
 * could have replaced `JSON`, `Array.prototype` or the runner's checks themselves.
 */
function judge(answer: unknown, duration_ms: number): RunOutcome {
  const shape = (answer ?? {}) as Partial<Record<"ok" | "json" | "error" | "logs", unknown>>;
  const logs = Array.isArray(shape.logs) ? shape.logs.slice(0, LOG_MAX_LINES + 1).map((line) => text(line, LOG_LINE_MAX_CHARS + 1)) : [];
  if (shape.ok !== true) return { ok: false, error: text(shape.error, 2_000) || "The action failed.", logs, duration_ms };
  const json = typeof shape.json === "string" ? shape.json : "";
  // UTF-16 length is at most the UTF-8 length: a long string is refused before encoding it.
  const bytes = json.length > RESULT_MAX_BYTES ? json.length : new TextEncoder().encode(json).byteLength;
  if (bytes > RESULT_MAX_BYTES) {
    return {
      ok: false,
      error: `The result is over ${RESULT_MAX_BYTES} bytes of JSON; at most ${RESULT_MAX_BYTES} are allowed.`,
      logs,
      duration_ms,
    };
  }
  try {
    return { ok: true, result: JSON.parse(json) as JsonValue, logs, duration_ms };
  } catch {
    return { ok: false, error: "The result is not JSON.", logs, duration_ms };
  }
}
