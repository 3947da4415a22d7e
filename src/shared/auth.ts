import type { MiddlewareHandler } from "hono";
import { fromBase64Url, timingSafeEqualStrings, toBase64Url } from "./encoding";
import type { AppEnv } from "./hono-env";
import { unauthorized } from "./problem";

/** The credential of an `Authorization: Bearer <credential>` header, or null. */
export function bearer(header: string | undefined): string | null {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return match ? match[1]! : null;
}

/** Admin routes: the deployment's ADMIN_TOKEN. An unset token refuses everyone. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearer(c.req.header("Authorization"));
  if (!token) throw unauthorized("Send the deployment's admin token as `Authorization: Bearer <ADMIN_TOKEN>`.");
  const expected = c.env.ADMIN_TOKEN;
  if (!expected || !(await timingSafeEqualStrings(token, expected))) throw unauthorized("The admin token is not valid.");
  await next();
};

// Conversation tokens: `<payload>.<signature>`, both base64url, HMAC-SHA-256 with
// TOKEN_SECRET. Checked without any database read and bound to one conversation.
export type ConversationClaims = {
  /** conversation id */ c: string;
  /** chatbot id */ b: string;
  /** team id */ t: string;
  /** participant id */ p: string;
};

const keyCache = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keyCache.set(secret, key);
  }
  return key;
}

function requireSecret(secret: string | undefined): string {
  if (!secret) throw new Error("TOKEN_SECRET is not configured");
  return secret;
}

/** The base64url HMAC-SHA-256 of `text` under TOKEN_SECRET (43 characters). */
export async function signText(secret: string | undefined, text: string): Promise<string> {
  const signature = await crypto.subtle.sign("HMAC", await hmacKey(requireSecret(secret)), new TextEncoder().encode(text));
  return toBase64Url(signature);
}

/** Whether `signatureText` is the canonical signature of `text` under TOKEN_SECRET. */
export async function verifyTextSignature(secret: string | undefined, text: string, signatureText: string): Promise<boolean> {
  const signature = fromBase64Url(signatureText);
  // Only the canonical spelling: the last character's spare bits would otherwise let
  // several different strings pass for one signature.
  if (signature?.byteLength !== 32 || toBase64Url(signature) !== signatureText) return false;
  return crypto.subtle.verify("HMAC", await hmacKey(requireSecret(secret)), signature, new TextEncoder().encode(text));
}

export async function signConversationToken(secret: string | undefined, claims: ConversationClaims): Promise<string> {
  const payload = toBase64Url(new TextEncoder().encode(JSON.stringify({ v: 1, ...claims })));
  return `${payload}.${await signText(secret, payload)}`;
}

// A widget sends the same token with every message: remember the ones already
// verified (with the secret that verified them) so a message skips the HMAC. Only
// genuine tokens enter; the oldest leave first once the isolate holds this many.
const VERIFIED_TOKENS_MAX = 10_000;
const verifiedTokens = new Map<string, { secret: string; claims: ConversationClaims }>();

/** Returns the claims of a genuine token, or null for anything forged or malformed. */
export async function verifyConversationToken(secret: string | undefined, token: string): Promise<ConversationClaims | null> {
  const known = verifiedTokens.get(token);
  if (known && known.secret === secret) return known.claims;
  const claims = await verifyTokenSignature(secret, token);
  if (claims) {
    if (verifiedTokens.size >= VERIFIED_TOKENS_MAX) verifiedTokens.delete(verifiedTokens.keys().next().value!);
    verifiedTokens.set(token, { secret: secret!, claims });
  }
  return claims;
}

async function verifyTokenSignature(secret: string | undefined, token: string): Promise<ConversationClaims | null> {
  const parts = token.split(".");
  if (parts.length !== 2) return null;
  const [payload, signatureText] = parts as [string, string];
  if (!(await verifyTextSignature(secret, payload, signatureText))) return null;
  const bytes = fromBase64Url(payload);
  if (!bytes) return null;
  try {
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    if (claims?.v !== 1 || [claims.c, claims.b, claims.t, claims.p].some((v) => typeof v !== "string")) return null;
    return { c: claims.c, b: claims.b, t: claims.t, p: claims.p };
  } catch {
    return null;
  }
}
