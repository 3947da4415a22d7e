import type { MiddlewareHandler } from "hono";
import { bearer } from "../shared/auth";
import { sha256, timingSafeEqualStrings, toBase64Url, toHex } from "../shared/encoding";
import type { ApiEnv } from "../shared/hono-env";
import { unauthorized } from "../shared/problem";
import { findApiKey } from "./storage";

// API keys look like `cck_<key id>_<secret>`: the id finds the row, the secret's
// hash is compared in constant time, and only the hash is stored.
const API_KEY_PATTERN = /^cck_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** A new key: `key` is shown to its owner once; only `hash` is stored. */
export async function createApiKey(): Promise<{ id: string; key: string; hash: string }> {
  const id = toHex(crypto.getRandomValues(new Uint8Array(8)).buffer as ArrayBuffer);
  const secret = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const key = `cck_${id}_${secret}`;
  return { id, key, hash: toHex(await sha256(key)) };
}

/** API routes: a team API key. Sets `teamId` for the route. */
export const requireApiKey: MiddlewareHandler<ApiEnv> = async (c, next) => {
  const token = bearer(c.req.header("Authorization"));
  if (!token) throw unauthorized("Send a team API key as `Authorization: Bearer <api key>`.");
  const match = API_KEY_PATTERN.exec(token);
  if (!match) throw unauthorized("The API key is not valid.");
  const row = await findApiKey(c.env.DB, match[1]!);
  const presented = toHex(await sha256(token));
  // Compare even when no row was found, so a miss costs the same as a wrong secret.
  const matches = await timingSafeEqualStrings(presented, row?.key_hash ?? "0".repeat(64));
  if (!row || !matches) throw unauthorized("The API key is not valid.");
  c.set("teamId", row.team_id);
  await next();
};
