import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { SESSION_COOKIE, verifySession } from "../dashboard/session";
import { bearer } from "../shared/auth";
import { sha256, timingSafeEqualStrings, toBase64Url, toHex } from "../shared/encoding";
import type { ApiEnv } from "../shared/hono-env";
import { forbidden, ProblemError, unauthorized } from "../shared/problem";
import { findApiKeyCredential } from "./storage";

// API keys look like `cck_<key id>_<secret>`: the id finds the row, the secret's
// hash is compared in constant time, and only the hash is stored.
const API_KEY_PATTERN = /^cck_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A key's public id: the 16 hex digits inside the key, which is how the API names it. */
export const API_KEY_ID_PATTERN = /^[0-9a-f]{16}$/;

/**
 * The POST routes that only read, which a `read` key may call. Every other method but GET
 * and HEAD is a write, so a new route is refused to read keys until it is listed here.
 */
export const READ_ONLY_POSTS: ReadonlySet<string> = new Set(["/v1/prompts/render", "/v1/analytics/conversations"]);

function isWrite(method: string, path: string): boolean {
  if (method === "GET" || method === "HEAD") return false;
  return !(method === "POST" && READ_ONLY_POSTS.has(path));
}

/** A new key: `key` is shown to its owner once; only `hash` is stored. */
export async function createApiKey(): Promise<{ id: string; key: string; hash: string }> {
  const id = toHex(crypto.getRandomValues(new Uint8Array(8)).buffer as ArrayBuffer);
  const secret = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const key = `cck_${id}_${secret}`;
  return { id, key, hash: toHex(await sha256(key)) };
}

type Credential = { teamId: string; scope: string };

/** A live key's team, key id and scope, or null: the dashboard's sign-in form. */
export async function keyCredentialOf(db: D1Database, token: string): Promise<(Credential & { keyId: string }) | null> {
  try {
    const credential = await keyCredential(db, token);
    return { ...credential, keyId: API_KEY_PATTERN.exec(token)![1]! };
  } catch (error) {
    if (error instanceof ProblemError) return null;
    throw error;
  }
}

/** A live key by its whole text: the row's team and scope, or 401. */
async function keyCredential(db: D1Database, token: string): Promise<Credential> {
  const match = API_KEY_PATTERN.exec(token);
  if (!match) throw unauthorized("The API key is not valid.");
  const row = await findApiKeyCredential(db, match[1]!);
  const presented = toHex(await sha256(token));
  // Compare even when no row was found, so a miss costs the same as a wrong secret.
  const matches = await timingSafeEqualStrings(presented, row?.key_hash ?? "0".repeat(64));
  if (!row || !matches) throw unauthorized("The API key is not valid.");
  // Only the holder of the whole key learns it was revoked.
  if (row.revoked_at !== null) throw unauthorized("The API key has been revoked.");
  return { teamId: row.team_id, scope: row.scope };
}

/**
 * The dashboard's session, for the API calls its pages make: the key that signed in must
 * still be live. A write must come from this service's own origin (the cookie is
 * SameSite=Strict as well), so no other site can make a signed-in browser write.
 */
async function sessionCredential(c: Context<ApiEnv>, cookie: string): Promise<Credential> {
  const session = await verifySession(c.env.TOKEN_SECRET, cookie);
  if (session === null) throw unauthorized("The dashboard session is not valid; sign in again.");
  if (session === "expired") throw unauthorized("The dashboard session has expired; sign in again.");
  const row = await findApiKeyCredential(c.env.DB, session.keyId);
  if (!row || row.revoked_at !== null || row.team_id !== session.teamId)
    throw unauthorized("The key this session signed in with was revoked; sign in again.");
  if (isWrite(c.req.method, c.req.path) && c.req.header("Origin") !== new URL(c.req.url).origin) {
    throw forbidden("A dashboard session writes only from the dashboard's own origin.");
  }
  return { teamId: row.team_id, scope: row.scope };
}

/** Who is calling: an API key (`Authorization: Bearer`), else a dashboard session cookie; 401 otherwise. */
export async function authenticate(c: Context<ApiEnv>): Promise<Credential> {
  const authorization = c.req.header("Authorization");
  const cookie = authorization === undefined ? getCookie(c, SESSION_COOKIE) : undefined;
  if (cookie !== undefined) return sessionCredential(c, cookie);
  const token = bearer(authorization);
  if (!token) throw unauthorized("Send a team API key as `Authorization: Bearer <api key>`.");
  return keyCredential(c.env.DB, token);
}

/**
 * API routes: a live team API key (or the dashboard's session), read from D1 on every
 * request (no cache, so a revoked key is refused at once). A `read` key is refused every
 * write with 403 before the route reads anything. Sets `teamId` and `scope` for the route.
 */
export const requireApiKey: MiddlewareHandler<ApiEnv> = async (c, next) => {
  const { teamId, scope } = await authenticate(c);
  // Anything but an explicit write key is read-only: an unknown scope fails closed.
  if (scope !== "write" && isWrite(c.req.method, c.req.path)) {
    throw forbidden(`The API key is read-only (scope \`read\`): it may not ${c.req.method} ${c.req.path}. Use a key with scope \`write\`.`);
  }
  c.set("teamId", teamId);
  c.set("scope", scope === "write" ? "write" : "read");
  await next();
};
