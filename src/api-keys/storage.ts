/**
 * The `api_keys` table: one row per key, holding only the SHA-256 hash of the secret, its
 * name and scope, and `revoked_at` once revoked (the row is kept; the key never works again).
 */

export type ApiKeyScope = "write" | "read";

type ApiKeyRow = {
  id: string;
  team_id: string;
  key_hash: string;
  name: string;
  scope: ApiKeyScope;
  created_at: string;
  revoked_at: string | null;
};

type NewApiKey = Pick<ApiKeyRow, "id" | "team_id" | "key_hash" | "created_at"> & Partial<Pick<ApiKeyRow, "name" | "scope">>;

/** What a team sees of its keys: never the hash. */
export type ApiKeySummary = Pick<ApiKeyRow, "id" | "name" | "scope" | "created_at">;

/** What authenticating a request needs of a key. */
export type ApiKeyCredential = Pick<ApiKeyRow, "team_id" | "key_hash" | "scope" | "revoked_at">;

/** A team's key, unconditionally; a new team's first key takes the defaults (a write key named "Initial key"). */
export function insertApiKey(db: D1Database, row: NewApiKey): D1PreparedStatement {
  return db
    .prepare("INSERT INTO api_keys (id, team_id, key_hash, name, scope, created_at) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(row.id, row.team_id, row.key_hash, row.name ?? "Initial key", row.scope ?? "write", row.created_at);
}

/**
 * Inserts the key only while the team holds fewer than `maxLive` live keys; false where it
 * holds that many. One statement, so concurrent creates cannot pass the limit together.
 */
export async function insertApiKeyWithinLimit(db: D1Database, row: Omit<ApiKeyRow, "revoked_at">, maxLive: number): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO api_keys (id, team_id, key_hash, name, scope, created_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6
       WHERE (SELECT COUNT(*) FROM api_keys WHERE team_id = ?2 AND revoked_at IS NULL) < ?7`,
    )
    .bind(row.id, row.team_id, row.key_hash, row.name, row.scope, row.created_at, maxLive)
    .run();
  return result.meta.changes === 1;
}

/** Everything `requireApiKey` checks, in the one row read a request costs; revoked keys too, so they can be told apart. */
export function findApiKeyCredential(db: D1Database, id: string): Promise<ApiKeyCredential | null> {
  return db.prepare("SELECT team_id, key_hash, scope, revoked_at FROM api_keys WHERE id = ?").bind(id).first<ApiKeyCredential>();
}

/** The team's live keys, oldest first. */
export async function listLiveApiKeys(db: D1Database, teamId: string): Promise<ApiKeySummary[]> {
  const { results } = await db
    .prepare("SELECT id, name, scope, created_at FROM api_keys WHERE team_id = ? AND revoked_at IS NULL ORDER BY created_at, id")
    .bind(teamId)
    .all<ApiKeySummary>();
  return results;
}

/** Revokes the team's live key `id`; false where there is none (another team's, already revoked, or no such id). */
export async function revokeApiKey(db: D1Database, teamId: string, id: string, revokedAt: string): Promise<boolean> {
  const result = await db
    .prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND team_id = ? AND revoked_at IS NULL")
    .bind(revokedAt, id, teamId)
    .run();
  return result.meta.changes === 1;
}
