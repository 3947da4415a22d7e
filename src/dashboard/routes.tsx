/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { keyCredentialOf } from "../api-keys/auth";
import { analyticsPages } from "./analytics-page";
import { type DashboardEnv, requireSession, sameOrigin } from "./auth";
import { chatbotPages } from "./chatbots-pages";
import { conversationPages } from "./conversations-pages";
import { Bare, PAGE_HEADERS } from "./layout";
import { participantPages } from "./participants-pages";
import { SESSION_COOKIE, SESSION_MAX_AGE_SECONDS, sessionCookieOptions, signSession } from "./session";

/** /dashboard: server-rendered pages for a team, signed in with a team API key. */
export const dashboardRoutes = new Hono<DashboardEnv>();

/** Where to go after signing in: a dashboard path only, never another site. */
function nextPath(value: string | undefined): string {
  return value && /^\/dashboard(\/[^\s\\]*)?$/.test(value) && !value.startsWith("//") ? value : "/dashboard/conversations";
}

function LoginPage({ next, error }: { next: string; error?: string }) {
  return (
    <Bare title="Sign in">
      <h1>Sign in to Chat Context</h1>
      <form method="post" action="/dashboard/login" class="login">
        <input type="hidden" name="next" value={next} />
        <label for="api_key">Team API key</label>
        <input
          id="api_key"
          name="api_key"
          type="password"
          autocomplete="off"
          required
          spellcheck={false}
          aria-describedby={error ? "login-error" : "api-key-help"}
          aria-invalid={error ? "true" : undefined}
        />
        <p id="api-key-help" class="help">
          The key looks like <code>cck_…</code>. A <code>read</code> key sees everything and changes nothing.
        </p>
        {error ? (
          <p id="login-error" class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit">Sign in</button>
      </form>
    </Bare>
  );
}

dashboardRoutes.get("/", (c) => c.redirect("/dashboard/conversations", 303));

dashboardRoutes.get("/login", (c) => c.html(<LoginPage next={nextPath(c.req.query("next"))} />, 200, PAGE_HEADERS));

dashboardRoutes.post("/login", async (c) => {
  if (!sameOrigin(c))
    return c.html(<LoginPage next="/dashboard/conversations" error="This form must be sent from this site." />, 403, PAGE_HEADERS);
  const form = await c.req.parseBody();
  const next = nextPath(typeof form.next === "string" ? form.next : undefined);
  const key = typeof form.api_key === "string" ? form.api_key.trim() : "";
  const credential = await keyCredentialOf(c.env.DB, key);
  if (!credential) return c.html(<LoginPage next={next} error="That API key is not valid or has been revoked." />, 401, PAGE_HEADERS);
  const expiresAt = Math.floor(Date.now() / 1000) + SESSION_MAX_AGE_SECONDS;
  const value = await signSession(c.env.TOKEN_SECRET, { teamId: credential.teamId, keyId: credential.keyId, expiresAt });
  setCookie(c, SESSION_COOKIE, value, sessionCookieOptions(c.req.url, SESSION_MAX_AGE_SECONDS));
  return c.redirect(next, 303);
});

dashboardRoutes.post("/logout", (c) => {
  if (!sameOrigin(c)) return c.text("This form must be sent from this site.", 403);
  deleteCookie(c, SESSION_COOKIE, { path: "/" });
  return c.redirect("/dashboard/login", 303);
});

dashboardRoutes.use("/*", requireSession);
dashboardRoutes.route("/conversations", conversationPages);
dashboardRoutes.route("/chatbots", chatbotPages);
dashboardRoutes.route("/participants", participantPages);
dashboardRoutes.route("/analytics", analyticsPages);
