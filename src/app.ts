import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { actionRoutes } from "./actions/routes";
import { analyticsExportRoutes } from "./analytics/export-routes";
import { analyticsRoutes } from "./analytics/routes";
import { apiKeyRoutes } from "./api-keys/routes";
import { chatbotRoutes } from "./chatbots/routes";
import { conversationRoutes } from "./conversations/routes";
import { dashboardRoutes } from "./dashboard/routes";
import { participantRoutes } from "./participants/routes";
import { playgroundRoutes } from "./playground/routes";
import { promptRoutes } from "./prompts/routes";
import { allowedMethods } from "./shared/allowed-methods";
import type { AppEnv } from "./shared/hono-env";
import { ProblemError, problem, problemResponse, slugForStatus } from "./shared/problem";
import { teamRoutes } from "./teams/routes";
import { webhookRoutes } from "./webhooks/routes";
import { widgetRoutes } from "./widget/routes";

/** The whole HTTP surface: each domain owns its routes and is mounted here. */
export const app = new Hono<AppEnv>();

// API answers are per caller and never cached; their types are what they say.
app.use("/v1/*", async (c, next) => {
  await next();
  // A WebSocket upgrade's headers are the runtime's, and immutable.
  if (c.res.status === 101) return;
  if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  c.res.headers.set("X-Content-Type-Options", "nosniff");
});

app.get("/healthz", (c) => c.json({ ok: true }));
app.route("/v1/admin", teamRoutes);
app.route("/v1/chatbots", chatbotRoutes);
app.route("/v1/widget", widgetRoutes);
app.route("/v1/conversations", conversationRoutes);
app.route("/v1/participants", participantRoutes);
app.route("/v1/prompts", promptRoutes);
app.route("/v1/api-keys", apiKeyRoutes);
app.route("/v1/webhooks", webhookRoutes);
app.route("/v1/actions", actionRoutes);
// Before /v1/analytics, whose requireApiKey would otherwise run for these paths too.
app.route("/v1/analytics/exports", analyticsExportRoutes);
app.route("/v1/analytics", analyticsRoutes);
app.route("/playground", playgroundRoutes);
app.route("/dashboard", dashboardRoutes);

// A known path asked with a method it does not serve answers 405 with `Allow`.
const methodsOf = allowedMethods(app.routes);

app.notFound((c) => {
  const path = new URL(c.req.url).pathname;
  const allow = methodsOf(path);
  if (allow.length > 0) {
    const detail = `${path} does not accept ${c.req.method}; it accepts ${allow.join(", ")}.`;
    return problemResponse(c, problem("method-not-allowed", detail, {}, { Allow: allow.join(", ") }));
  }
  return problemResponse(c, problem("not-found", `No route for ${c.req.method} ${path}.`));
});

app.onError((error, c) => {
  if (error instanceof ProblemError) return problemResponse(c, error);
  if (error instanceof HTTPException) {
    // Hono's own errors keep their status, under the catalog's slug for it.
    const answer = problem(slugForStatus(error.status), error.message || "The request could not be served.");
    answer.problem.status = error.status;
    return problemResponse(c, answer);
  }
  console.error("unhandled error", error);
  return problemResponse(c, problem("internal-error", "Something went wrong on our side; the request may be retried."));
});
