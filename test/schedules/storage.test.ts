import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { insertParticipant } from "../../src/participants/storage";
import {
  cancelSchedule,
  findEarliestDue,
  findTeamSchedule,
  insertSchedule,
  listDueSchedules,
  listParticipantSchedules,
  listScheduleOverview,
  recordFiring,
  type ScheduleRow,
  updateActiveSchedule,
} from "../../src/schedules/storage";
import { newId } from "../../src/shared/ids";
import { countD1Statements, queryPlan } from "../support/api";
import { insertTeamWithChatbot } from "../support/storage";

const NOW = "2026-01-01T00:00:00.000Z";
let teamId: string;
let chatbotId: string;

beforeAll(async () => {
  ({ teamId, chatbotId } = await insertTeamWithChatbot(NOW));
});

async function newParticipant(): Promise<string> {
  const id = newId("part");
  await insertParticipant(env.DB, {
    id,
    team_id: teamId,
    chatbot_id: chatbotId,
    channel: "api",
    identifier: id,
    name: null,
    email: null,
    phone: null,
    timezone: null,
    data: "{}",
    version: 1,
    created_at: NOW,
    updated_at: NOW,
  }).run();
  return id;
}

function scheduleRow(participantId: string, overrides: Partial<ScheduleRow> = {}): ScheduleRow {
  return {
    id: newId("sch"),
    team_id: teamId,
    chatbot_id: chatbotId,
    participant_id: participantId,
    name: "n",
    message: "m",
    anchor: "2026-03-27T09:00:00+01:00[Europe/Paris]",
    timezone: "Europe/Paris",
    every_count: 1,
    every_unit: "days",
    repetitions: null,
    end_at: null,
    occurrence: 0,
    next_due_at: "2026-03-27T08:00:00.000Z",
    fired_count: 0,
    skipped_count: 0,
    last_fired_at: null,
    status: "active",
    created_at: NOW,
    updated_at: NOW,
    ...overrides,
  };
}

const read = (row: ScheduleRow) => findTeamSchedule(env.DB, teamId, row.participant_id, row.id);

describe("schedules storage", () => {
  it("inserts under the active cap only, counted in the same statement; cancelled ones do not count", async () => {
    const participantId = await newParticipant();
    const first = scheduleRow(participantId);
    expect((await insertSchedule(env.DB, first, 2).run()).meta.changes).toBe(1);
    expect((await insertSchedule(env.DB, scheduleRow(participantId), 2).run()).meta.changes).toBe(1);
    expect((await insertSchedule(env.DB, scheduleRow(participantId), 2).run()).meta.changes).toBe(0);
    await cancelSchedule(env.DB, { id: first.id, teamId }, NOW);
    expect((await insertSchedule(env.DB, scheduleRow(participantId), 2).run()).meta.changes).toBe(1);
    expect(await read(first)).toMatchObject({ status: "cancelled", next_due_at: null });
  });

  it("finds a schedule only through its own team and participant", async () => {
    const participantId = await newParticipant();
    const row = scheduleRow(participantId);
    await insertSchedule(env.DB, row, 100).run();
    expect(await read(row)).toEqual(row);
    expect(await findTeamSchedule(env.DB, newId("team"), participantId, row.id)).toBeNull();
    expect(await findTeamSchedule(env.DB, teamId, await newParticipant(), row.id)).toBeNull();
  });

  it("lists due active schedules earliest first, and the earliest due of the active ones", async () => {
    const participantId = await newParticipant();
    const late = scheduleRow(participantId, { next_due_at: "2026-03-27T08:00:02.000Z" });
    const early = scheduleRow(participantId, { next_due_at: "2026-03-27T08:00:01.000Z" });
    const future = scheduleRow(participantId, { next_due_at: "2026-03-27T09:00:00.000Z" });
    const cancelled = scheduleRow(participantId, { next_due_at: "2026-03-27T07:00:00.000Z" });
    for (const row of [late, early, future, cancelled]) await insertSchedule(env.DB, row, 100).run();
    await cancelSchedule(env.DB, { id: cancelled.id, teamId }, NOW);
    const due = await listDueSchedules(env.DB, participantId, "2026-03-27T08:00:02.000Z", 10);
    expect(due.map((row) => row.id)).toEqual([early.id, late.id]);
    expect((await listDueSchedules(env.DB, participantId, "2026-03-27T08:00:02.000Z", 1)).map((row) => row.id)).toEqual([early.id]);
    expect(await findEarliestDue(env.DB, participantId)).toBe(early.next_due_at);
    expect(await findEarliestDue(env.DB, await newParticipant())).toBeNull();
    const page = await listParticipantSchedules(env.DB, { teamId, participantId, limit: 3 });
    expect(page.rows).toHaveLength(3);
    expect(page.nextCursor).toBe(page.rows[2]!.id);
  });

  it("records a firing once: a second record with the same fired count changes nothing", async () => {
    const row = scheduleRow(await newParticipant());
    await insertSchedule(env.DB, row, 100).run();
    const firing = {
      id: row.id,
      firedCount: 0,
      dueAt: row.next_due_at!,
      anchor: row.anchor,
      skipped: false,
      firedAt: "2026-03-27T08:00:00.050Z",
      next: { occurrence: 1, dueAt: "2026-03-28T08:00:00.000Z" },
    };
    expect((await recordFiring(env.DB, firing).run()).meta.changes).toBe(1);
    expect((await recordFiring(env.DB, firing).run()).meta.changes).toBe(0);
    expect(await read(row)).toMatchObject({
      fired_count: 1,
      skipped_count: 0,
      occurrence: 1,
      next_due_at: "2026-03-28T08:00:00.000Z",
      last_fired_at: "2026-03-27T08:00:00.050Z",
      status: "active",
    });
    await recordFiring(env.DB, { ...firing, firedCount: 1, dueAt: "2026-03-28T08:00:00.000Z", skipped: true, next: null }).run();
    expect(await read(row)).toMatchObject({ fired_count: 2, skipped_count: 1, occurrence: 1, next_due_at: null, status: "completed" });
  });

  it("counts a firing but keeps a move or a cancel made while it ran", async () => {
    const moved = scheduleRow(await newParticipant());
    const cancelled = scheduleRow(await newParticipant());
    for (const row of [moved, cancelled]) await insertSchedule(env.DB, row, 100).run();
    const firingOf = (row: ScheduleRow) => ({
      id: row.id,
      firedCount: 0,
      dueAt: row.next_due_at!,
      anchor: row.anchor,
      skipped: false,
      firedAt: "2026-03-27T08:00:00.050Z",
      next: { occurrence: 1, dueAt: "2026-03-28T08:00:00.000Z" },
    });
    const reanchor = { anchor: "2026-04-01T09:00:00+02:00[Europe/Paris]", timezone: "Europe/Paris", nextDueAt: "2026-04-01T07:00:00.000Z" };
    await updateActiveSchedule(env.DB, { id: moved.id, teamId }, { reanchor }, NOW);
    await cancelSchedule(env.DB, { id: cancelled.id, teamId }, NOW);
    await recordFiring(env.DB, firingOf(moved)).run();
    await recordFiring(env.DB, firingOf(cancelled)).run();
    expect(await read(moved)).toMatchObject({
      fired_count: 1,
      occurrence: 0,
      next_due_at: reanchor.nextDueAt,
      anchor: reanchor.anchor,
      status: "active",
    });
    expect(await read(cancelled)).toMatchObject({ fired_count: 1, next_due_at: null, status: "cancelled" });
  });

  it("changes only active schedules, answering the row as it now is", async () => {
    const row = scheduleRow(await newParticipant());
    await insertSchedule(env.DB, row, 100).run();
    expect(await updateActiveSchedule(env.DB, { id: row.id, teamId }, { name: "renamed" }, "2026-01-02T00:00:00.000Z")).toEqual({
      ...row,
      name: "renamed",
      updated_at: "2026-01-02T00:00:00.000Z",
    });
    expect(await updateActiveSchedule(env.DB, { id: row.id, teamId: newId("team") }, { name: "x" }, NOW)).toBeNull();
    await cancelSchedule(env.DB, { id: row.id, teamId }, NOW);
    expect(await updateActiveSchedule(env.DB, { id: row.id, teamId }, { name: "again" }, NOW)).toBeNull();
    expect(await cancelSchedule(env.DB, { id: row.id, teamId }, NOW)).toBeNull();
    expect(await read(row)).toMatchObject({ name: "renamed", status: "cancelled" });
  });

  it("reads the object's queries through schedules_by_participant_status", async () => {
    const { queries } = await countD1Statements(async () => {
      await listDueSchedules(env.DB, "part_x", NOW, 25);
      await findEarliestDue(env.DB, "part_x");
    });
    const params = [["part_x", NOW, 25], ["part_x"]];
    for (const [i, query] of queries.entries()) {
      const details = await queryPlan(query, params[i]!);
      expect(details).toContain("schedules_by_participant_status");
      expect(details).not.toContain("TEMP B-TREE");
    }
  });

  it("lists a participant's active schedules soonest first, then its newest finished ones, in one statement", async () => {
    const participantId = await newParticipant();
    const later = scheduleRow(participantId, { next_due_at: "2026-05-01T08:00:00.000Z" });
    const sooner = scheduleRow(participantId, { next_due_at: "2026-04-01T08:00:00.000Z" });
    // Ids made at distinct times, so "newest" is their creation order.
    const at = Date.parse("2026-01-02T00:00:00Z");
    const cancelled = [1, 2, 3].map((i) => scheduleRow(participantId, { id: newId("sch", at + i) }));
    const completed = scheduleRow(participantId, { id: newId("sch", at + 4), status: "completed", next_due_at: null });
    for (const row of [later, sooner, ...cancelled, completed]) await insertSchedule(env.DB, row, 100).run();
    for (const row of cancelled) await cancelSchedule(env.DB, { id: row.id, teamId }, NOW);
    await insertSchedule(env.DB, scheduleRow(await newParticipant()), 100).run();
    const { result, statements } = await countD1Statements(() =>
      listScheduleOverview(env.DB, { teamId, participantId, activeLimit: 100, finishedLimit: 3 }),
    );
    expect(statements).toBe(1);
    expect(result.active.map((row) => row.id)).toEqual([sooner.id, later.id]);
    expect(result.finished.map((row) => row.id)).toEqual([completed.id, cancelled[2]!.id, cancelled[1]!.id]);
    expect(result.finished[1]).toMatchObject({ status: "cancelled", next_due_at: null });
    expect(result.moreFinished).toBe(true);
    const all = await listScheduleOverview(env.DB, { teamId, participantId, activeLimit: 1, finishedLimit: 10 });
    expect(all.active.map((row) => row.id)).toEqual([sooner.id]);
    expect(all.finished).toHaveLength(4);
    expect(all.moreFinished).toBe(false);
    // Another team sees none of them.
    const foreign = await listScheduleOverview(env.DB, { teamId: newId("team"), participantId, activeLimit: 100, finishedLimit: 10 });
    expect(foreign).toEqual({ active: [], finished: [], moreFinished: false });
  });

  it("reads the page's overview through the participant's indexes, without sorting", async () => {
    const { queries } = await countD1Statements(async () => {
      await listScheduleOverview(env.DB, { teamId, participantId: "part_x", activeLimit: 100, finishedLimit: 20 });
    });
    const details = await queryPlan(queries[0]!, ["part_x", teamId, 100, 21]);
    expect(details).toContain("schedules_by_participant_status");
    expect(details).toContain("schedules_by_participant ");
    expect(details).not.toContain("TEMP B-TREE");
  });
});
