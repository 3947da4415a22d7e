import { Hono } from "hono";
import { z } from "zod";
import { requireApiKey } from "../api-keys/auth";
import { checkDataSchema } from "../participants/data-schema";
import type { ApiEnv } from "../shared/hono-env";
import { newId } from "../shared/ids";
import { limitBody, readJson } from "../shared/json-body";
import { nowIso } from "../shared/time";
import { triggerRoutes } from "../triggers/routes";
import { identityRoutes } from "./identity-routes";
import { requireTeamChatbot } from "./lookups";
import { type Chatbot, insertChatbot, presentChatbot, updateChatbot } from "./storage";

/** An exact web origin: scheme, host and optional port, nothing else. */
const Origin = z
  .string()
  .max(300)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
    } catch {
      return false;
    }
  }, "must be an origin such as https://shop.example.com (scheme, host and optional port; no path or trailing slash)");

/**
 * A draft 2020-12 JSON Schema for the chatbot's participant data, checked against the
 * meta-schema (400 naming each problem under /participant_data_schema); null clears it.
 */
const ParticipantDataSchema = z
  .unknown()
  .superRefine((value, context) => {
    if (value === null) return;
    for (const error of checkDataSchema(value)) {
      const path =
        error.pointer === ""
          ? []
          : error.pointer
              .slice(1)
              .split("/")
              .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
      context.addIssue({ code: "custom", message: `not a valid JSON Schema (draft 2020-12): ${error.message}`, path });
    }
  })
  .transform((value) => (value ?? null) as Record<string, unknown> | null);

const chatbotFields = {
  name: z.string().trim().min(1).max(200),
  allowed_origins: z.array(Origin).max(100),
  participant_data_schema: ParticipantDataSchema,
  identity_verification: z.enum(["off", "required"]),
  stand_in_replies: z.boolean(),
};

const CreateChatbot = z.strictObject({
  ...chatbotFields,
  allowed_origins: chatbotFields.allowed_origins.default([]),
  participant_data_schema: chatbotFields.participant_data_schema.optional(),
  identity_verification: chatbotFields.identity_verification.default("off"),
  stand_in_replies: chatbotFields.stand_in_replies.default(true),
});
const UpdateChatbot = z.strictObject(chatbotFields).partial();

export const chatbotRoutes = new Hono<ApiEnv>();
chatbotRoutes.use(requireApiKey);
chatbotRoutes.route("/", identityRoutes);
chatbotRoutes.route("/", triggerRoutes);

chatbotRoutes.post("/", limitBody(64 * 1024), async (c) => {
  const input = await readJson(c.req, CreateChatbot);
  const now = nowIso();
  const chatbot: Chatbot = {
    id: newId("cb"),
    team_id: c.var.teamId,
    name: input.name,
    allowed_origins: [...new Set(input.allowed_origins)],
    participant_data_schema: input.participant_data_schema ?? null,
    identity_verification: input.identity_verification,
    stand_in_replies: input.stand_in_replies,
    identity_secrets: { current: null, previous: null, rotated_at: null },
    created_at: now,
    updated_at: now,
  };
  await insertChatbot(c.env.DB, chatbot).run();
  return c.json(presentChatbot(chatbot), 201);
});

chatbotRoutes.get("/:id", async (c) => {
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, c.req.param("id"));
  return c.json(presentChatbot(chatbot));
});

chatbotRoutes.patch("/:id", limitBody(64 * 1024), async (c) => {
  const input = await readJson(c.req, UpdateChatbot);
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, c.req.param("id"));
  const updated: Chatbot = {
    ...chatbot,
    ...input,
    identity_verification: input.identity_verification ?? chatbot.identity_verification,
    stand_in_replies: input.stand_in_replies ?? chatbot.stand_in_replies,
    allowed_origins: input.allowed_origins ? [...new Set(input.allowed_origins)] : chatbot.allowed_origins,
    updated_at: nowIso(),
  };
  await updateChatbot(c.env.DB, updated);
  return c.json(presentChatbot(updated));
});
