import type { Context, MiddlewareHandler } from "hono";
import type { Chatbot } from "../chatbots/storage";
import { forbidden } from "../shared/problem";

const PREFLIGHT_MAX_AGE_SECONDS = 7200;

/**
 * Widget routes are called from visitors' browsers. A preflight carries no body or
 * token, so it cannot name the chatbot: it is answered for any origin, and the real
 * request is then checked against the chatbot's allowed_origins (see `assertOrigin`).
 */
export const widgetCors: MiddlewareHandler = async (c, next) => {
  const origin = c.req.header("Origin");
  if (c.req.method === "OPTIONS") {
    return c.body(null, 204, {
      ...(origin ? { "Access-Control-Allow-Origin": origin } : {}),
      "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
      "Access-Control-Allow-Headers": "Authorization, Content-Type",
      "Access-Control-Max-Age": String(PREFLIGHT_MAX_AGE_SECONDS),
      Vary: "Origin",
    });
  }
  await next();
  // Data goes only to an origin the route checked against its chatbot. Other errors
  // (bad token, bad body, unknown chatbot) hold no data and stay readable, so the
  // widget can tell a rejected token from an outage; a refused origin learns nothing.
  const readable = c.get("corsAllowed" as never) || (c.res.status >= 400 && !c.get("corsRefused" as never));
  if (origin && readable) {
    c.res.headers.set("Access-Control-Allow-Origin", origin);
    c.res.headers.append("Vary", "Origin");
  }
};

/**
 * Refuses a browser request from an origin the chatbot does not list (403, without
 * CORS headers, so the page cannot read the answer). An empty list allows any
 * origin; this service's own origin (the playground) is always allowed.
 */
export function assertOrigin(c: Context, chatbot: Pick<Chatbot, "allowed_origins">): void {
  const origin = c.req.header("Origin");
  if (!origin) return;
  const allowed =
    chatbot.allowed_origins.length === 0 ||
    chatbot.allowed_origins.includes(origin) ||
    origin === new URL(c.req.url).origin;
  if (!allowed) {
    c.set("corsRefused" as never, true as never);
    throw forbidden(`The origin ${origin} is not among this chatbot's allowed_origins.`);
  }
  c.set("corsAllowed" as never, true as never);
}
