import { Hono } from "hono";
import { z } from "zod";
import { MessageText } from "../conversations/model";
import { requireTeamParticipant } from "../participants/lookups";
import type { ParticipantRow } from "../participants/storage";
import { Cursor } from "../shared/cursor";
import { codePointLength } from "../shared/encoding";
import type { ApiEnv } from "../shared/hono-env";
import { ID_PATTERN, newId } from "../shared/ids";
import { limitBody, parseWith, readJson } from "../shared/json-body";
import { badRequest, type FieldError, notFound, problem } from "../shared/problem";
import { nowIso } from "../shared/time";
import { scheduleClient } from "./client";
import { anchorOf, EVERY_UNITS, isoOf, parseInstant, seriesTimezone } from "./recurrence";
import {
  cancelSchedule,
  deleteSchedule,
  findTeamSchedule,
  insertSchedule,
  listParticipantSchedules,
  presentSchedule,
  type ScheduleChanges,
  type ScheduleRow,
  updateActiveSchedule,
} from "./storage";

/** Limits of a schedule (docs/schedules.md). */
export const SCHEDULE_LIMITS = {
  nameCodePoints: 200,
  everyCount: 1_000,
  repetitions: 10_000,
  /** Active schedules per participant: each one is a firing the participant's object must serve. */
  activePerParticipant: 100,
  /** How far ahead `due_at` and `end_at` may lie. */
  horizonMs: 3_653 * 24 * 60 * 60 * 1000,
  /** How far behind `due_at` may lie (a client's clock running late): such a schedule fires at once. */
  pastToleranceMs: 5 * 60 * 1000,
} as const;

const BODY_MAX_BYTES = 64 * 1024;

const Name = z
  .string()
  .refine((text) => text.trim().length > 0, "must not be empty")
  .refine((text) => codePointLength(text) <= SCHEDULE_LIMITS.nameCodePoints, `must be at most ${SCHEDULE_LIMITS.nameCodePoints} characters`)
  .refine((text) => text.isWellFormed(), "must be well-formed Unicode");

const Instant = z.iso.datetime({ offset: true, error: "must be an RFC 3339 time with an offset, such as 2026-03-28T09:00:00+01:00" });

const Every = z.strictObject({
  count: z.number().int().min(1).max(SCHEDULE_LIMITS.everyCount),
  unit: z.enum(EVERY_UNITS),
});

const CreateSchedule = z
  .strictObject({
    name: Name,
    message: MessageText,
    due_at: Instant,
    every: Every.nullable().optional(),
    repetitions: z.number().int().min(1).max(SCHEDULE_LIMITS.repetitions).nullable().optional(),
    end_at: Instant.nullable().optional(),
  })
  .superRefine((input, context) => {
    if (input.every) return;
    for (const field of ["repetitions", "end_at"] as const) {
      if (input[field] !== undefined && input[field] !== null) {
        context.addIssue({ code: "custom", path: [field], message: "needs every: a one-off schedule fires once" });
      }
    }
  });

const UpdateSchedule = z.strictObject({ name: Name, message: MessageText, due_at: Instant }).partial();

const ListQuery = z.strictObject({
  status: z.enum(["active", "completed", "cancelled"]).optional(),
  cursor: Cursor.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** Checks of times against now and each other, which zod's schema cannot see: 400 naming the fields. */
function checkTimes(times: { dueAtMs?: number; endAtMs?: number | null }, now: number): void {
  const errors: FieldError[] = [];
  const horizon = now + SCHEDULE_LIMITS.horizonMs;
  if (times.dueAtMs !== undefined) {
    if (times.dueAtMs < now - SCHEDULE_LIMITS.pastToleranceMs) {
      errors.push({ pointer: "/due_at", message: "must not be more than 5 minutes in the past" });
    } else if (times.dueAtMs > horizon) {
      errors.push({ pointer: "/due_at", message: "must be at most 10 years ahead" });
    }
  }
  if (times.endAtMs !== undefined && times.endAtMs !== null) {
    if (times.endAtMs > horizon) errors.push({ pointer: "/end_at", message: "must be at most 10 years ahead" });
    else if (times.dueAtMs !== undefined && times.endAtMs < times.dueAtMs)
      errors.push({ pointer: "/end_at", message: "must not be before due_at" });
  }
  if (errors.length > 0) {
    const named = errors.map((error) => `${error.pointer}: ${error.message}`).join("; ");
    throw badRequest(`The request body failed validation: ${named}`, errors);
  }
}

/** An RFC 3339 text zod accepted, in ms; Temporal refusing it (a leap second) is the same 400. */
function instantOf(text: string, pointer: string): number {
  const ms = parseInstant(text);
  if (ms === null) {
    throw badRequest(`The request body failed validation: ${pointer}: is not a time that exists`, [
      { pointer, message: "is not a time that exists" },
    ]);
  }
  return ms;
}

async function requireSchedule(db: D1Database, teamId: string, participant: ParticipantRow, id: string): Promise<ScheduleRow> {
  const row = ID_PATTERN.test(id) ? await findTeamSchedule(db, teamId, participant.id, id) : null;
  if (!row) throw notFound("No schedule with that id.");
  return row;
}

/** The participant's object must ring by `dueAt`: where it cannot be told, the write is not confirmed. */
async function arm(env: Env, participantId: string, dueAt: string): Promise<void> {
  await scheduleClient(env, participantId).arm(Date.parse(dueAt));
}

/** /v1/participants/:id/schedules: one-off and recurring reminders, fired by the participant's ScheduleObject. */
export const scheduleRoutes = new Hono<ApiEnv>();

scheduleRoutes.post("/:id/schedules", limitBody(BODY_MAX_BYTES), async (c) => {
  const input = await readJson(c.req, CreateSchedule);
  const now = Date.now();
  const dueAtMs = instantOf(input.due_at, "/due_at");
  const endAtMs = input.end_at ? instantOf(input.end_at, "/end_at") : null;
  checkTimes({ dueAtMs, endAtMs }, now);
  const participant = await requireTeamParticipant(c.env.DB, c.var.teamId, c.req.param("id"));
  const timezone = seriesTimezone(participant.timezone);
  const createdAt = isoOf(now);
  const row: ScheduleRow = {
    id: newId("sch", now),
    team_id: c.var.teamId,
    chatbot_id: participant.chatbot_id,
    participant_id: participant.id,
    name: input.name,
    message: input.message,
    anchor: anchorOf(dueAtMs, timezone),
    timezone,
    every_count: input.every?.count ?? null,
    every_unit: input.every?.unit ?? null,
    repetitions: input.repetitions ?? null,
    end_at: endAtMs === null ? null : isoOf(endAtMs),
    occurrence: 0,
    next_due_at: isoOf(dueAtMs),
    fired_count: 0,
    skipped_count: 0,
    last_fired_at: null,
    status: "active",
    created_at: createdAt,
    updated_at: createdAt,
  };
  const inserted = await insertSchedule(c.env.DB, row, SCHEDULE_LIMITS.activePerParticipant).run();
  if ((inserted.meta.changes ?? 0) === 0) {
    throw problem("conflict", `This participant already has ${SCHEDULE_LIMITS.activePerParticipant} active schedules; cancel one first.`, {
      limit: SCHEDULE_LIMITS.activePerParticipant,
    });
  }
  try {
    await arm(c.env, participant.id, row.next_due_at!);
  } catch (error) {
    // Undone, so the client's retry creates it once.
    console.error("schedule arm failed", row.id, error);
    await deleteSchedule(c.env.DB, row.id).run();
    throw problem("storage-unavailable", "The schedule could not be armed and was not created; retry.", {}, { "Retry-After": "1" });
  }
  c.header("Location", `/v1/participants/${participant.id}/schedules/${row.id}`);
  return c.json(presentSchedule(row), 201);
});

scheduleRoutes.get("/:id/schedules", async (c) => {
  const query = parseWith(ListQuery, c.req.query(), "query");
  const participant = await requireTeamParticipant(c.env.DB, c.var.teamId, c.req.param("id"));
  const page = await listParticipantSchedules(c.env.DB, {
    teamId: c.var.teamId,
    participantId: participant.id,
    status: query.status,
    cursor: query.cursor,
    limit: query.limit,
  });
  return c.json({ schedules: page.rows.map(presentSchedule), next_cursor: page.nextCursor });
});

scheduleRoutes.get("/:id/schedules/:schedule_id", async (c) => {
  const participant = await requireTeamParticipant(c.env.DB, c.var.teamId, c.req.param("id"));
  return c.json(presentSchedule(await requireSchedule(c.env.DB, c.var.teamId, participant, c.req.param("schedule_id"))));
});

/** Renames, rewords or moves a schedule; a new `due_at` starts the series over from it, in the participant's timezone now. */
scheduleRoutes.patch("/:id/schedules/:schedule_id", limitBody(BODY_MAX_BYTES), async (c) => {
  const input = await readJson(c.req, UpdateSchedule);
  const now = Date.now();
  const dueAtMs = input.due_at === undefined ? undefined : instantOf(input.due_at, "/due_at");
  checkTimes({ dueAtMs }, now);
  const participant = await requireTeamParticipant(c.env.DB, c.var.teamId, c.req.param("id"));
  const current = await requireSchedule(c.env.DB, c.var.teamId, participant, c.req.param("schedule_id"));
  const notActive = (row: ScheduleRow) =>
    problem("conflict", `The schedule is ${row.status}: only an active schedule can be changed.`, { schedule_status: row.status });
  if (current.status !== "active") throw notActive(current);
  if (dueAtMs !== undefined && current.end_at !== null && dueAtMs > Date.parse(current.end_at)) {
    throw badRequest("The request body failed validation: /due_at: must not be after the schedule's end_at", [
      { pointer: "/due_at", message: "must not be after the schedule's end_at" },
    ]);
  }
  const changes: ScheduleChanges = { name: input.name, message: input.message };
  if (dueAtMs !== undefined) {
    const timezone = seriesTimezone(participant.timezone);
    changes.reanchor = { anchor: anchorOf(dueAtMs, timezone), timezone, nextDueAt: isoOf(dueAtMs) };
  }
  if (Object.values(changes).every((value) => value === undefined)) return c.json(presentSchedule(current));
  const updated = await updateActiveSchedule(c.env.DB, { id: current.id, teamId: c.var.teamId }, changes, nowIso());
  if (!updated) {
    // Cancelled, or completed by its last firing, since it was read.
    throw notActive(await requireSchedule(c.env.DB, c.var.teamId, participant, current.id));
  }
  if (changes.reanchor) {
    try {
      await arm(c.env, participant.id, changes.reanchor.nextDueAt);
    } catch (error) {
      console.error("schedule arm failed", updated.id, error);
      throw problem(
        "storage-unavailable",
        "The schedule was moved but its alarm could not be set; send the same request again.",
        {},
        { "Retry-After": "1" },
      );
    }
  }
  return c.json(presentSchedule(updated));
});

/** Cancels: the schedule is kept, with its counts, and never fires again. Cancelling again answers the same. */
scheduleRoutes.delete("/:id/schedules/:schedule_id", async (c) => {
  const participant = await requireTeamParticipant(c.env.DB, c.var.teamId, c.req.param("id"));
  const current = await requireSchedule(c.env.DB, c.var.teamId, participant, c.req.param("schedule_id"));
  if (current.status !== "active") return c.json(presentSchedule(current));
  // An alarm set for it stays: it rings early, finds nothing due and re-arms for the next one.
  const cancelled = await cancelSchedule(c.env.DB, { id: current.id, teamId: c.var.teamId }, nowIso());
  return c.json(presentSchedule(cancelled ?? (await requireSchedule(c.env.DB, c.var.teamId, participant, current.id))));
});
