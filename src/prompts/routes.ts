import { Hono } from "hono";
import { z } from "zod";
import { requireApiKey } from "../api-keys/auth";
import { codePointLength } from "../shared/encoding";
import type { ApiEnv } from "../shared/hono-env";
import { limitBody, readJson } from "../shared/json-body";
import { renderReported } from "./render-cache";

const TEMPLATE_MAX_CODE_POINTS = 100_000;

const RenderInput = z.strictObject({
  participant_id: z.string(),
  template: z
    .string()
    .refine((value) => codePointLength(value) <= TEMPLATE_MAX_CODE_POINTS, `must be at most ${TEMPLATE_MAX_CODE_POINTS} characters`),
});

/** POST /v1/prompts/render */
export const promptRoutes = new Hono<ApiEnv>();
promptRoutes.use(requireApiKey);
promptRoutes.post("/render", limitBody(512 * 1024), async (c) => {
  const input = await readJson(c.req, RenderInput);
  const { prompt, headers } = await renderReported(c.env, c.var.teamId, input.participant_id, input.template);
  return c.json({ prompt }, 200, headers);
});
