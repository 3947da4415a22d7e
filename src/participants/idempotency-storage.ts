/** The `idempotency_keys` table: recorded answers of data writes made with an `Idempotency-Key`. */
import { problem } from "../shared/problem";
import { IDEMPOTENCY_TTL_MS, type IdempotencyRequest, type StoredResponse } from "./idempotency";
import { LAST_WRITE_GUARD } from "./storage";

type KeyRow = { fingerprint: string; status: number; response: string; expires_at: string };

/** The recorded response of a live key, or null; 422 where the key was used for another request. */
export async function findRecordedResponse(db: D1Database, request: IdempotencyRequest, now: string): Promise<StoredResponse | null> {
  const row = await db
    .prepare("SELECT fingerprint, status, response, expires_at FROM idempotency_keys WHERE team_id = ? AND key = ?")
    .bind(request.teamId, request.key)
    .first<KeyRow>();
  if (!row || row.expires_at <= now) return null;
  if (row.fingerprint !== request.fingerprint) {
    throw problem(
      "idempotency-key-reused",
      "This Idempotency-Key was already used for a different request (method, path or body differ). Use a new key for a new request.",
    );
  }
  return { status: row.status, body: JSON.parse(row.response) as Record<string, unknown> };
}

/** Frees the key where its earlier record has expired, so it may be inserted again. */
export function deleteExpiredKey(db: D1Database, request: IdempotencyRequest, now: string): D1PreparedStatement {
  return db
    .prepare("DELETE FROM idempotency_keys WHERE team_id = ? AND key = ? AND expires_at <= ?")
    .bind(request.teamId, request.key, now);
}

/**
 * Records the response. With `guard`, the row is inserted only where that participant's
 * last write is `writeId`, i.e. where the write in the same batch won its version race.
 */
export function recordResponse(
  db: D1Database,
  request: IdempotencyRequest,
  response: StoredResponse,
  now: Date,
  guard?: { participantId: string; writeId: string },
): D1PreparedStatement {
  const values = [
    request.teamId,
    request.key,
    request.fingerprint,
    response.status,
    JSON.stringify(response.body),
    now.toISOString(),
    new Date(now.getTime() + IDEMPOTENCY_TTL_MS).toISOString(),
  ];
  const insert = "INSERT INTO idempotency_keys (team_id, key, fingerprint, status, response, created_at, expires_at)";
  if (!guard) return db.prepare(`${insert} VALUES (?, ?, ?, ?, ?, ?, ?)`).bind(...values);
  return db.prepare(`${insert} SELECT ?, ?, ?, ?, ?, ?, ? WHERE ${LAST_WRITE_GUARD}`).bind(...values, guard.participantId, guard.writeId);
}

export const isIdempotencyConflict = (error: unknown) =>
  error instanceof Error && /UNIQUE constraint failed: idempotency_keys/i.test(error.message);

/** Deletes a bounded batch of expired keys (run in the background after idempotent writes). */
export async function purgeExpiredKeys(db: D1Database, now: string): Promise<void> {
  await db
    .prepare(
      "DELETE FROM idempotency_keys WHERE (team_id, key) IN (SELECT team_id, key FROM idempotency_keys WHERE expires_at <= ? LIMIT 500)",
    )
    .bind(now)
    .run();
}
