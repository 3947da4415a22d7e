import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { chatbotRoutes } from "./chatbots/routes";
import { conversationRoutes } from "./conversations/routes";
import { participantRoutes } from "./participants/routes";
import { promptRoutes } from "./prompts/routes";
import { playgroundRoutes } from "./playground/routes";
import { problem, problemResponse, ProblemError } from "./shared/problem";
import { teamRoutes } from "./teams/routes";
import { widgetRoutes } from "./widget/routes";

/** The whole HTTP surface: each domain owns its routes and is mounted here. */
export const app = new Hono<{ Bindings: Env }>();

app.get("/healthz", (c) => c.json({ ok: true }));
app.route("/v1/admin", teamRoutes);
app.route("/v1/chatbots", chatbotRoutes);
app.route("/v1/widget", widgetRoutes);
app.route("/v1/conversations", conversationRoutes);
app.route("/v1/participants", participantRoutes);
app.route("/v1/prompts", promptRoutes);
app.route("/playground", playgroundRoutes);

app.notFound((c) => problemResponse(c, problem("not-found", 404, `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`)));

app.onError((error, c) => {
  if (error instanceof ProblemError) return problemResponse(c, error);
  if (error instanceof HTTPException) return problemResponse(c, problem("bad-request", error.status, error.message || "Bad request."));
  console.error("unhandled error", error);
  return problemResponse(c, problem("internal-error", 500, "Something went wrong on our side; the request may be retried."));
});
