/** The `api_keys` table: one row per key, holding only the SHA-256 hash of the secret. */

type ApiKeyRow = { id: string; team_id: string; key_hash: string; created_at: string };

export function insertApiKey(db: D1Database, row: ApiKeyRow): D1PreparedStatement {
  return db
    .prepare("INSERT INTO api_keys (id, team_id, key_hash, created_at) VALUES (?, ?, ?, ?)")
    .bind(row.id, row.team_id, row.key_hash, row.created_at);
}

export function findApiKey(db: D1Database, id: string): Promise<Pick<ApiKeyRow, "team_id" | "key_hash"> | null> {
  return db.prepare("SELECT team_id, key_hash FROM api_keys WHERE id = ?").bind(id).first<Pick<ApiKeyRow, "team_id" | "key_hash">>();
}
