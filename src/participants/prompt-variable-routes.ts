import { Hono } from "hono";
import { renderReported } from "../prompts/render-cache";
import type { ApiEnv } from "../shared/hono-env";

/** GET /:id/prompt-variables/participant_data: the variable as a bot's prompt would hold it. */
export const promptVariableRoutes = new Hono<ApiEnv>();
promptVariableRoutes.get("/:id/prompt-variables/participant_data", async (c) => {
  const { prompt, headers } = await renderReported(c.env, c.var.teamId, c.req.param("id"), "{participant_data}");
  return c.json({ name: "participant_data", value: prompt }, 200, headers);
});
