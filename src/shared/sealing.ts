/**
 * Secrets the service must use again later (an identity secret checks tokens, a webhook
 * secret signs deliveries) are stored sealed with AES-GCM under a key derived from
 * TOKEN_SECRET by HKDF, one key per purpose: a copy of the database alone reveals none of
 * them. Rotating TOKEN_SECRET therefore makes every sealed secret unreadable.
 */
import { fromBase64Url, toBase64Url } from "./encoding";

/** The HKDF `info` of each kind of secret: a sealed value of one kind never opens as another. */
export type SealingPurpose = "chat-context identity secret v1" | "chat-context webhook secret v1";

const keys = new Map<string, Promise<CryptoKey>>();

function sealingKey(tokenSecret: string | undefined, purpose: SealingPurpose): Promise<CryptoKey> {
  if (!tokenSecret) throw new Error("TOKEN_SECRET is not configured");
  const cacheKey = `${purpose}\u0000${tokenSecret}`;
  let key = keys.get(cacheKey);
  if (!key) {
    key = (async () => {
      const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(tokenSecret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode(purpose) },
        material,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    keys.set(cacheKey, key);
  }
  return key;
}

/** `v1.<iv>.<ciphertext>`, both base64url. */
export async function seal(tokenSecret: string | undefined, purpose: SealingPurpose, secret: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await sealingKey(tokenSecret, purpose),
    new TextEncoder().encode(secret),
  );
  return `v1.${toBase64Url(iv)}.${toBase64Url(sealed)}`;
}

/** The secret, or null where it was sealed under another TOKEN_SECRET or purpose, or is damaged. */
export async function unseal(tokenSecret: string | undefined, purpose: SealingPurpose, sealed: string): Promise<string | null> {
  const [version, ivText, dataText] = sealed.split(".");
  const iv = fromBase64Url(ivText ?? "");
  const data = fromBase64Url(dataText ?? "");
  if (version !== "v1" || !iv || !data) return null;
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv }, await sealingKey(tokenSecret, purpose), data);
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
