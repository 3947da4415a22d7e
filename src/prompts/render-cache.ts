import type { JsonObject } from "../participants/json-data";
import { findRenderHead, findRenderSource, type RenderHead } from "../participants/storage";
import { type Cost, costHeader, newCost, RENDER_COST_COUNTERS } from "../shared/cost";
import { sha256, toBase64Url } from "../shared/encoding";
import { ID_PATTERN } from "../shared/ids";
import { notFound } from "../shared/problem";
import { finishRender, type RenderedParts, renderTemplate } from "./template";

/** Bump when the rendering rules change, so no render of older rules is served. */
const RENDERER_VERSION = "r1";
/** Old versions are never read again once superseded; KV drops them after this. */
const RENDER_TTL_SECONDS = 7 * 24 * 60 * 60;

/**
 * `render:r1:<participant id>:<data version>:<sha-256 of name, timezone and template>`.
 * Everything a render depends on is in the key: data writes move `version`, and the
 * conversation object's customer write-through (which does not) moves name and timezone.
 * A key's value never changes, so KV's propagation delay can only cause a miss,
 * never a stale render.
 */
async function renderKey(participantId: string, head: RenderHead, template: string): Promise<string> {
  const digest = toBase64Url(await sha256(JSON.stringify([head.name, head.timezone, template])));
  return `render:${RENDERER_VERSION}:${participantId}:${head.version}:${digest}`;
}

type RenderResult = { prompt: string; cache: "hit" | "miss"; version: number };

/**
 * Renders `template` for a participant of `teamId` through the KV cache.
 * Hit: one D1 row (version, name, timezone) and one KV read.
 * Miss: that, one more D1 row (the data), and one KV write.
 */
async function renderForParticipant(
  env: { DB: D1Database; RENDERS: KVNamespace },
  teamId: string,
  participantId: string,
  template: string,
  cost: Cost,
  now = new Date(),
): Promise<RenderResult> {
  const head = await findRenderHead(env.DB, teamId, participantId, cost);
  if (!head) throw notFound("No participant with that id.");

  const key = await renderKey(participantId, head, template);
  cost.kvReads += 1;
  const cached = await env.RENDERS.get<RenderedParts>(key, "json");
  if (Array.isArray(cached)) return { prompt: finishRender(cached, now, head.timezone), cache: "hit", version: head.version };

  const full = await findRenderSource(env.DB, teamId, participantId, cost);
  if (!full) throw notFound("No participant with that id.");
  const parts = renderTemplate(template, { data: JSON.parse(full.data) as JsonObject, name: full.name, timezone: full.timezone });
  // Written before answering, so the next render finds it; keyed by what was rendered
  // (a write between the two reads yields the newer version's key, not the older one's).
  const fullKey =
    full.version === head.version && full.name === head.name && full.timezone === head.timezone
      ? key
      : await renderKey(participantId, full, template);
  cost.kvWrites += 1;
  await env.RENDERS.put(fullKey, JSON.stringify(parts), { expirationTtl: RENDER_TTL_SECONDS });
  return { prompt: finishRender(parts, now, full.timezone), cache: "miss", version: full.version };
}

/**
 * Renders for an API caller and says how: `Chat-Context-Cache: hit|miss`, the storage
 * cost, and `no-store` (`{current_datetime}` makes every answer momentary).
 */
export async function renderReported(
  env: { DB: D1Database; RENDERS: KVNamespace },
  teamId: string,
  participantId: string,
  template: string,
): Promise<{ prompt: string; headers: Record<string, string> }> {
  if (!ID_PATTERN.test(participantId)) throw notFound("No participant with that id.");
  const cost = newCost();
  const result = await renderForParticipant(env, teamId, participantId, template, cost);
  return {
    prompt: result.prompt,
    headers: {
      "Chat-Context-Cache": result.cache,
      "Chat-Context-Cost": costHeader(cost, RENDER_COST_COUNTERS),
      "Cache-Control": "no-store",
    },
  };
}
