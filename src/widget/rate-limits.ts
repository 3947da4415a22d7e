import type { Context, MiddlewareHandler } from "hono";
import { problem } from "../shared/problem";
import type { WidgetEnv } from "./cors";

/**
 * The widget routes' abuse limits, counted by Cloudflare's rate-limiting bindings. These
 * must equal the bindings' `simple` settings in wrangler.toml (a test holds them together):
 * the binding does the counting, these only word the 429. Why these numbers: README
 * "Rate limits".
 */
export const START_LIMIT = { limit: 120, period: 60 } as const;
export const MESSAGE_LIMIT = { limit: 120, period: 60 } as const;

/** Only the word `off` turns the limits off: a typo keeps them on. */
function limitsOff(env: Env): boolean {
  // Typed as the literal of wrangler.toml; a deployment may set any string.
  return (env.RATE_LIMITS as string | undefined)?.trim().toLowerCase() === "off";
}

/**
 * Counts one request against `key`. The limiter guards against abuse; if it fails, the
 * widget keeps working rather than going down with it.
 */
async function admits(limiter: RateLimit, key: string): Promise<boolean> {
  try {
    return (await limiter.limit({ key })).success;
  } catch (error) {
    console.error("rate limiter failed; the request goes through", error);
    return true;
  }
}

function rateLimited(detail: string, period: number) {
  // Retry-After is not a CORS-safelisted header: exposed, so the widget's script can read it.
  return problem(
    "rate-limited",
    `${detail} Retry after ${period} seconds.`,
    {},
    {
      "Retry-After": String(period),
      "Access-Control-Expose-Headers": "Retry-After",
    },
  );
}

/**
 * The key of a client address: an IPv4 address as it is, an IPv6 address by its /64,
 * because one subscriber is usually given a whole /64 and could otherwise rotate through it.
 */
export function addressKey(address: string): string {
  const trimmed = address.trim().toLowerCase();
  // IPv4, and IPv6 with an embedded IPv4 (::ffff:192.0.2.1), whose /64 would be shared by all.
  if (!trimmed.includes(":") || trimmed.includes(".")) return trimmed;
  const halves = trimmed.split("::");
  if (halves.length > 2) return trimmed;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return trimmed;
  const groups = [...head, ...Array<string>(missing).fill("0"), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return trimmed;
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(":")}::/64`;
}

/**
 * Conversation starts per client address (`CF-Connecting-IP`). Cloudflare always sets
 * that header in production; a request without it can only come from local tools and
 * tests, and is not counted (one shared "unknown" address would make them all one client).
 * Mount it before the body is read, so a refused start costs nothing.
 */
export const limitStarts: MiddlewareHandler<WidgetEnv> = async (c, next) => {
  const address = c.req.header("CF-Connecting-IP");
  if (address && !limitsOff(c.env) && !(await admits(c.env.WIDGET_START_LIMITER, addressKey(address)))) {
    throw rateLimited("Too many conversations started from this address.", START_LIMIT.period);
  }
  await next();
};

/**
 * Messages per conversation, never per address: an office, a school or a mobile carrier
 * puts many visitors behind one. Mount it after the conversation token is verified, so
 * nobody can spend another conversation's budget by naming its id.
 */
export function limitMessages(conversationIdOf: (c: Context<WidgetEnv>) => string): MiddlewareHandler<WidgetEnv> {
  return async (c, next) => {
    if (!limitsOff(c.env) && !(await admits(c.env.WIDGET_MESSAGE_LIMITER, conversationIdOf(c)))) {
      throw rateLimited("Too many messages to this conversation.", MESSAGE_LIMIT.period);
    }
    await next();
  };
}
