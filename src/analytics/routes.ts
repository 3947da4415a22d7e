import { Hono } from "hono";
import { z } from "zod";
import { requireApiKey } from "../api-keys/auth";
import { requireTeamChatbot } from "../chatbots/lookups";
import { costHeader, newCost } from "../shared/cost";
import type { ApiEnv } from "../shared/hono-env";
import { limitBody, readJson } from "../shared/json-body";
import { ANALYTICS_LIMITS, conditionsOf, Filters, finite, Key } from "./filters";
import { countConversations, type GroupBy } from "./storage";

/** A time as the index stores `started_at`: an ISO string in UTC with milliseconds. */
const Instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).transform((text) => new Date(text).toISOString());

const AnalyticsBody = z
  .strictObject({
    chatbot_id: z.string().min(1).max(64),
    filters: Filters.default([]),
    group_by: Key.optional(),
    buckets: z
      .array(finite)
      .min(1)
      .max(ANALYTICS_LIMITS.buckets)
      .refine((edges) => edges.every((edge, i) => i === 0 || edge > edges[i - 1]!), "edges must be strictly ascending")
      .optional(),
    from: Instant.optional(),
    to: Instant.optional(),
  })
  .superRefine((body, context) => {
    if (body.buckets && (body.group_by === undefined || ["outcome", "status", "day"].includes(body.group_by)))
      context.addIssue({ code: "custom", path: ["buckets"], message: "buckets apply with group_by naming a metadata key" });
    if (body.from && body.to && body.from >= body.to) context.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
  });

function groupOf(groupBy: string | undefined, buckets: number[] | undefined): GroupBy | undefined {
  if (groupBy === undefined) return undefined;
  if (groupBy === "outcome" || groupBy === "status" || groupBy === "day") return groupBy;
  return { key: groupBy, buckets };
}

export const analyticsRoutes = new Hono<ApiEnv>();
analyticsRoutes.use(requireApiKey);

// Reads only (src/api-keys/auth.ts lists it in READ_ONLY_POSTS): a read key may ask.
analyticsRoutes.post("/conversations", limitBody(64 * 1024), async (c) => {
  const body = await readJson(c.req, AnalyticsBody);
  await requireTeamChatbot(c.env.DB, c.var.teamId, body.chatbot_id);
  const cost = newCost();
  const result = await countConversations(
    c.env.DB,
    {
      chatbotId: body.chatbot_id,
      conditions: conditionsOf(body.filters),
      groupBy: groupOf(body.group_by, body.buckets),
      from: body.from,
      to: body.to,
    },
    cost,
  );
  // The rows read tell an index's work from a walk of the chatbot (tests and the bench read it).
  return c.json(result, 200, { "Cache-Control": "no-store", "Chat-Context-Cost": costHeader(cost, ["d1RowsRead"]) });
});
