/**
 * Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` of
 * `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the base64-decoded part of the
 * `whsec_` secret. Receivers verify them with the reference libraries (`standardwebhooks`).
 */

import { seal, unseal } from "../shared/sealing";

export const SECRET_PREFIX = "whsec_";
const PURPOSE = "chat-context webhook secret v1";

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A new secret as shown to its owner once: `whsec_` and the standard base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

/** The `webhook-signature` header value for one attempt. */
export async function signDelivery(secret: string, id: string, timestampSeconds: number, body: string): Promise<string> {
  const keyBytes = fromBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** Signing needs the secret itself: it is stored sealed under a key derived from TOKEN_SECRET. */
export function sealWebhookSecret(tokenSecret: string | undefined, secret: string): Promise<string> {
  return seal(tokenSecret, PURPOSE, secret);
}

/** The secret, or null where TOKEN_SECRET changed since it was sealed. */
export function openWebhookSecret(tokenSecret: string | undefined, sealed: string): Promise<string | null> {
  return unseal(tokenSecret, PURPOSE, sealed);
}
