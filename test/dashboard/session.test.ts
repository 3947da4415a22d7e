import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signSession } from "../../src/dashboard/session";
import { BASE, call, createChatbot, createTeam, startConversationWith, TOKEN_SECRET } from "../support/api";

/** A browser-like request to the Worker: form posts carry the page's Origin. */
async function browser(
  method: string,
  path: string,
  options: { cookie?: string; form?: Record<string, string>; origin?: string | null; json?: unknown } = {},
) {
  const headers: Record<string, string> = {};
  if (options.cookie) headers.Cookie = options.cookie;
  if (options.origin !== null) headers.Origin = options.origin ?? BASE;
  let body: BodyInit | undefined;
  if (options.form) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(options.form).toString();
  }
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const response = await exports.default.fetch(new Request(BASE + path, { method, headers, body, redirect: "manual" }));
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function signIn(apiKey: string): Promise<string> {
  const response = await browser("POST", "/dashboard/login", { form: { api_key: apiKey, next: "/dashboard/conversations" } });
  expect(response.status).toBe(303);
  const cookie = response.headers.get("Set-Cookie")!;
  expect(cookie).toMatch(/^cc_session=v1\./);
  expect(cookie).toMatch(/HttpOnly/i);
  expect(cookie).toMatch(/SameSite=Strict/i);
  expect(cookie).toMatch(/Secure/i);
  expect(cookie).toMatch(/Max-Age=43200/);
  return cookie.split(";")[0]!;
}

describe("dashboard sign-in", () => {
  it("signs in with a team API key and shows the team's conversations", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey, { name: "Shop bot" });
    const started = await startConversationWith(bot.id, { data: { email: "ann@example.com" } });
    const cookie = await signIn(team.apiKey);
    const page = await browser("GET", "/dashboard/conversations", { cookie, origin: null });
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(page.text).toContain(started.conversation_id);
    expect(page.text).toContain("ann@example.com");
  });

  it("sends a visitor without a session to sign in, and back afterwards", async () => {
    const page = await browser("GET", "/dashboard/conversations?chatbot_id=x", { origin: null });
    expect(page.status).toBe(303);
    expect(page.headers.get("Location")).toBe("/dashboard/login?next=%2Fdashboard%2Fconversations%3Fchatbot_id%3Dx");
  });

  it("refuses a wrong, revoked or malformed key with the form again (401)", async () => {
    const team = await createTeam();
    for (const key of ["", "nope", `${team.apiKey.slice(0, -1)}x`]) {
      const response = await browser("POST", "/dashboard/login", { form: { api_key: key } });
      expect(response.status).toBe(401);
      expect(response.text).toContain("That API key is not valid or has been revoked.");
      expect(response.headers.get("Set-Cookie")).toBeNull();
    }
  });

  it("refuses a sign-in or sign-out posted from another site", async () => {
    const team = await createTeam();
    const login = await browser("POST", "/dashboard/login", { form: { api_key: team.apiKey }, origin: "https://evil.example" });
    expect(login.status).toBe(403);
    expect(login.headers.get("Set-Cookie")).toBeNull();
    const cookie = await signIn(team.apiKey);
    expect((await browser("POST", "/dashboard/logout", { cookie, origin: "https://evil.example" })).status).toBe(403);
    expect((await browser("GET", "/dashboard/conversations", { cookie, origin: null })).status).toBe(200);
  });

  it("shows a clear page for an expired session, and for a revoked key", async () => {
    const team = await createTeam();
    const keyId = team.apiKey.split("_")[1]!;
    const expired = await signSession(TOKEN_SECRET, { teamId: team.id, keyId, expiresAt: Math.floor(Date.now() / 1000) - 1 });
    const page = await browser("GET", "/dashboard/conversations", { cookie: `cc_session=${expired}`, origin: null });
    expect(page.status).toBe(401);
    expect(page.text).toContain("Your session has ended");
    expect(page.text).toContain("12 hours");

    const cookie = await signIn(team.apiKey);
    const extra = await call("POST", "/v1/api-keys", { token: team.apiKey, body: { name: "other", scope: "write" } });
    expect((await call("DELETE", `/v1/api-keys/${keyId}`, { token: extra.json.key })).status).toBe(204);
    const revoked = await browser("GET", "/dashboard/conversations", { cookie, origin: null });
    expect(revoked.status).toBe(401);
    expect(revoked.text).toContain("revoked");
  });

  it("refuses a forged session cookie", async () => {
    const team = await createTeam();
    const keyId = team.apiKey.split("_")[1]!;
    const forged = await signSession("another-secret", { teamId: team.id, keyId, expiresAt: Math.floor(Date.now() / 1000) + 3600 });
    const page = await browser("GET", "/dashboard/conversations", { cookie: `cc_session=${forged}`, origin: null });
    expect(page.status).toBe(303);
  });

  it("ends the session on sign-out", async () => {
    const team = await createTeam();
    const cookie = await signIn(team.apiKey);
    const out = await browser("POST", "/dashboard/logout", { cookie });
    expect(out.status).toBe(303);
    expect(out.headers.get("Set-Cookie")).toMatch(/cc_session=;/);
  });

  it("lets the session call the API: reads, and writes from this origin only", async () => {
    const team = await createTeam();
    const cookie = await signIn(team.apiKey);
    expect((await browser("GET", "/v1/chatbots/cb_00000000000000000000000000", { cookie, origin: null })).status).toBe(404);
    const created = await browser("POST", "/v1/chatbots", { cookie, json: { name: "From the dashboard" } });
    expect(created.status).toBe(201);
    const crossSite = await browser("POST", "/v1/chatbots", { cookie, json: { name: "Forged" }, origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    const noOrigin = await browser("POST", "/v1/chatbots", { cookie, json: { name: "Forged" }, origin: null });
    expect(noOrigin.status).toBe(403);
  });

  it("gives a read key's session everything to see and nothing to change", async () => {
    const team = await createTeam();
    const read = await call("POST", "/v1/api-keys", { token: team.apiKey, body: { name: "viewer", scope: "read" } });
    const cookie = await signIn(read.json.key);
    const page = await browser("GET", "/dashboard/conversations", { cookie, origin: null });
    expect(page.status).toBe(200);
    expect(page.text).toContain("Read-only key");
    expect((await browser("POST", "/v1/chatbots", { cookie, json: { name: "x" } })).status).toBe(403);
  });
});
