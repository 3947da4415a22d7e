/**
 * Identity tokens: the site proves who a visitor is with a JWT signed HS256 with the
 * chatbot's identity secret (claims `sub`, `exp`, `iat`, optional `email`, `name`,
 * `phone`). Checked with `jose`. A token whose lifetime exceeds 7 days, or with no
 * `iat`, is refused: unlike a bare HMAC of an id, a leaked token expires.
 */
import { jwtVerify } from "jose";
import { openSecret } from "../chatbots/identity-secret";
import type { Chatbot } from "../chatbots/storage";
import { normalizeCustomerField } from "../conversations/customer-fields";
import type { VerifiedIdentity } from "../conversations/model";

const MAX_LIFETIME_SECONDS = 7 * 24 * 60 * 60;
/** After a rotation the previous secret still verifies for this long, so sites can roll over. */
export const ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;
const TOKEN_MAX_LENGTH = 4096;
const CLOCK_TOLERANCE_SECONDS = 30;

/** The secrets a token may be signed with now: the current one, and the previous within its grace period. */
async function secretsOf(chatbot: Pick<Chatbot, "identity_secrets">, tokenSecret: string | undefined, now: number): Promise<string[]> {
  const { current, previous, rotated_at } = chatbot.identity_secrets;
  const sealed = [current];
  if (previous && rotated_at && now - Date.parse(rotated_at) < ROTATION_GRACE_MS) sealed.push(previous);
  const secrets = await Promise.all(sealed.filter((s): s is string => s !== null).map((s) => openSecret(tokenSecret, s)));
  return secrets.filter((s): s is string => s !== null);
}

/** The verified identity a token proves for this chatbot, or null for anything invalid, expired or foreign. */
export async function verifyIdentityToken(
  token: unknown,
  chatbot: Pick<Chatbot, "identity_secrets">,
  tokenSecret: string | undefined,
  now = Date.now(),
): Promise<VerifiedIdentity | null> {
  if (typeof token !== "string" || token.length === 0 || token.length > TOKEN_MAX_LENGTH) return null;
  for (const secret of await secretsOf(chatbot, tokenSecret, now)) {
    try {
      const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
        algorithms: ["HS256"],
        requiredClaims: ["sub", "exp", "iat"],
        currentDate: new Date(now),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      const { sub, exp, iat } = payload;
      if (typeof sub !== "string" || sub.length < 1 || [...sub].length > 255) return null;
      if (typeof exp !== "number" || typeof iat !== "number" || exp - iat > MAX_LIFETIME_SECONDS) return null;
      const claims: VerifiedIdentity["claims"] = {};
      for (const field of ["name", "email", "phone"] as const) {
        const value = payload[field];
        if (typeof value !== "string") continue;
        const normalized = normalizeCustomerField(field, value);
        if (normalized.ok) claims[field] = normalized.value;
      }
      return { sub, claims };
    } catch {
      // Not signed with this secret (or invalid): try the next one.
    }
  }
  return null;
}
