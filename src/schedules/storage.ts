/**
 * The `schedules` table: every statement that reads or writes it. The routes write what a
 * team asks for; the participant's ScheduleObject reads what is due and records firings.
 */
import type { Every, EveryUnit } from "./recurrence";

export type ScheduleStatus = "active" | "completed" | "cancelled";

export type ScheduleRow = {
  id: string;
  team_id: string;
  chatbot_id: string;
  participant_id: string;
  name: string;
  message: string;
  anchor: string;
  timezone: string;
  every_count: number | null;
  every_unit: EveryUnit | null;
  repetitions: number | null;
  end_at: string | null;
  occurrence: number;
  next_due_at: string | null;
  fired_count: number;
  skipped_count: number;
  last_fired_at: string | null;
  status: ScheduleStatus;
  created_at: string;
  updated_at: string;
};

export type Schedule = {
  id: string;
  participant_id: string;
  name: string;
  message: string;
  next_due_at: string | null;
  every: Every | null;
  repetitions: number | null;
  end_at: string | null;
  timezone: string;
  fired_count: number;
  skipped_count: number;
  last_fired_at: string | null;
  status: ScheduleStatus;
  created_at: string;
  updated_at: string;
};

const COLUMNS =
  "id, team_id, chatbot_id, participant_id, name, message, anchor, timezone, every_count, every_unit, repetitions, end_at, occurrence, next_due_at, fired_count, skipped_count, last_fired_at, status, created_at, updated_at";

export const everyOf = (row: Pick<ScheduleRow, "every_count" | "every_unit">): Every | null =>
  row.every_count !== null && row.every_unit !== null ? { count: row.every_count, unit: row.every_unit } : null;

/** The public representation: the owning team is implied by the key that reads it. */
export function presentSchedule(row: ScheduleRow): Schedule {
  return {
    id: row.id,
    participant_id: row.participant_id,
    name: row.name,
    message: row.message,
    next_due_at: row.next_due_at,
    every: everyOf(row),
    repetitions: row.repetitions,
    end_at: row.end_at,
    timezone: row.timezone,
    fired_count: row.fired_count,
    skipped_count: row.skipped_count,
    last_fired_at: row.last_fired_at,
    status: row.status,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

// ---- the routes ------------------------------------------------------------------

/**
 * Inserts an active schedule unless its participant already has `maxActive` active ones;
 * the count and the insert are one statement, so concurrent creates cannot pass the cap.
 * No row changed means the cap held.
 */
export function insertSchedule(db: D1Database, row: ScheduleRow, maxActive: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO schedules (${COLUMNS})
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20
       WHERE (SELECT COUNT(*) FROM schedules WHERE participant_id = ?4 AND status = 'active') < ?21`,
    )
    .bind(
      row.id,
      row.team_id,
      row.chatbot_id,
      row.participant_id,
      row.name,
      row.message,
      row.anchor,
      row.timezone,
      row.every_count,
      row.every_unit,
      row.repetitions,
      row.end_at,
      row.occurrence,
      row.next_due_at,
      row.fired_count,
      row.skipped_count,
      row.last_fired_at,
      row.status,
      row.created_at,
      row.updated_at,
      maxActive,
    );
}

/** The team's schedule of this participant, or null: another team's or participant's is as absent as a missing one. */
export async function findTeamSchedule(db: D1Database, teamId: string, participantId: string, id: string): Promise<ScheduleRow | null> {
  return db
    .prepare(`SELECT ${COLUMNS} FROM schedules WHERE id = ? AND participant_id = ? AND team_id = ?`)
    .bind(id, participantId, teamId)
    .first<ScheduleRow>();
}

/** One page of a participant's schedules, newest first (ids are time-ordered). */
export async function listParticipantSchedules(
  db: D1Database,
  filter: { teamId: string; participantId: string; status?: ScheduleStatus; cursor?: string; limit: number },
): Promise<{ rows: ScheduleRow[]; nextCursor: string | null }> {
  const where = ["participant_id = ?", "team_id = ?"];
  const params: unknown[] = [filter.participantId, filter.teamId];
  if (filter.status) {
    where.push("status = ?");
    params.push(filter.status);
  }
  if (filter.cursor) {
    where.push("id < ?");
    params.push(filter.cursor);
  }
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM schedules WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT ?`)
    .bind(...params, filter.limit + 1)
    .all<ScheduleRow>();
  const rows = results.slice(0, filter.limit);
  return { rows, nextCursor: results.length > filter.limit ? rows.at(-1)!.id : null };
}

export type ScheduleChanges = {
  name?: string;
  message?: string;
  /** A new first due time: the series starts over from it (occurrence 0). */
  reanchor?: { anchor: string; timezone: string; nextDueAt: string };
};

/**
 * Changes an active schedule and answers the row as it now is, or null where it is not
 * active any more (cancelled or completed meanwhile): nothing is written then.
 */
export async function updateActiveSchedule(
  db: D1Database,
  key: { id: string; teamId: string },
  changes: ScheduleChanges,
  now: string,
): Promise<ScheduleRow | null> {
  const sets = ["updated_at = ?"];
  const params: unknown[] = [now];
  if (changes.name !== undefined) {
    sets.push("name = ?");
    params.push(changes.name);
  }
  if (changes.message !== undefined) {
    sets.push("message = ?");
    params.push(changes.message);
  }
  if (changes.reanchor) {
    sets.push("anchor = ?", "timezone = ?", "next_due_at = ?", "occurrence = 0");
    params.push(changes.reanchor.anchor, changes.reanchor.timezone, changes.reanchor.nextDueAt);
  }
  return db
    .prepare(`UPDATE schedules SET ${sets.join(", ")} WHERE id = ? AND team_id = ? AND status = 'active' RETURNING ${COLUMNS}`)
    .bind(...params, key.id, key.teamId)
    .first<ScheduleRow>();
}

/** Cancels an active schedule, keeping its row and counts; null where it was not active. */
export async function cancelSchedule(db: D1Database, key: { id: string; teamId: string }, now: string): Promise<ScheduleRow | null> {
  return db
    .prepare(
      `UPDATE schedules SET status = 'cancelled', next_due_at = NULL, updated_at = ?
       WHERE id = ? AND team_id = ? AND status = 'active' RETURNING ${COLUMNS}`,
    )
    .bind(now, key.id, key.teamId)
    .first<ScheduleRow>();
}

/** Removes a schedule the request created but could not arm: the create is undone, so a retry is clean. */
export function deleteSchedule(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM schedules WHERE id = ?").bind(id);
}

// ---- the participant's ScheduleObject ---------------------------------------------

/** The participant's active schedules due at `now` or before, earliest first (index `schedules_by_participant_status`). */
export async function listDueSchedules(db: D1Database, participantId: string, now: string, limit: number): Promise<ScheduleRow[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM schedules WHERE participant_id = ? AND status = 'active' AND next_due_at <= ?
       ORDER BY next_due_at LIMIT ?`,
    )
    .bind(participantId, now, limit)
    .all<ScheduleRow>();
  return results;
}

/** When the participant's next active schedule falls due, or null where none is active. */
export async function findEarliestDue(db: D1Database, participantId: string): Promise<string | null> {
  const row = await db
    .prepare("SELECT MIN(next_due_at) AS due FROM schedules WHERE participant_id = ? AND status = 'active'")
    .bind(participantId)
    .first<{ due: string | null }>();
  return row?.due ?? null;
}

export type Firing = {
  /** The row as the firing read it: the write applies only while it is still so. */
  id: string;
  firedCount: number;
  dueAt: string;
  anchor: string;
  skipped: boolean;
  firedAt: string;
  /** What follows: the next occurrence, or none (completed). */
  next: { occurrence: number; dueAt: string } | null;
};

/**
 * Records one firing, once: guarded by the fired count it was read with, so a retried
 * alarm never counts it twice (no row changed then). The series moves on only where
 * nobody moved or cancelled it meanwhile; the firing counts either way, as it happened.
 */
export function recordFiring(db: D1Database, firing: Firing): D1PreparedStatement {
  const unchanged = "status = 'active' AND next_due_at = ?4 AND anchor = ?5";
  return db
    .prepare(
      `UPDATE schedules SET
         fired_count = fired_count + 1,
         skipped_count = skipped_count + ?2,
         last_fired_at = ?3,
         occurrence = CASE WHEN ${unchanged} THEN COALESCE(?6, occurrence) ELSE occurrence END,
         next_due_at = CASE WHEN ${unchanged} THEN ?7 ELSE next_due_at END,
         status = CASE WHEN ${unchanged} THEN ?8 ELSE status END,
         updated_at = ?3
       WHERE id = ?1 AND fired_count = ?9`,
    )
    .bind(
      firing.id,
      firing.skipped ? 1 : 0,
      firing.firedAt,
      firing.dueAt,
      firing.anchor,
      firing.next?.occurrence ?? null,
      firing.next?.dueAt ?? null,
      firing.next ? "active" : "completed",
      firing.firedCount,
    );
}

// ---- the dashboard's participant page --------------------------------------------

/**
 * What the participant's page lists: the active schedules soonest first (at most
 * `activeLimit`; the routes cap them per participant), then the newest `finishedLimit`
 * completed or cancelled ones, in one statement (each part one range of an index).
 * `moreFinished` says older finished ones exist.
 */
export async function listScheduleOverview(
  db: D1Database,
  filter: { teamId: string; participantId: string; activeLimit: number; finishedLimit: number },
): Promise<{ active: ScheduleRow[]; finished: ScheduleRow[]; moreFinished: boolean }> {
  const { results } = await db
    .prepare(
      `SELECT * FROM (SELECT ${COLUMNS} FROM schedules WHERE participant_id = ?1 AND status = 'active' AND team_id = ?2
         ORDER BY next_due_at LIMIT ?3)
       UNION ALL
       SELECT * FROM (SELECT ${COLUMNS} FROM schedules WHERE participant_id = ?1 AND status != 'active' AND team_id = ?2
         ORDER BY id DESC LIMIT ?4)`,
    )
    .bind(filter.participantId, filter.teamId, filter.activeLimit, filter.finishedLimit + 1)
    .all<ScheduleRow>();
  const active = results.filter((row) => row.status === "active");
  const finished = results.filter((row) => row.status !== "active");
  return { active, finished: finished.slice(0, filter.finishedLimit), moreFinished: finished.length > filter.finishedLimit };
}
