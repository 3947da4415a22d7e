import { Hono } from "hono";
import { z } from "zod";
import { requireApiKey, type ApiVariables } from "../shared/auth";
import { limitBody, readJson } from "../shared/json-body";
import { newId } from "../shared/ids";
import { notFound } from "../shared/problem";
import { nowIso } from "../shared/time";
import { findTeamChatbot, forgetCachedChatbot, presentChatbot } from "./storage";

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

const chatbotFields = {
  name: z.string().trim().min(1).max(200),
  allowed_origins: z.array(Origin).max(100),
};

const CreateChatbot = z.strictObject({
  ...chatbotFields,
  allowed_origins: chatbotFields.allowed_origins.default([]),
});
const UpdateChatbot = z.strictObject(chatbotFields).partial();

export const chatbotRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();
chatbotRoutes.use(requireApiKey);

chatbotRoutes.post("/", limitBody(64 * 1024), async (c) => {
  const input = await readJson(c, CreateChatbot);
  const now = nowIso();
  const chatbot = {
    id: newId("cb"),
    team_id: c.var.teamId,
    name: input.name,
    allowed_origins: [...new Set(input.allowed_origins)],
    participant_data_schema: null,
    created_at: now,
    updated_at: now,
  };
  await c.env.DB.prepare(
    "INSERT INTO chatbots (id, team_id, name, allowed_origins, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
  )
    .bind(chatbot.id, chatbot.team_id, chatbot.name, JSON.stringify(chatbot.allowed_origins), now, now)
    .run();
  return c.json(presentChatbot(chatbot), 201);
});

chatbotRoutes.get("/:id", async (c) => {
  const chatbot = await findTeamChatbot(c.env.DB, c.var.teamId, c.req.param("id"));
  if (!chatbot) throw notFound("No chatbot with that id.");
  return c.json(presentChatbot(chatbot));
});

chatbotRoutes.patch("/:id", limitBody(64 * 1024), async (c) => {
  const input = await readJson(c, UpdateChatbot);
  const chatbot = await findTeamChatbot(c.env.DB, c.var.teamId, c.req.param("id"));
  if (!chatbot) throw notFound("No chatbot with that id.");
  const updated = {
    ...chatbot,
    ...input,
    allowed_origins: input.allowed_origins ? [...new Set(input.allowed_origins)] : chatbot.allowed_origins,
    updated_at: nowIso(),
  };
  await c.env.DB.prepare("UPDATE chatbots SET name = ?, allowed_origins = ?, updated_at = ? WHERE id = ? AND team_id = ?")
    .bind(updated.name, JSON.stringify(updated.allowed_origins), updated.updated_at, chatbot.id, c.var.teamId)
    .run();
  forgetCachedChatbot(chatbot.id);
  return c.json(presentChatbot(updated));
});
