import { Hono } from "hono";
import { baseRoutePath } from "hono/route";
import { z } from "zod";
import { requireApiKey } from "../api-keys/auth";
import { requireTeamChatbot } from "../chatbots/lookups";
import { costHeader, newCost } from "../shared/cost";
import type { ApiEnv } from "../shared/hono-env";
import { limitBody, parseWith, readJson } from "../shared/json-body";
import { badRequest, notFound } from "../shared/problem";
import {
  daysBetween,
  EXPORT_LIMITS,
  type ExportKey,
  exportChatbotDays,
  isDay,
  listChatbotExports,
  PARQUET_TYPE,
  parseExportKey,
} from "./export";
import { nextDay } from "./export-storage";

/** A UTC day, `YYYY-MM-DD`, that the calendar has. */
const Day = z.string().refine(isDay, "must be a day written YYYY-MM-DD");

const ExportBody = z
  .strictObject({
    chatbot_id: z.string().min(1).max(64),
    from: Day,
    /** Exclusive, as in the analytics query; one day after `from` unless told. */
    to: Day.optional(),
  })
  .transform((body) => ({ ...body, to: body.to ?? nextDay(body.from) }))
  .superRefine((body, context) => {
    const days = daysBetween(body.from, body.to);
    if (days < 1) context.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
    else if (days > EXPORT_LIMITS.days)
      context.addIssue({ code: "custom", path: ["to"], message: `must be at most ${EXPORT_LIMITS.days} days after from` });
  });

const ListQuery = z.object({
  chatbot_id: z.string().min(1).max(64),
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The listing's cursor: a key of this team's chatbot's exports, else 400. */
function cursorOf(cursor: string | undefined, teamId: string, chatbotId: string): ExportKey | undefined {
  if (cursor === undefined) return undefined;
  const parsed = parseExportKey(cursor);
  if (!parsed || parsed.teamId !== teamId || parsed.chatbotId !== chatbotId)
    throw badRequest("The query failed validation: /cursor: must be a next_cursor value from an earlier page", [
      { pointer: "/cursor", message: "must be a next_cursor value from an earlier page", code: "custom" },
    ]);
  return parsed;
}

/** The object key a download names: the rest of the path, percent-decoded; null where it cannot be. */
function keyOf(url: string, base: string): string | null {
  const raw = new URL(url).pathname.slice(base.length + 1);
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/**
 * The object, or the part of it a `Range` header names (one range, as R2 reads it). A range
 * R2 refuses is ignored, as HTTP allows: the whole object is answered.
 */
async function getRanged(bucket: R2Bucket, key: string, headers: Headers): Promise<R2ObjectBody | null> {
  if (!headers.has("Range")) return bucket.get(key);
  try {
    return await bucket.get(key, { range: headers });
  } catch {
    return bucket.get(key);
  }
}

/** The bytes a range names, as R2 answered it. */
function spanOf(range: R2Range, size: number): { offset: number; length: number } {
  const { offset = 0, length, suffix } = range as { offset?: number; length?: number; suffix?: number };
  if (suffix !== undefined) return { offset: size - Math.min(suffix, size), length: Math.min(suffix, size) };
  return { offset, length: Math.min(length ?? size - offset, size - offset) };
}

/**
 * `/v1/analytics/exports`: the projection written to R2 as Parquet (src/analytics/export.ts,
 * docs/analytics.md "Export to R2 (Parquet)"). Mounted in src/app.ts before the analytics
 * routes, so that their `requireApiKey` does not run a second time.
 */
export const analyticsExportRoutes = new Hono<ApiEnv>();
analyticsExportRoutes.use(requireApiKey);

// A write: a read key is refused with 403 (it is not in READ_ONLY_POSTS).
analyticsExportRoutes.post("/", limitBody(4 * 1024), async (c) => {
  const body = await readJson(c.req, ExportBody);
  await requireTeamChatbot(c.env.DB, c.var.teamId, body.chatbot_id);
  const cost = newCost();
  const result = await exportChatbotDays(c.env, { teamId: c.var.teamId, chatbotId: body.chatbot_id, from: body.from, to: body.to }, cost);
  return c.json(result, 200, { "Chat-Context-Cost": costHeader(cost, ["d1RowsRead"]) });
});

analyticsExportRoutes.get("/", async (c) => {
  const query = parseWith(ListQuery, c.req.query(), "query");
  await requireTeamChatbot(c.env.DB, c.var.teamId, query.chatbot_id);
  const cursor = cursorOf(query.cursor, c.var.teamId, query.chatbot_id);
  const page = await listChatbotExports(c.env.ANALYTICS_BUCKET, {
    teamId: c.var.teamId,
    chatbotId: query.chatbot_id,
    cursor,
    limit: query.limit,
  });
  return c.json({ objects: page.objects, next_cursor: page.nextCursor });
});

// The object's key as the export and the listing give it, slashes and all. Only a key of the
// export layout under the caller's team is read: anything else (another team's, `..`, a key
// of another layout) is the 404 of a missing object.
analyticsExportRoutes.get("/*", async (c) => {
  const key = keyOf(c.req.url, baseRoutePath(c));
  const parsed = key === null ? null : parseExportKey(key);
  const object = parsed && parsed.teamId === c.var.teamId ? await getRanged(c.env.ANALYTICS_BUCKET, key!, c.req.raw.headers) : null;
  if (!object) throw notFound("No export object with that key.");
  const headers: Record<string, string> = {
    "Content-Type": PARQUET_TYPE,
    "Content-Disposition": `attachment; filename="${parsed!.table}-${parsed!.chatbotId}-${parsed!.day}.parquet"`,
    ETag: object.httpEtag,
    "Accept-Ranges": "bytes",
  };
  if (object.range && c.req.header("Range") !== undefined) {
    // A 206 names the bytes it carries; R2 answers a range it cannot serve with the whole object.
    const { offset, length } = spanOf(object.range, object.size);
    headers["Content-Range"] = `bytes ${offset}-${offset + length - 1}/${object.size}`;
    headers["Content-Length"] = String(length);
    return c.body(object.body, 206, headers);
  }
  headers["Content-Length"] = String(object.size);
  return c.body(object.body, 200, headers);
});
