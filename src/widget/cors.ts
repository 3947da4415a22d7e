import type { MiddlewareHandler } from "hono";
import type { Chatbot } from "../chatbots/storage";
import type { ConversationClaims } from "../shared/auth";
import { forbidden } from "../shared/problem";

/** What a route checked of a browser's `Origin`: CORS headers follow it. */
type OriginVerdict = "allowed" | "refused";

/** Widget routes: the claims of the conversation token, and the origin check's verdict. */
export type WidgetEnv = { Bindings: Env; Variables: { claims: ConversationClaims; origin?: OriginVerdict } };

const PREFLIGHT_MAX_AGE_SECONDS = 7200;

/**
 * Widget routes are called from visitors' browsers. A preflight carries no body or
 * token, so it cannot name the chatbot: it is answered for any origin, and the real
 * request is then checked against the chatbot's allowed_origins (see `assertOrigin`).
 */
export const widgetCors: MiddlewareHandler<WidgetEnv> = async (c, next) => {
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
  if (c.res.status === 101) return; // a WebSocket: CORS does not apply, its headers are immutable
  // Data goes only to an origin the route checked against its chatbot. Other errors
  // (bad token, bad body, unknown chatbot) hold no data and stay readable, so the
  // widget can tell a rejected token from an outage; a refused origin learns nothing.
  const verdict = c.get("origin");
  const readable = verdict === "allowed" || (c.res.status >= 400 && verdict !== "refused");
  if (origin && readable) {
    c.res.headers.set("Access-Control-Allow-Origin", origin);
    c.res.headers.append("Vary", "Origin");
  }
};

/**
 * Whether a browser request's origin may use this chatbot (null: not a browser request).
 * An empty list allows any origin; this service's own origin (the playground) is
 * always allowed.
 */
function originVerdict(origin: string | undefined, ownOrigin: string, chatbot: Pick<Chatbot, "allowed_origins">): OriginVerdict | null {
  if (!origin) return null;
  const allowed = chatbot.allowed_origins.length === 0 || chatbot.allowed_origins.includes(origin) || origin === ownOrigin;
  return allowed ? "allowed" : "refused";
}

/**
 * Records the verdict for the CORS headers, and refuses an origin the chatbot does not
 * list (403, without CORS headers, so the page cannot read the answer).
 */
export function checkOrigin(
  request: { origin: string | undefined; url: string },
  chatbot: Pick<Chatbot, "allowed_origins">,
  record: (verdict: OriginVerdict) => void,
): void {
  const verdict = originVerdict(request.origin, new URL(request.url).origin, chatbot);
  if (verdict) record(verdict);
  if (verdict === "refused") throw forbidden(`The origin ${request.origin} is not among this chatbot's allowed_origins.`);
}
