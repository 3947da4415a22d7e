import type { MiddlewareHandler } from "hono";
import { bearer } from "../shared/auth";
import { sha256, timingSafeEqualStrings, toBase64Url, toHex } from "../shared/encoding";
import type { ApiEnv } from "../shared/hono-env";
import { forbidden, unauthorized } from "../shared/problem";
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
export const READ_ONLY_POSTS: ReadonlySet<string> = new Set(["/v1/prompts/render"]);

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

/**
 * API routes: a live team API key, read from D1 on every request (no cache, so a revoked
 * key is refused at once). A `read` key is refused every write with 403 before the route
 * reads anything. Sets `teamId` for the route.
 */
export const requireApiKey: MiddlewareHandler<ApiEnv> = async (c, next) => {
  const token = bearer(c.req.header("Authorization"));
  if (!token) throw unauthorized("Send a team API key as `Authorization: Bearer <api key>`.");
  const match = API_KEY_PATTERN.exec(token);
  if (!match) throw unauthorized("The API key is not valid.");
  const row = await findApiKeyCredential(c.env.DB, match[1]!);
  const presented = toHex(await sha256(token));
  // Compare even when no row was found, so a miss costs the same as a wrong secret.
  const matches = await timingSafeEqualStrings(presented, row?.key_hash ?? "0".repeat(64));
  if (!row || !matches) throw unauthorized("The API key is not valid.");
  // Only the holder of the whole key learns it was revoked.
  if (row.revoked_at !== null) throw unauthorized("The API key has been revoked.");
  // Anything but an explicit write key is read-only: an unknown scope fails closed.
  if (row.scope !== "write" && isWrite(c.req.method, c.req.path)) {
    throw forbidden(`The API key is read-only (scope \`read\`): it may not ${c.req.method} ${c.req.path}. Use a key with scope \`write\`.`);
  }
  c.set("teamId", row.team_id);
  await next();
};
