/** The `teams` table. */

type TeamRow = { id: string; name: string; created_at: string };

export function insertTeam(db: D1Database, row: TeamRow): D1PreparedStatement {
  return db.prepare("INSERT INTO teams (id, name, created_at) VALUES (?, ?, ?)").bind(row.id, row.name, row.created_at);
}
