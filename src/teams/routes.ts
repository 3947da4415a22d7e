import { Hono } from "hono";
import { z } from "zod";
import { createApiKey } from "../api-keys/auth";
import { insertApiKey } from "../api-keys/storage";
import { requireAdmin } from "../shared/auth";
import type { AppEnv } from "../shared/hono-env";
import { newId } from "../shared/ids";
import { limitBody, readJson } from "../shared/json-body";
import { nowIso } from "../shared/time";
import { insertTeam } from "./storage";

const CreateTeam = z.strictObject({ name: z.string().trim().min(1).max(200) });

export const teamRoutes = new Hono<AppEnv>();

teamRoutes.post("/teams", requireAdmin, limitBody(4 * 1024), async (c) => {
  const { name } = await readJson(c.req, CreateTeam);
  const team = { id: newId("team"), name };
  const apiKey = await createApiKey();
  const now = nowIso();
  await c.env.DB.batch([
    insertTeam(c.env.DB, { id: team.id, name, created_at: now }),
    // The team's first key may do everything; the team makes narrower ones itself.
    insertApiKey(c.env.DB, {
      id: apiKey.id,
      team_id: team.id,
      key_hash: apiKey.hash,
      name: "Initial key",
      scope: "write",
      created_at: now,
    }),
  ]);
  // The key is shown once: only its hash is stored.
  return c.json({ team, api_key: apiKey.key }, 201);
});
