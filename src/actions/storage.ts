/** The `actions` table: each team's custom actions, their code and its version. */

export type Action = {
  id: string;
  team_id: string;
  chatbot_id: string | null;
  name: string;
  code: string;
  version: number;
  allowed_hosts: string[];
  timeout_ms: number;
  created_at: string;
  updated_at: string;
};

type ActionRow = Omit<Action, "allowed_hosts"> & { allowed_hosts: string };

const fromRow = (row: ActionRow): Action => ({ ...row, allowed_hosts: JSON.parse(row.allowed_hosts) as string[] });

const COLUMNS = "id, team_id, chatbot_id, name, code, version, allowed_hosts, timeout_ms, created_at, updated_at";

/** What the API shows of an action; `code` only where `withCode` (one action, not a list). */
export function presentAction(action: Action, withCode: boolean) {
  const { id, name, chatbot_id, version, allowed_hosts, timeout_ms, created_at, updated_at } = action;
  const shown = { id, name, chatbot_id, version, allowed_hosts, timeout_ms, created_at, updated_at };
  return withCode ? { ...shown, code: action.code } : shown;
}

/** Inserts the action unless the team already holds `limit`; false then. */
export async function insertActionWithinLimit(db: D1Database, action: Action, limit: number): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO actions (${COLUMNS})
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
       WHERE (SELECT COUNT(*) FROM actions WHERE team_id = ?) < ?`,
    )
    .bind(
      action.id,
      action.team_id,
      action.chatbot_id,
      action.name,
      action.code,
      action.version,
      JSON.stringify(action.allowed_hosts),
      action.timeout_ms,
      action.created_at,
      action.updated_at,
      action.team_id,
      limit,
    )
    .run();
  return result.meta.changes > 0;
}

/** The team's action, or null (another team's too). */
export async function findTeamAction(db: D1Database, teamId: string, id: string): Promise<Action | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM actions WHERE id = ? AND team_id = ?`).bind(id, teamId).first<ActionRow>();
  return row ? fromRow(row) : null;
}

/** The team's actions, oldest first. */
export async function listTeamActions(db: D1Database, teamId: string): Promise<Action[]> {
  const { results } = await db.prepare(`SELECT ${COLUMNS} FROM actions WHERE team_id = ? ORDER BY id`).bind(teamId).all<ActionRow>();
  return results.map(fromRow);
}

/**
 * Writes an edit made from `expectedVersion`; false when another edit landed first (the
 * caller reads again). The version is the caller's: it grows when code or hosts change.
 */
export async function updateAction(db: D1Database, action: Action, expectedVersion: number): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE actions SET name = ?, chatbot_id = ?, code = ?, version = ?, allowed_hosts = ?, timeout_ms = ?, updated_at = ?
       WHERE id = ? AND team_id = ? AND version = ?`,
    )
    .bind(
      action.name,
      action.chatbot_id,
      action.code,
      action.version,
      JSON.stringify(action.allowed_hosts),
      action.timeout_ms,
      action.updated_at,
      action.id,
      action.team_id,
      expectedVersion,
    )
    .run();
  return result.meta.changes > 0;
}

export async function deleteAction(db: D1Database, teamId: string, id: string): Promise<boolean> {
  const result = await db.prepare("DELETE FROM actions WHERE id = ? AND team_id = ?").bind(id, teamId).run();
  return result.meta.changes > 0;
}
