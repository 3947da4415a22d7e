/**
 * A chatbot's identity secret signs the site's identity tokens (HS256), so checking a
 * token needs the secret itself. It is stored sealed with AES-GCM under a key derived
 * from TOKEN_SECRET: a copy of the database alone does not reveal it. Rotating
 * TOKEN_SECRET therefore needs new identity secrets (docs/identity.md).
 */
import { fromBase64Url, toBase64Url } from "../shared/encoding";

const keys = new Map<string, Promise<CryptoKey>>();

function sealingKey(tokenSecret: string | undefined): Promise<CryptoKey> {
  if (!tokenSecret) throw new Error("TOKEN_SECRET is not configured");
  let key = keys.get(tokenSecret);
  if (!key) {
    key = (async () => {
      const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(tokenSecret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("chat-context identity secret v1") },
        material,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    keys.set(tokenSecret, key);
  }
  return key;
}

/** A new secret as shown to its owner once: `cis_` and 43 characters of base64url (256 bits). */
export function newIdentitySecret(): string {
  return `cis_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

export async function sealSecret(tokenSecret: string | undefined, secret: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await sealingKey(tokenSecret), new TextEncoder().encode(secret));
  return `v1.${toBase64Url(iv)}.${toBase64Url(sealed)}`;
}

/** The secret, or null where it was sealed under another TOKEN_SECRET or is damaged. */
export async function openSecret(tokenSecret: string | undefined, sealed: string): Promise<string | null> {
  const [version, ivText, dataText] = sealed.split(".");
  const iv = fromBase64Url(ivText ?? "");
  const data = fromBase64Url(dataText ?? "");
  if (version !== "v1" || !iv || !data) return null;
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv }, await sealingKey(tokenSecret), data);
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
