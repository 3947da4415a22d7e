/** @jsxImportSource hono/jsx */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie } from "hono/cookie";
import { findApiKeyCredential } from "../api-keys/storage";
import type { Viewer } from "./layout";
import { Bare, PAGE_HEADERS } from "./layout";
import { SESSION_COOKIE, verifySession } from "./session";

/** Dashboard pages: the viewer (team and key scope) is set by `requireSession`. */
export type DashboardEnv = { Bindings: Env; Variables: { viewer: Viewer } };

/** The page for a session that ended (expired, or its key revoked): says so, offers sign-in. */
export function sessionEnded(c: Context, why: string, next: string) {
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
  return c.html(
    <Bare title="Session ended">
      <h1>Your session has ended</h1>
      <p>{why}</p>
      <p>
        <a href={`/dashboard/login?next=${encodeURIComponent(next)}`}>Sign in again</a>
      </p>
    </Bare>,
    401,
    PAGE_HEADERS,
  );
}

/**
 * Signed-in pages: a valid session whose key is still live. No session: to the sign-in
 * page (then back here). An expired session or a revoked key: a page that says so.
 */
export const requireSession: MiddlewareHandler<DashboardEnv> = async (c, next) => {
  const here = new URL(c.req.url);
  const back = here.pathname + here.search;
  const cookie = getCookie(c, SESSION_COOKIE);
  const session = cookie ? await verifySession(c.env.TOKEN_SECRET, cookie) : null;
  if (session === null) return c.redirect(`/dashboard/login?next=${encodeURIComponent(back)}`, 303);
  if (session === "expired") return sessionEnded(c, "Sessions last at most 12 hours. Sign in again with your team's API key.", back);
  const key = await findApiKeyCredential(c.env.DB, session.keyId);
  if (!key || key.revoked_at !== null || key.team_id !== session.teamId) {
    return sessionEnded(c, "The API key this session signed in with has been revoked.", back);
  }
  c.set("viewer", { teamId: key.team_id, scope: key.scope === "write" ? "write" : "read" });
  await next();
};

/**
 * Forms that change data are accepted only from this service's own origin (the cookie is
 * SameSite=Strict too): a page on another site cannot submit them in a signed-in browser.
 */
export function sameOrigin(c: Context): boolean {
  return c.req.header("Origin") === new URL(c.req.url).origin;
}
