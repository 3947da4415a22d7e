import { Hono } from "hono";
import type { ApiEnv } from "../shared/hono-env";
import { nowIso } from "../shared/time";
import { newIdentitySecret, sealSecret } from "./identity-secret";
import { requireTeamChatbot } from "./lookups";
import { rotateIdentitySecret } from "./storage";

/** POST /:id/identity-secret: creates or rotates the secret that signs identity tokens; shown once. */
export const identityRoutes = new Hono<ApiEnv>();

identityRoutes.post("/:id/identity-secret", async (c) => {
  const chatbot = await requireTeamChatbot(c.env.DB, c.var.teamId, c.req.param("id"));
  const secret = newIdentitySecret();
  await rotateIdentitySecret(c.env.DB, chatbot, await sealSecret(c.env.TOKEN_SECRET, secret), nowIso());
  c.header("Cache-Control", "no-store");
  return c.json({ secret }, 201);
});
