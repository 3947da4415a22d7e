import { Hono, type Context } from "hono";
import { z } from "zod";
import { newCost } from "../participants/cost";
import { setCostHeader } from "../shared/cost-header";
import { requireApiKey, type ApiVariables } from "../shared/auth";
import { codePointLength } from "../shared/encoding";
import { ID_PATTERN } from "../shared/ids";
import { limitBody, readJson } from "../shared/json-body";
import { notFound } from "../shared/problem";
import { renderForParticipant, type RenderResult } from "./render-cache";

export const TEMPLATE_MAX_CODE_POINTS = 100_000;
type ApiContext = Context<{ Bindings: Env; Variables: ApiVariables }>;

const RenderInput = z.strictObject({
  participant_id: z.string(),
  template: z.string().refine((value) => codePointLength(value) <= TEMPLATE_MAX_CODE_POINTS, `must be at most ${TEMPLATE_MAX_CODE_POINTS} characters`),
});

/** Renders through the cache and reports it: `Chat-Context-Cache: hit|miss` and the storage cost. */
async function render(c: ApiContext, participantId: string, template: string): Promise<RenderResult> {
  if (!ID_PATTERN.test(participantId)) throw notFound("No participant with that id.");
  const cost = newCost();
  const result = await renderForParticipant(c.env, c.var.teamId, participantId, template, cost);
  c.header("Chat-Context-Cache", result.cache);
  setCostHeader(c, cost);
  // `{current_datetime}` makes every answer momentary.
  c.header("Cache-Control", "no-store");
  return result;
}

/** POST /v1/prompts/render */
export const promptRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();
promptRoutes.use(requireApiKey);
promptRoutes.post("/render", limitBody(512 * 1024), async (c) => {
  const input = await readJson(c, RenderInput);
  const result = await render(c, input.participant_id, input.template);
  return c.json({ prompt: result.prompt });
});

/** GET /v1/participants/:id/prompt-variables/participant_data (mounted by the participant routes). */
export const promptVariableRoutes = new Hono<{ Bindings: Env; Variables: ApiVariables }>();
promptVariableRoutes.get("/:id/prompt-variables/participant_data", async (c) => {
  const result = await render(c, c.req.param("id"), "{participant_data}");
  return c.json({ name: "participant_data", value: result.prompt });
});
