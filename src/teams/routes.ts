import { Hono } from "hono";
import { z } from "zod";
import { createApiKey, requireAdmin } from "../shared/auth";
import { limitBody, readJson } from "../shared/json-body";
import { newId } from "../shared/ids";
import { nowIso } from "../shared/time";

const CreateTeam = z.strictObject({ name: z.string().trim().min(1).max(200) });

export const teamRoutes = new Hono<{ Bindings: Env }>();

teamRoutes.post("/teams", requireAdmin, limitBody(4 * 1024), async (c) => {
  const { name } = await readJson(c, CreateTeam);
  const team = { id: newId("team"), name };
  const apiKey = await createApiKey();
  const now = nowIso();
  await c.env.DB.batch([
    c.env.DB.prepare("INSERT INTO teams (id, name, created_at) VALUES (?, ?, ?)").bind(team.id, name, now),
    c.env.DB.prepare("INSERT INTO api_keys (id, team_id, key_hash, created_at) VALUES (?, ?, ?, ?)").bind(
      apiKey.id,
      team.id,
      apiKey.hash,
      now,
    ),
  ]);
  // The key is shown once: only its hash is stored.
  return c.json({ team, api_key: apiKey.key }, 201);
});
