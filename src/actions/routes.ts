import { Hono } from "hono";
import { z } from "zod";
import { requireApiKey } from "../api-keys/auth";
import { requireTeamChatbot } from "../chatbots/lookups";
import { findTeamConversation } from "../conversations/storage";
import type { JsonValue } from "../participants/json-data";
import { requireTeamParticipant } from "../participants/lookups";
import type { ApiEnv } from "../shared/hono-env";
import { ID_PATTERN, newId } from "../shared/ids";
import { limitBody, readJson } from "../shared/json-body";
import { badRequest, type FieldError, notFound, problem } from "../shared/problem";
import { nowIso } from "../shared/time";
import { CODE_MAX_BYTES, checkCode } from "./code";
import { runAndRecord } from "./run";
import type { RunScope } from "./sandbox";
import {
  type Action,
  deleteAction,
  findTeamAction,
  insertActionWithinLimit,
  listTeamActions,
  presentAction,
  updateAction,
} from "./storage";

/** Actions a team may hold. */
export const MAX_ACTIONS = 100;
export const TIMEOUT_DEFAULT_MS = 5_000;
export const TIMEOUT_MAX_MS = 30_000;
const MAX_ALLOWED_HOSTS = 20;

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-f:.]+\\])(?::\\d{1,5})?$`);

/** A host name with a port where one is needed, as `URL.host` spells it (`:443` dropped). */
const AllowedHost = z
  .string()
  .max(260)
  .transform((value, context) => {
    const lower = value.toLowerCase();
    if (!HOST.test(lower)) {
      context.addIssue({
        code: "custom",
        message: "must be a host name, with a port where one is needed (api.example.com, 127.0.0.1:9000)",
      });
      return z.NEVER;
    }
    try {
      return new URL(`https://${lower}/`).host;
    } catch {
      context.addIssue({ code: "custom", message: "is not a valid host" });
      return z.NEVER;
    }
  });

const Code = z.string().refine((code) => new TextEncoder().encode(code).byteLength <= CODE_MAX_BYTES, {
  message: `must be at most ${CODE_MAX_BYTES} bytes`,
});
const Name = z.string().trim().min(1).max(100);
const Timeout = z.number().int().min(100).max(TIMEOUT_MAX_MS);
const Hosts = z.array(AllowedHost).max(MAX_ALLOWED_HOSTS);

const CreateAction = z.strictObject({
  name: Name,
  code: Code,
  chatbot_id: z.string().nullable().default(null),
  allowed_hosts: Hosts.default([]),
  timeout_ms: Timeout.default(TIMEOUT_DEFAULT_MS),
});

const PatchAction = z.strictObject({
  name: Name.optional(),
  code: Code.optional(),
  chatbot_id: z.string().nullable().optional(),
  allowed_hosts: Hosts.optional(),
  timeout_ms: Timeout.optional(),
});

const RunBody = z.strictObject({
  conversation_id: z.string().max(64).optional(),
  participant_id: z.string().max(64).optional(),
  input: z.json().optional(),
});

/** A syntax error or a refused import answers 400 with where it is. */
function requireValidCode(code: string): void {
  const verdict = checkCode(code);
  if (!verdict.ok) {
    const message = `${verdict.message} (line ${verdict.line}, column ${verdict.column})`;
    throw badRequest(`The request body failed validation: /code: ${message}`, [
      { pointer: "/code", message, code: "invalid_code", line: verdict.line, column: verdict.column } as FieldError,
    ]);
  }
}

async function requireTeamAction(db: D1Database, teamId: string, id: string): Promise<Action> {
  const action = ID_PATTERN.test(id) ? await findTeamAction(db, teamId, id) : null;
  if (!action) throw notFound("No action with that id.");
  return action;
}

/** The conversation and participant a run may touch: the team's own, and its chatbot's where it has one. */
async function scopeOf(db: D1Database, teamId: string, action: Action, body: z.output<typeof RunBody>): Promise<RunScope> {
  let chatbotId = action.chatbot_id;
  let conversationId: string | null = null;
  let participantId: string | null = null;
  if (body.conversation_id !== undefined) {
    const row = ID_PATTERN.test(body.conversation_id) ? await findTeamConversation(db, teamId, body.conversation_id) : null;
    if (!row) throw notFound("No conversation with that id.");
    conversationId = row.id;
    participantId = row.participant_id;
    chatbotId = row.chatbot_id;
  }
  if (body.participant_id !== undefined) {
    const row = await requireTeamParticipant(db, teamId, body.participant_id);
    if (participantId !== null && row.id !== participantId) {
      throw badRequest("participant_id must be the conversation's participant (or left out).", [
        { pointer: "/participant_id", message: "is not the conversation's participant" },
      ]);
    }
    participantId = row.id;
    chatbotId = row.chatbot_id;
  }
  if (action.chatbot_id !== null && chatbotId !== action.chatbot_id) {
    throw badRequest(`The action belongs to chatbot ${action.chatbot_id}; this conversation or participant does not.`);
  }
  return { teamId, chatbotId, conversationId, participantId };
}

/** /v1/actions: a team's custom actions and their runs (docs/actions.md). */
export const actionRoutes = new Hono<ApiEnv>();
actionRoutes.use(requireApiKey);

actionRoutes.post("/", limitBody(CODE_MAX_BYTES + 16 * 1024), async (c) => {
  const input = await readJson(c.req, CreateAction);
  requireValidCode(input.code);
  const chatbot = input.chatbot_id === null ? null : await requireTeamChatbot(c.env.DB, c.var.teamId, input.chatbot_id);
  const now = nowIso();
  const action: Action = {
    id: newId("act"),
    team_id: c.var.teamId,
    chatbot_id: chatbot?.id ?? null,
    name: input.name,
    code: input.code,
    version: 1,
    allowed_hosts: [...new Set(input.allowed_hosts)],
    timeout_ms: input.timeout_ms,
    created_at: now,
    updated_at: now,
  };
  if (!(await insertActionWithinLimit(c.env.DB, action, MAX_ACTIONS))) {
    throw problem("conflict", `The team already holds ${MAX_ACTIONS} actions; delete one before creating another.`, { limit: MAX_ACTIONS });
  }
  return c.json(presentAction(action, true), 201, { Location: `/v1/actions/${action.id}` });
});

actionRoutes.get("/", async (c) => {
  const actions = await listTeamActions(c.env.DB, c.var.teamId);
  return c.json({ actions: actions.map((action) => presentAction(action, false)) });
});

actionRoutes.get("/:id", async (c) => {
  return c.json(presentAction(await requireTeamAction(c.env.DB, c.var.teamId, c.req.param("id")), true));
});

actionRoutes.patch("/:id", limitBody(CODE_MAX_BYTES + 16 * 1024), async (c) => {
  const input = await readJson(c.req, PatchAction);
  if (input.code !== undefined) requireValidCode(input.code);
  const chatbot = input.chatbot_id ? await requireTeamChatbot(c.env.DB, c.var.teamId, input.chatbot_id) : null;
  // An edit that lost a race with another reads again: versions never go back or repeat.
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await requireTeamAction(c.env.DB, c.var.teamId, c.req.param("id"));
    const hosts = input.allowed_hosts === undefined ? current.allowed_hosts : [...new Set(input.allowed_hosts)];
    const changesIsolate =
      (input.code !== undefined && input.code !== current.code) || JSON.stringify(hosts) !== JSON.stringify(current.allowed_hosts);
    const next: Action = {
      ...current,
      name: input.name ?? current.name,
      code: input.code ?? current.code,
      chatbot_id: input.chatbot_id === undefined ? current.chatbot_id : (chatbot?.id ?? null),
      allowed_hosts: hosts,
      timeout_ms: input.timeout_ms ?? current.timeout_ms,
      version: changesIsolate ? current.version + 1 : current.version,
      updated_at: nowIso(),
    };
    if (await updateAction(c.env.DB, next, current.version)) return c.json(presentAction(next, true));
  }
  throw problem("write-contention", "The action is being edited by others; try again.");
});

actionRoutes.delete("/:id", async (c) => {
  const id = c.req.param("id");
  if (!ID_PATTERN.test(id) || !(await deleteAction(c.env.DB, c.var.teamId, id))) throw notFound("No action with that id.");
  return c.body(null, 204);
});

/** Runs the action once: with a conversation, its participant; with input only, a dry run. */
actionRoutes.post("/:id/run", limitBody(64 * 1024), async (c) => {
  const body = await readJson(c.req, RunBody);
  const action = await requireTeamAction(c.env.DB, c.var.teamId, c.req.param("id"));
  const scope = await scopeOf(c.env.DB, c.var.teamId, action, body);
  const outcome = await runAndRecord(c.env, action, scope, (body.input ?? null) as JsonValue);
  if (!outcome.ok) {
    throw problem("action-failed", `The action failed: ${outcome.error}`, {
      error: outcome.error,
      logs: outcome.logs,
      duration_ms: outcome.duration_ms,
    });
  }
  return c.json({ result: outcome.result, logs: outcome.logs, duration_ms: outcome.duration_ms });
});
