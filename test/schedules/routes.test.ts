import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SCHEDULE_LIMITS } from "../../src/schedules/routes";
import { insertSchedule } from "../../src/schedules/storage";
import { newId } from "../../src/shared/ids";
import { call, createTeam, expectFieldErrors, expectProblem } from "../support/api";
import { describeApiKeyAuth } from "../support/api-key-suite";
import { createParticipant, teamWithChatbot } from "../support/participants";
import { alarmOf, createSchedule, getSchedule, inMs, listSchedules, type ScheduleJson, schedulePath, schedulesPath } from "./support";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

async function participantIn(timezone: string | null = "Europe/Paris") {
  const { apiKey, chatbot } = await teamWithChatbot();
  const participant = await createParticipant(apiKey, chatbot.id, timezone ? { timezone } : {});
  return { apiKey, chatbot, participant };
}

const scheduleCount = async (participantId: string) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM schedules WHERE participant_id = ?").bind(participantId).first<{ n: number }>())!.n;

describe("POST /v1/participants/:id/schedules", () => {
  it("creates a one-off schedule, anchored in the participant's timezone, and arms the participant's alarm for it", async () => {
    const { apiKey, participant } = await participantIn("Europe/Paris");
    const due = new Date(Date.now() + 3 * HOUR);
    const created = await call("POST", schedulesPath(participant.id), {
      token: apiKey,
      body: { name: "Check-in", message: "How are you today?", due_at: due.toISOString() },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get("Location")).toBe(schedulePath(participant.id, created.json.id));
    expect(created.json).toEqual({
      id: expect.stringMatching(/^sch_[0-9a-z]{26}$/),
      participant_id: participant.id,
      name: "Check-in",
      message: "How are you today?",
      next_due_at: due.toISOString(),
      every: null,
      repetitions: null,
      end_at: null,
      timezone: "Europe/Paris",
      fired_count: 0,
      skipped_count: 0,
      last_fired_at: null,
      status: "active",
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(await alarmOf(participant.id)).toBe(due.getTime());
    expect(await getSchedule(apiKey, participant.id, created.json.id)).toEqual(created.json);
  });

  it("creates a recurring schedule; due_at with any offset is the same instant, stored in UTC", async () => {
    const { apiKey, participant } = await participantIn("America/New_York");
    const created = await createSchedule(apiKey, participant.id, {
      due_at: "2030-03-07T09:00:00-05:00",
      every: { count: 1, unit: "days" },
      repetitions: 30,
      end_at: "2030-12-31T23:59:59+01:00",
    });
    expect(created).toMatchObject({
      next_due_at: "2030-03-07T14:00:00.000Z",
      every: { count: 1, unit: "days" },
      repetitions: 30,
      end_at: "2030-12-31T22:59:59.000Z",
      timezone: "America/New_York",
    });
  });

  it("anchors a participant without a timezone in UTC", async () => {
    const { apiKey, participant } = await participantIn(null);
    expect((await createSchedule(apiKey, participant.id)).timezone).toBe("UTC");
  });

  it("keeps a second alarm at the earlier of two schedules", async () => {
    const { apiKey, participant } = await participantIn();
    const later = await createSchedule(apiKey, participant.id, { due_at: inMs(5 * HOUR) });
    const sooner = await createSchedule(apiKey, participant.id, { due_at: inMs(2 * HOUR) });
    await createSchedule(apiKey, participant.id, { due_at: inMs(9 * HOUR) });
    expect(await alarmOf(participant.id)).toBe(Date.parse(sooner.next_due_at!));
    expect(Date.parse(later.next_due_at!)).toBeGreaterThan(Date.parse(sooner.next_due_at!));
  });

  it("refuses bad input with 400 naming each field, and stores nothing", async () => {
    const { apiKey, participant } = await participantIn();
    const cases: [Record<string, unknown>, string[]][] = [
      [{}, ["/name", "/message", "/due_at"]],
      [{ name: "", message: " ", due_at: inMs(HOUR) }, ["/name", "/message"]],
      [{ name: "n".repeat(201), message: "m", due_at: inMs(HOUR) }, ["/name"]],
      [{ name: "n", message: "m".repeat(10_001), due_at: inMs(HOUR) }, ["/message"]],
      [{ name: "n", message: "m", due_at: "2030-03-28 09:00:00" }, ["/due_at"]],
      [{ name: "n", message: "m", due_at: "2030-03-28T09:00:00" }, ["/due_at"]],
      [{ name: "n", message: "m", due_at: "tomorrow" }, ["/due_at"]],
      [{ name: "n", message: "m", due_at: 1_900_000_000_000 }, ["/due_at"]],
      [{ name: "n", message: "m", due_at: inMs(-HOUR) }, ["/due_at"]],
      [{ name: "n", message: "m", due_at: inMs(3_660 * DAY) }, ["/due_at"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), every: { count: 0, unit: "days" } }, ["/every/count"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), every: { count: 1001, unit: "days" } }, ["/every/count"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), every: { count: 1.5, unit: "days" } }, ["/every/count"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), every: { count: 1, unit: "years" } }, ["/every/unit"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), every: { count: 1, unit: "days", at: "09:00" } }, ["/every/at"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), every: { count: 1, unit: "days" }, repetitions: 0 }, ["/repetitions"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), every: { count: 1, unit: "days" }, repetitions: 10_001 }, ["/repetitions"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), repetitions: 3 }, ["/repetitions"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), end_at: inMs(DAY) }, ["/end_at"]],
      [{ name: "n", message: "m", due_at: inMs(DAY), every: { count: 1, unit: "days" }, end_at: inMs(HOUR) }, ["/end_at"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), every: { count: 1, unit: "days" }, end_at: inMs(3_660 * DAY) }, ["/end_at"]],
      [{ name: "n", message: "m", due_at: inMs(HOUR), channel: "sms" }, ["/channel"]],
    ];
    for (const [body, pointers] of cases) {
      const answer = await call("POST", schedulesPath(participant.id), { token: apiKey, body });
      expectFieldErrors(answer, pointers);
    }
    const malformed = await call("POST", schedulesPath(participant.id), { token: apiKey, rawBody: "{" });
    expect(expectProblem(malformed, 400).type).toBe("/problems/malformed-json");
    const huge = await call("POST", schedulesPath(participant.id), {
      token: apiKey,
      body: { name: "n", message: "m".repeat(70_000), due_at: inMs(HOUR) },
    });
    expectProblem(huge, 413);
    expect(await scheduleCount(participant.id)).toBe(0);
    expect(await alarmOf(participant.id)).toBeNull();
  });

  it("answers 404 for a missing participant, junk and another team's participant alike", async () => {
    const { participant } = await participantIn();
    const intruder = await createTeam();
    const body = { name: "n", message: "m", due_at: inMs(HOUR) };
    const theirs = await call("POST", schedulesPath(participant.id), { token: intruder.apiKey, body });
    const missing = await call("POST", schedulesPath(newId("part")), { token: intruder.apiKey, body });
    const junk = await call("POST", schedulesPath("nope"), { token: intruder.apiKey, body });
    expect(expectProblem(theirs, 404)).toEqual(expectProblem(missing, 404));
    expect(expectProblem(junk, 404)).toEqual(expectProblem(missing, 404));
    expect(await scheduleCount(participant.id)).toBe(0);
  });

  it(`holds a participant to ${SCHEDULE_LIMITS.activePerParticipant} active schedules (409 with the limit); a cancelled one frees a place`, async () => {
    const { apiKey, participant } = await participantIn();
    const first = await createSchedule(apiKey, participant.id);
    const teamId = (await env.DB.prepare("SELECT team_id FROM participants WHERE id = ?")
      .bind(participant.id)
      .first<{ team_id: string }>())!.team_id;
    const now = new Date().toISOString();
    const rows = Array.from({ length: SCHEDULE_LIMITS.activePerParticipant - 1 }, () => ({
      id: newId("sch"),
      team_id: teamId,
      chatbot_id: participant.chatbot_id as string,
      participant_id: participant.id,
      name: "filler",
      message: "m",
      anchor: "2030-01-01T00:00:00+00:00[UTC]",
      timezone: "UTC",
      every_count: null,
      every_unit: null,
      repetitions: null,
      end_at: null,
      occurrence: 0,
      next_due_at: "2030-01-01T00:00:00.000Z",
      fired_count: 0,
      skipped_count: 0,
      last_fired_at: null,
      status: "active" as const,
      created_at: now,
      updated_at: now,
    }));
    await env.DB.batch(rows.map((row) => insertSchedule(env.DB, row, SCHEDULE_LIMITS.activePerParticipant)));
    const refused = await call("POST", schedulesPath(participant.id), {
      token: apiKey,
      body: { name: "n", message: "m", due_at: inMs(HOUR) },
    });
    expect(expectProblem(refused, 409)).toMatchObject({ type: "/problems/conflict", limit: SCHEDULE_LIMITS.activePerParticipant });
    expect(await scheduleCount(participant.id)).toBe(SCHEDULE_LIMITS.activePerParticipant);
    expect((await call("DELETE", schedulePath(participant.id, first.id), { token: apiKey })).status).toBe(200);
    await createSchedule(apiKey, participant.id);
  });
});

describe("when the participant's object cannot be reached", () => {
  /** Makes the SCHEDULES namespace refuse stubs while `action` runs, as an outage of the object would. */
  async function withoutObjects<T>(action: () => Promise<T>): Promise<T> {
    const namespace = env.SCHEDULES as unknown as { get: (...args: unknown[]) => unknown };
    const get = namespace.get;
    namespace.get = () => {
      throw new Error("injected: object unavailable");
    };
    try {
      return await action();
    } finally {
      namespace.get = get;
    }
  }

  it("undoes a create whose alarm cannot be set (503, Retry-After), so a retry creates it once", async () => {
    const { apiKey, participant } = await participantIn();
    const body = { name: "n", message: "m", due_at: inMs(HOUR) };
    const refused = await withoutObjects(() => call("POST", schedulesPath(participant.id), { token: apiKey, body }));
    expect(expectProblem(refused, 503).type).toBe("/problems/storage-unavailable");
    expect(refused.headers.get("Retry-After")).toBe("1");
    expect(await scheduleCount(participant.id)).toBe(0);
    expect((await call("POST", schedulesPath(participant.id), { token: apiKey, body })).status).toBe(201);
    expect(await scheduleCount(participant.id)).toBe(1);
  });

  it("answers 503 to a move whose alarm cannot be set; the same request again arms it", async () => {
    const { apiKey, participant } = await participantIn();
    const created = await createSchedule(apiKey, participant.id, { due_at: inMs(5 * HOUR) });
    const due = inMs(HOUR);
    const path = schedulePath(participant.id, created.id);
    const refused = await withoutObjects(() => call("PATCH", path, { token: apiKey, body: { due_at: due } }));
    expect(expectProblem(refused, 503).type).toBe("/problems/storage-unavailable");
    expect(await alarmOf(participant.id)).toBe(Date.parse(created.next_due_at!));
    expect((await call("PATCH", path, { token: apiKey, body: { due_at: due } })).status).toBe(200);
    expect(await alarmOf(participant.id)).toBe(Date.parse(due));
  });
});

describe("GET /v1/participants/:id/schedules", () => {
  it("lists the participant's schedules newest first in pages, any status, filtered by status where asked", async () => {
    const { apiKey, chatbot, participant } = await participantIn();
    const made: ScheduleJson[] = [];
    for (let i = 0; i < 5; i++) made.push(await createSchedule(apiKey, participant.id, { name: `s${i}` }));
    const other = await createParticipant(apiKey, chatbot.id);
    await createSchedule(apiKey, other.id);
    await call("DELETE", schedulePath(participant.id, made[1]!.id), { token: apiKey });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call("GET", `${schedulesPath(participant.id)}?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token: apiKey });
      expect(page.status).toBe(200);
      seen.push(...page.json.schedules.map((schedule: ScheduleJson) => schedule.id));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual(made.map((schedule) => schedule.id).reverse());
    expect((await listSchedules(apiKey, participant.id, "?status=cancelled")).map((schedule) => schedule.id)).toEqual([made[1]!.id]);
    expect(await listSchedules(apiKey, participant.id, "?status=active")).toHaveLength(4);
    expectFieldErrors(await call("GET", `${schedulesPath(participant.id)}?status=paused`, { token: apiKey }), ["/status"]);
    expectFieldErrors(await call("GET", `${schedulesPath(participant.id)}?limit=0`, { token: apiKey }), ["/limit"]);
  });

  it("answers 404 for another participant's schedule id, as for a missing one", async () => {
    const { apiKey, chatbot, participant } = await participantIn();
    const other = await createParticipant(apiKey, chatbot.id);
    const theirs = await createSchedule(apiKey, other.id);
    const wrongOwner = await call("GET", schedulePath(participant.id, theirs.id), { token: apiKey });
    const missing = await call("GET", schedulePath(participant.id, newId("sch")), { token: apiKey });
    const junk = await call("GET", schedulePath(participant.id, "sch_nope"), { token: apiKey });
    expect(expectProblem(wrongOwner, 404)).toEqual(expectProblem(missing, 404));
    expect(expectProblem(junk, 404)).toEqual(expectProblem(missing, 404));
    for (const method of ["PATCH", "DELETE"]) {
      const answer = await call(method, schedulePath(participant.id, theirs.id), { token: apiKey, body: { name: "x" } });
      expect(expectProblem(answer, 404)).toEqual(expectProblem(missing, 404));
    }
    expect(await getSchedule(apiKey, other.id, theirs.id)).toMatchObject({ name: "Check-in", status: "active" });
  });
});

describe("PATCH /v1/participants/:id/schedules/:schedule_id", () => {
  it("renames and rewords without moving it", async () => {
    const { apiKey, participant } = await participantIn();
    const created = await createSchedule(apiKey, participant.id);
    const answer = await call("PATCH", schedulePath(participant.id, created.id), {
      token: apiKey,
      body: { name: "Renamed", message: "New words" },
    });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json).toEqual({ ...created, name: "Renamed", message: "New words", updated_at: expect.any(String) });
    const empty = await call("PATCH", schedulePath(participant.id, created.id), { token: apiKey, body: {} });
    expect(empty.json).toEqual(answer.json);
  });

  it("moving due_at earlier re-arms the alarm; the series is anchored anew in the participant's timezone of now", async () => {
    const { apiKey, participant } = await participantIn("Europe/Paris");
    const created = await createSchedule(apiKey, participant.id, { due_at: inMs(5 * HOUR), every: { count: 1, unit: "days" } });
    expect(await alarmOf(participant.id)).toBe(Date.parse(created.next_due_at!));
    // A later timezone change moves nothing by itself...
    await call("PATCH", `/v1/participants/${participant.id}`, { token: apiKey, body: { timezone: "America/New_York" } });
    const renamed = await call("PATCH", schedulePath(participant.id, created.id), { token: apiKey, body: { name: "x" } });
    expect(renamed.json).toMatchObject({ timezone: "Europe/Paris", next_due_at: created.next_due_at });
    // ...a new due_at anchors the series in the timezone the participant has now.
    const due = inMs(2 * HOUR);
    const moved = await call("PATCH", schedulePath(participant.id, created.id), { token: apiKey, body: { due_at: due } });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.json).toMatchObject({ next_due_at: due, timezone: "America/New_York", status: "active" });
    expect(await alarmOf(participant.id)).toBe(Date.parse(due));
  });

  it("refuses bad input with 400, a due_at after end_at with 400, and changes nothing", async () => {
    const { apiKey, participant } = await participantIn();
    const created = await createSchedule(apiKey, participant.id, { every: { count: 1, unit: "days" }, end_at: inMs(3 * DAY) });
    const path = schedulePath(participant.id, created.id);
    expectFieldErrors(await call("PATCH", path, { token: apiKey, body: { due_at: "soon" } }), ["/due_at"]);
    expectFieldErrors(await call("PATCH", path, { token: apiKey, body: { due_at: inMs(-DAY) } }), ["/due_at"]);
    expectFieldErrors(await call("PATCH", path, { token: apiKey, body: { due_at: inMs(4 * DAY) } }), ["/due_at"]);
    expectFieldErrors(await call("PATCH", path, { token: apiKey, body: { every: { count: 2, unit: "days" } } }), ["/every"]);
    expectFieldErrors(await call("PATCH", path, { token: apiKey, body: { name: "", message: "" } }), ["/name", "/message"]);
    expect(await getSchedule(apiKey, participant.id, created.id)).toEqual(created);
  });

  it("answers 409 for a cancelled schedule and changes nothing", async () => {
    const { apiKey, participant } = await participantIn();
    const created = await createSchedule(apiKey, participant.id);
    const cancelled = (await call("DELETE", schedulePath(participant.id, created.id), { token: apiKey })).json;
    const answer = await call("PATCH", schedulePath(participant.id, created.id), { token: apiKey, body: { due_at: inMs(HOUR) } });
    expect(expectProblem(answer, 409)).toMatchObject({ type: "/problems/conflict", status: 409, schedule_status: "cancelled" });
    expect(answer.json.detail).toMatch(/cancelled/);
    expect(await getSchedule(apiKey, participant.id, created.id)).toEqual(cancelled);
  });
});

describe("DELETE /v1/participants/:id/schedules/:schedule_id", () => {
  it("cancels and keeps the schedule with its history; cancelling again answers the same", async () => {
    const { apiKey, participant } = await participantIn();
    const created = await createSchedule(apiKey, participant.id, { every: { count: 1, unit: "weeks" } });
    const answer = await call("DELETE", schedulePath(participant.id, created.id), { token: apiKey });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ ...created, status: "cancelled", next_due_at: null, updated_at: expect.any(String) });
    const again = await call("DELETE", schedulePath(participant.id, created.id), { token: apiKey });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(answer.json);
    expect(await listSchedules(apiKey, participant.id)).toEqual([answer.json]);
  });
});

describeApiKeyAuth({
  setup: async () => {
    const { team, apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id);
    const schedule = await createSchedule(apiKey, participant.id, { name: "Owner's schedule", message: "s3cret reminder" });
    return { team, ids: { participant: participant.id, schedule: schedule.id }, secrets: ["s3cret reminder"] };
  },
  routes: [
    {
      method: "POST",
      path: ({ participant }) => schedulesPath(participant),
      body: () => ({ name: "n", message: "m", due_at: inMs(HOUR) }),
    },
    { method: "GET", path: ({ participant }) => schedulesPath(participant) },
    { method: "GET", path: ({ participant, schedule }) => schedulePath(participant!, schedule!) },
    { method: "PATCH", path: ({ participant, schedule }) => schedulePath(participant!, schedule!), body: () => ({ name: "Mallory" }) },
    { method: "DELETE", path: ({ participant, schedule }) => schedulePath(participant!, schedule!) },
  ],
  unchanged: async ({ team, ids }) => {
    const schedules = await listSchedules(team.apiKey, ids.participant!);
    expect(schedules).toHaveLength(1);
    expect(schedules[0]).toMatchObject({ id: ids.schedule, name: "Owner's schedule", status: "active" });
  },
});
