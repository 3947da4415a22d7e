/**
 * A chatbot's identity secret signs the site's identity tokens (HS256), so checking a
 * token needs the secret itself. It is stored sealed (src/shared/sealing.ts) under a key
 * derived from TOKEN_SECRET: a copy of the database alone does not reveal it. Rotating
 * TOKEN_SECRET therefore needs new identity secrets (docs/identity.md).
 */
import { toBase64Url } from "../shared/encoding";
import { seal, unseal } from "../shared/sealing";

const PURPOSE = "chat-context identity secret v1";

/** A new secret as shown to its owner once: `cis_` and 43 characters of base64url (256 bits). */
export function newIdentitySecret(): string {
  return `cis_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

export function sealSecret(tokenSecret: string | undefined, secret: string): Promise<string> {
  return seal(tokenSecret, PURPOSE, secret);
}

/** The secret, or null where it was sealed under another TOKEN_SECRET or is damaged. */
export function openSecret(tokenSecret: string | undefined, sealed: string): Promise<string | null> {
  return unseal(tokenSecret, PURPOSE, sealed);
}
