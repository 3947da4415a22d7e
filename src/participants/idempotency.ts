import { sha256, toHex } from "../shared/encoding";
import { badRequest } from "../shared/problem";

/** Keys are kept this long after the write they record (the contract asks for at least 24 hours). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export type IdempotencyRequest = { teamId: string; key: string; fingerprint: string };
export type StoredResponse = { status: number; body: Record<string, unknown> };

/** What an idempotent request is: its key, and everything that says what it asks for. */
type IdempotentRequest = {
  teamId: string;
  key: string | undefined;
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
};

/**
 * The request's `Idempotency-Key`, with a fingerprint of what it asks for (method, path
 * and body): the same key sent with a different request is refused, not replayed.
 */
export async function idempotencyOf(request: IdempotentRequest): Promise<IdempotencyRequest | null> {
  const { key } = request;
  if (key === undefined) return null;
  if (!KEY_PATTERN.test(key)) throw badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).");
  const fingerprint = toHex(await sha256(`${request.method} ${request.path}\n${request.contentType ?? ""}\n${request.body}`));
  return { teamId: request.teamId, key, fingerprint };
}
