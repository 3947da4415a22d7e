import { type Context, Hono } from "hono";
import { z } from "zod";
import type { ApiEnv } from "../shared/hono-env";
import { ID_PATTERN } from "../shared/ids";
import { limitBody, readJson } from "../shared/json-body";
import { badRequest, notFound, problem } from "../shared/problem";
import { publishInBackground } from "../webhooks/publish";
import { type DataWriteResult, type WriteOutcome, type WriteTarget, writeParticipantData } from "./data-writes";
import { Channel, DataObject, Identifier, ToolKey } from "./fields";
import { idempotencyOf } from "./idempotency";
import { purgeExpiredKeys } from "./idempotency-storage";
import { etagOf, parseIfMatch } from "./if-match";
import { assertDataDepth, copyObject, getOwn, type JsonObject, type JsonValue, mergePatch, setOwn } from "./json-data";
import { DATA_WRITE_BODY_MAX_BYTES } from "./limits";

/**
 * Writes of participant data: replace, merge patch, the bot tools (append, increment)
 * and the webhook upsert by natural key. All take `If-Match` and `Idempotency-Key`.
 */
export const dataRoutes = new Hono<ApiEnv>();
type ApiContext = Context<ApiEnv>;

// Any JSON value: the body was parsed as JSON, so only presence is checked here. No
// recursive schema such as z.json(): a value nested 100,000 deep would overflow it.
const AppendInput = z.strictObject({ key: ToolKey, value: z.custom<JsonValue>((value) => value !== undefined, "must be a JSON value") });
const IncrementInput = z.strictObject({ key: ToolKey, by: z.number().default(1) });

const participantResponse = (outcome: WriteOutcome) => ({
  status: outcome.created ? 201 : 200,
  body: outcome.participant as unknown as Record<string, unknown>,
});

function targetById(id: string): WriteTarget {
  if (!ID_PATTERN.test(id)) throw notFound("No participant with that id.");
  return { participantId: id };
}

async function runWrite(
  c: ApiContext,
  target: WriteTarget,
  mutate: (current: JsonObject) => JsonObject,
  respond: (outcome: WriteOutcome) => { status: number; body: Record<string, unknown> },
): Promise<Response> {
  const idempotency = await idempotencyOf({
    teamId: c.var.teamId,
    key: c.req.header("Idempotency-Key"),
    method: c.req.method,
    path: new URL(c.req.url).pathname,
    contentType: c.req.header("Content-Type"),
    body: await c.req.text(),
  });
  const result: DataWriteResult = await writeParticipantData({
    db: c.env.DB,
    teamId: c.var.teamId,
    target,
    mutate,
    ifMatch: parseIfMatch(c.req.header("If-Match")),
    idempotency,
    respond,
  });
  publishInBackground(c, result.events);
  if (idempotency) {
    c.header("Idempotency-Key", idempotency.key);
    if (result.replayed) c.header("Idempotent-Replayed", "true");
    else c.executionCtx.waitUntil(purgeExpiredKeys(c.env.DB, new Date().toISOString()).catch(() => undefined));
  }
  const version = result.body.version;
  if (typeof version === "number") c.header("ETag", etagOf(version));
  if (result.status === 201 && typeof result.body.id === "string") c.header("Location", `/v1/participants/${result.body.id}`);
  return c.json(result.body, result.status as 200 | 201);
}

dataRoutes.put("/:id/data", limitBody(DATA_WRITE_BODY_MAX_BYTES), async (c) => {
  const target = targetById(c.req.param("id"));
  const data = await readJson(c.req, DataObject);
  assertDataDepth(data);
  return runWrite(c, target, () => data, participantResponse);
});

// RFC 7396: `application/merge-patch+json`, and plain JSON for clients that cannot set it.
// A JSON Patch (RFC 6902) document would be misread as a merge patch, so it is refused.
dataRoutes.patch("/:id/data", limitBody(DATA_WRITE_BODY_MAX_BYTES), async (c) => {
  const target = targetById(c.req.param("id"));
  const type = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/json-patch+json") {
    throw problem(
      "unsupported-media-type",
      "JSON Patch (RFC 6902) is not supported here; send an RFC 7396 merge patch as application/merge-patch+json.",
    );
  }
  const patch = await readJson(c.req, DataObject);
  // The merge walks the patch recursively; its result nests at least as deep as the patch.
  assertDataDepth(patch);
  return runWrite(c, target, (current) => mergePatch(current, patch) as JsonObject, participantResponse);
});

const toolResponse = (key: string) => (outcome: WriteOutcome) => ({
  status: 200,
  body: {
    participant_id: outcome.participant.id,
    key,
    value: getOwn(outcome.participant.data, key) ?? null,
    version: outcome.participant.version,
  },
});

function typeConflict(key: string, expected: string, found: JsonValue): never {
  const kind = found === null ? "null" : Array.isArray(found) ? "array" : typeof found;
  throw problem(
    "data-type-conflict",
    `Key ${JSON.stringify(key)} holds ${kind === "object" ? "an object" : `a ${kind}`}, not ${expected}. Nothing was written.`,
    {
      key,
      found_type: kind,
    },
  );
}

// Bot tool: append a value to the list under `key` (a missing key starts an empty list).
dataRoutes.post("/:id/data/append", limitBody(DATA_WRITE_BODY_MAX_BYTES), async (c) => {
  const target = targetById(c.req.param("id"));
  const { key, value } = await readJson(c.req, AppendInput);
  assertDataDepth(value);
  return runWrite(
    c,
    target,
    (current) => {
      const list = getOwn(current, key) ?? [];
      if (!Array.isArray(list)) typeConflict(key, "a list", list);
      const next = copyObject(current);
      setOwn(next, key, [...list, value as JsonValue]);
      return next;
    },
    toolResponse(key),
  );
});

// Bot tool: add `by` (default 1) to the number under `key` (a missing key counts from 0).
dataRoutes.post("/:id/data/increment", limitBody(16 * 1024), async (c) => {
  const target = targetById(c.req.param("id"));
  const { key, by } = await readJson(c.req, IncrementInput);
  return runWrite(
    c,
    target,
    (current) => {
      const count = getOwn(current, key) ?? 0;
      if (typeof count !== "number") typeConflict(key, "a number", count);
      const sum = count + by;
      if (!Number.isFinite(sum)) throw badRequest(`Incrementing ${JSON.stringify(key)} by ${by} overflows.`);
      const next = copyObject(current);
      setOwn(next, key, sum);
      return next;
    },
    toolResponse(key),
  );
});

// Webhook: replace the data of (chatbot, channel, identifier), creating the participant
// where missing (201) and answering a replayed Idempotency-Key with the first result.
dataRoutes.put("/by-identifier/:chatbot_id/:channel/:identifier/data", limitBody(DATA_WRITE_BODY_MAX_BYTES), async (c) => {
  const chatbotId = c.req.param("chatbot_id");
  if (!ID_PATTERN.test(chatbotId)) throw notFound("No chatbot with that id.");
  const channel = Channel.safeParse(c.req.param("channel"));
  const identifier = Identifier.safeParse(c.req.param("identifier"));
  if (!channel.success)
    throw badRequest(`channel ${channel.error.issues[0]!.message}`, [{ pointer: "/channel", message: channel.error.issues[0]!.message }]);
  if (!identifier.success)
    throw badRequest(`identifier ${identifier.error.issues[0]!.message}`, [
      { pointer: "/identifier", message: identifier.error.issues[0]!.message },
    ]);
  const data = await readJson(c.req, DataObject);
  assertDataDepth(data);
  return runWrite(
    c,
    { chatbotId, channel: channel.data, identifier: identifier.data, createIfMissing: true },
    () => data,
    participantResponse,
  );
});
