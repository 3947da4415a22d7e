import { Hono } from "hono";
import { z } from "zod";
import { codePointLength } from "../shared/encoding";
import type { ApiEnv } from "../shared/hono-env";
import { limitBody, readJson } from "../shared/json-body";
import { notFound, problem } from "../shared/problem";
import { nowIso } from "../shared/time";
import { API_KEY_ID_PATTERN, createApiKey, requireApiKey } from "./auth";
import { insertApiKeyWithinLimit, listLiveApiKeys, revokeApiKey } from "./storage";

/** Live keys a team may hold: enough for every service and person, few enough to list in one page. */
const MAX_LIVE_KEYS = 100;
const NAME_MAX_CODE_POINTS = 200;

const CreateApiKey = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .refine((value) => codePointLength(value) <= NAME_MAX_CODE_POINTS, `must be at most ${NAME_MAX_CODE_POINTS} characters`)
    // A listing shows names to people: no line breaks, NULs or other invisible controls.
    .refine((value) => !/\p{Cc}/u.test(value), "must not contain control characters"),
  scope: z.enum(["write", "read"]),
});

/** /v1/api-keys: a team's keys. Creating and revoking are writes, so they need a `write` key. */
export const apiKeyRoutes = new Hono<ApiEnv>();
apiKeyRoutes.use(requireApiKey);

apiKeyRoutes.post("/", limitBody(4 * 1024), async (c) => {
  const { name, scope } = await readJson(c.req, CreateApiKey);
  const apiKey = await createApiKey();
  const created_at = nowIso();
  const row = { id: apiKey.id, team_id: c.var.teamId, key_hash: apiKey.hash, name, scope, created_at };
  if (!(await insertApiKeyWithinLimit(c.env.DB, row, MAX_LIVE_KEYS))) {
    throw problem("conflict", `The team already holds ${MAX_LIVE_KEYS} live API keys; revoke one before creating another.`, {
      limit: MAX_LIVE_KEYS,
    });
  }
  // The key is shown this once (only its hash is stored): keep it out of every cache.
  return c.json({ id: apiKey.id, name, scope, key: apiKey.key, created_at }, 201, { "Cache-Control": "no-store" });
});

apiKeyRoutes.get("/", async (c) => {
  return c.json({ api_keys: await listLiveApiKeys(c.env.DB, c.var.teamId) });
});

apiKeyRoutes.delete("/:id", async (c) => {
  const id = c.req.param("id");
  // Another team's key, a revoked one and junk answer alike.
  if (!API_KEY_ID_PATTERN.test(id) || !(await revokeApiKey(c.env.DB, c.var.teamId, id, nowIso()))) {
    throw notFound("No API key with that id.");
  }
  return c.body(null, 204);
});
