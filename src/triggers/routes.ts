import { Hono } from "hono";
import { z } from "zod";
import { requireTeamChatbot } from "../chatbots/lookups";
import type { ApiEnv } from "../shared/hono-env";
import { newId } from "../shared/ids";
import { limitBody, readJson } from "../shared/json-body";
import { notFound, problem } from "../shared/problem";
import { nowIso } from "../shared/time";
import { INACTIVITY_DELAY, TRIGGER_EVENTS, type Trigger, TriggerActionSchema } from "./model";
import { deleteTrigger, insertTrigger, listTriggers, MAX_TRIGGERS_PER_CHATBOT } from "./storage";

/** /v1/chatbots/:id/triggers (mounted by the chatbot routes, behind the API key). */
export const triggerRoutes = new Hono<ApiEnv>();

const CreateTrigger = z
  .strictObject({
    on: z.enum(TRIGGER_EVENTS),
    delay_seconds: z.number().int().min(INACTIVITY_DELAY.min).max(INACTIVITY_DELAY.max).optional(),
    max_fires: z.number().int().min(1).max(1000).default(1),
    action: TriggerActionSchema,
  })
  .superRefine((input, context) => {
    if (input.on === "conversation_inactive" && input.delay_seconds === undefined) {
      context.addIssue({ code: "custom", path: ["delay_seconds"], message: "is required for conversation_inactive" });
    }
    if (input.on !== "conversation_inactive" && input.delay_seconds !== undefined) {
      context.addIssue({ code: "custom", path: ["delay_seconds"], message: "applies only to conversation_inactive" });
    }
  });

triggerRoutes.post("/:id/triggers", limitBody(64 * 1024), async (c) => {
  const input = await readJson(c.req, CreateTrigger);
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, c.req.param("id"));
  const trigger: Trigger = {
    id: newId("trg"),
    on: input.on,
    delay_seconds: input.delay_seconds ?? null,
    max_fires: input.max_fires,
    action: input.action as Trigger["action"],
    created_at: nowIso(),
  };
  if (!(await insertTrigger(c.env.DB, chatbot.team_id, chatbot.id, trigger))) {
    throw problem("conflict", `A chatbot has at most ${MAX_TRIGGERS_PER_CHATBOT} triggers.`, { limit: MAX_TRIGGERS_PER_CHATBOT });
  }
  return c.json(trigger, 201);
});

triggerRoutes.get("/:id/triggers", async (c) => {
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, c.req.param("id"));
  return c.json({ triggers: await listTriggers(c.env.DB, chatbot.id) });
});

triggerRoutes.delete("/:id/triggers/:trigger_id", async (c) => {
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, c.req.param("id"));
  if (!(await deleteTrigger(c.env.DB, chatbot.id, c.req.param("trigger_id")))) throw notFound("This chatbot has no trigger with that id.");
  return c.body(null, 204);
});
