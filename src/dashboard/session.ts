/**
 * Dashboard sessions: a signed cookie naming the team and the API key that signed in,
 * `v1.<payload>.<signature>` (HMAC-SHA-256 under TOKEN_SECRET, domain-separated from
 * conversation tokens). At most 12 hours. The key is checked live on every request, so
 * revoking it ends its sessions at once; nothing else is stored server-side.
 */
import { signText, verifyTextSignature } from "../shared/auth";
import { fromBase64Url, toBase64Url } from "../shared/encoding";

export const SESSION_COOKIE = "cc_session";
export const SESSION_MAX_AGE_SECONDS = 12 * 60 * 60;

export type Session = { teamId: string; keyId: string; expiresAt: number };

const signed = (payload: string) => `dashboard-session:${payload}`;

export async function signSession(secret: string | undefined, session: Session): Promise<string> {
  const payload = toBase64Url(new TextEncoder().encode(JSON.stringify({ t: session.teamId, k: session.keyId, e: session.expiresAt })));
  return `v1.${payload}.${await signText(secret, signed(payload))}`;
}

/** The session a cookie value holds: null where forged or malformed, `expired` where past its time. */
export async function verifySession(secret: string | undefined, value: string, now = Date.now()): Promise<Session | "expired" | null> {
  const [version, payload, signature] = value.split(".");
  if (version !== "v1" || !payload || !signature) return null;
  if (!(await verifyTextSignature(secret, signed(payload), signature))) return null;
  const bytes = fromBase64Url(payload);
  if (!bytes) return null;
  try {
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof claims?.t !== "string" || typeof claims.k !== "string" || typeof claims.e !== "number") return null;
    if (claims.e * 1000 <= now) return "expired";
    return { teamId: claims.t, keyId: claims.k, expiresAt: claims.e };
  } catch {
    return null;
  }
}

/** The cookie's attributes: HttpOnly, SameSite=Strict, Secure on https. */
export function sessionCookieOptions(url: string, maxAge: number) {
  return { path: "/", httpOnly: true, sameSite: "Strict", secure: new URL(url).protocol === "https:", maxAge } as const;
}
