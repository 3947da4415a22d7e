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

/** The actions a chatbot's page lists: its own and those for every chatbot, oldest first (the team holds at most 100). */
export async function listChatbotActions(db: D1Database, teamId: string, chatbotId: string, limit: number): Promise<Action[]> {
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM actions WHERE team_id = ? AND (chatbot_id = ? OR chatbot_id IS NULL) ORDER BY id LIMIT ?`)
    .bind(teamId, chatbotId, limit)
    .all<ActionRow>();
  return results.map(fromRow);
}

// ---- action_runs: the last runs of each action, with their logs ---------------------------

/** Runs kept per action: recording one deletes the older ones in the same batch. */
export const RUNS_KEPT_PER_ACTION = 20;
/** Characters kept of a run's result (its JSON text) or error. */
export const RUN_TEXT_MAX_CHARS = 4_000;
/** Log lines kept of a run, and characters of each. */
export const RUN_LOG_MAX_LINES = 50;
export const RUN_LOG_LINE_MAX_CHARS = 500;

export type ActionRun = {
  id: string;
  team_id: string;
  action_id: string;
  version: number;
  conversation_id: string | null;
  status: "ok" | "failed";
  /** The result's JSON text (cut at RUN_TEXT_MAX_CHARS, so perhaps no longer JSON), where ok. */
  result: string | null;
  error: string | null;
  logs: string[];
  duration_ms: number;
  created_at: string;
};

type ActionRunRow = Omit<ActionRun, "logs"> & { logs: string };

const RUN_COLUMNS = "id, team_id, action_id, version, conversation_id, status, result, error, logs, duration_ms, created_at";

const cut = (value: string | null, max: number) => (value === null || value.length <= max ? value : `${value.slice(0, max - 1)}…`);

/**
 * Records a run and deletes all but the newest RUNS_KEPT_PER_ACTION of its action, in one
 * batch. Texts are cut here, so a caller cannot store more than the bounds whatever it passes.
 */
export async function recordActionRun(db: D1Database, run: ActionRun): Promise<void> {
  const logs = run.logs.slice(0, RUN_LOG_MAX_LINES).map((line) => cut(line, RUN_LOG_LINE_MAX_CHARS) as string);
  await db.batch([
    db
      .prepare(`INSERT INTO action_runs (${RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .bind(
        run.id,
        run.team_id,
        run.action_id,
        run.version,
        run.conversation_id,
        run.status,
        cut(run.result, RUN_TEXT_MAX_CHARS),
        cut(run.error, RUN_TEXT_MAX_CHARS),
        JSON.stringify(logs),
        run.duration_ms,
        run.created_at,
      ),
    db
      .prepare(
        `DELETE FROM action_runs WHERE action_id = ? AND id NOT IN
           (SELECT id FROM action_runs WHERE action_id = ? ORDER BY id DESC LIMIT ?)`,
      )
      .bind(run.action_id, run.action_id, RUNS_KEPT_PER_ACTION),
  ]);
}

/** The newest `perAction` runs of each of the team's actions named, newest first, in one statement. */
export async function listRecentActionRuns(
  db: D1Database,
  teamId: string,
  actionIds: string[],
  perAction: number,
): Promise<Map<string, ActionRun[]>> {
  const runs = new Map<string, ActionRun[]>(actionIds.map((id) => [id, []]));
  if (actionIds.length === 0) return runs;
  const { results } = await db
    .prepare(
      `SELECT ${RUN_COLUMNS} FROM (
         SELECT ${RUN_COLUMNS}, ROW_NUMBER() OVER (PARTITION BY action_id ORDER BY id DESC) AS n
         FROM action_runs WHERE team_id = ? AND action_id IN (SELECT value FROM json_each(?))
       ) WHERE n <= ? ORDER BY action_id, id DESC`,
    )
    .bind(teamId, JSON.stringify(actionIds), perAction)
    .all<ActionRunRow>();
  for (const row of results) runs.get(row.action_id)?.push({ ...row, logs: JSON.parse(row.logs) as string[] });
  return runs;
}
