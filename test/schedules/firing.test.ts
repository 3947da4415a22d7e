import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/shared/ids";
import { call, createTeam, failD1, startConversation, startConversationWith } from "../support/api";
import { createParticipant, teamWithChatbot } from "../support/participants";
import {
  alarmOf,
  createSchedule,
  eventually,
  getSchedule,
  inMs,
  messagesOf,
  runAlarmNow,
  type ScheduleJson,
  schedulePath,
  sleep,
} from "./support";

const HOUR = 60 * 60 * 1000;

/** The bot messages of the conversation that carry `text`. */
async function botMessages(apiKey: string, conversationId: string, text: string) {
  return (await messagesOf(apiKey, conversationId)).filter((message) => message.role === "bot" && message.text === text);
}

/** Waits until the schedule has fired `count` times. */
function firedTimes(apiKey: string, participantId: string, scheduleId: string, count: number, timeoutMs = 5_000): Promise<ScheduleJson> {
  return eventually(async () => {
    const schedule = await getSchedule(apiKey, participantId, scheduleId);
    return schedule.fired_count >= count ? schedule : undefined;
  }, timeoutMs);
}

/** A webhook of the team taking schedule.fired, and its deliveries' payloads as stored. */
async function scheduleWebhook(apiKey: string) {
  const created = await call("POST", "/v1/webhooks", {
    token: apiKey,
    body: { url: "https://hooks.example.com/schedules", events: ["schedule.fired"] },
  });
  if (created.status !== 201) throw new Error(`webhook: ${created.status} ${created.text}`);
  const id = created.json.id as string;
  return {
    payloads: async () => {
      const { results } = await env.DB.prepare("SELECT event_type, payload FROM webhook_deliveries WHERE webhook_id = ?")
        .bind(id)
        .all<{ event_type: string; payload: string }>();
      return results.map((row) => ({ event_type: row.event_type, ...JSON.parse(row.payload) }));
    },
  };
}

describe("a schedule fires by its participant's alarm", () => {
  it("posts the message as a bot message into the open conversation within 2 s of due, once, even when the alarm runs again", async () => {
    const conversation = await startConversation();
    const { apiKey } = conversation.team;
    const webhook = await scheduleWebhook(apiKey);
    const schedule = await createSchedule(apiKey, conversation.participant_id, { message: "Time for your check-in", due_at: inMs(1_000) });
    const due = Date.parse(schedule.next_due_at!);

    // The alarm rings by itself: nothing polls.
    await eventually(async () =>
      (await botMessages(apiKey, conversation.conversation_id, "Time for your check-in")).length ? true : undefined,
    );
    const lateness = Date.now() - due;
    console.log(`schedule fired and seen ${lateness} ms after due`);
    expect(lateness).toBeLessThan(2_000);

    const fired = await firedTimes(apiKey, conversation.participant_id, schedule.id, 1);
    expect(fired).toMatchObject({ status: "completed", next_due_at: null, fired_count: 1, skipped_count: 0 });
    expect(Date.parse(fired.last_fired_at!) - due).toBeLessThan(2_000);
    expect(Date.parse(fired.last_fired_at!)).toBeGreaterThanOrEqual(due);

    // A retried or spurious alarm finds nothing due and posts nothing more.
    await runAlarmNow(conversation.participant_id);
    await runAlarmNow(conversation.participant_id);
    expect(await botMessages(apiKey, conversation.conversation_id, "Time for your check-in")).toHaveLength(1);
    expect(await getSchedule(apiKey, conversation.participant_id, schedule.id)).toEqual(fired);
    expect(await alarmOf(conversation.participant_id)).toBeNull();

    const [message] = await botMessages(apiKey, conversation.conversation_id, "Time for your check-in");
    expect(await webhook.payloads()).toEqual([
      {
        event_type: "schedule.fired",
        type: "schedule.fired",
        timestamp: fired.last_fired_at,
        data: {
          schedule_id: schedule.id,
          participant_id: conversation.participant_id,
          name: "Check-in",
          message: "Time for your check-in",
          firing: 1,
          due_at: schedule.next_due_at,
          fired_at: fired.last_fired_at,
          outcome: "posted",
          conversation_id: conversation.conversation_id,
          message_id: message!.id,
        },
      },
    ]);
  });

  it("posts once and tells webhooks once when the firing fails after posting and the alarm retries it", async () => {
    const conversation = await startConversation();
    const { apiKey } = conversation.team;
    const webhook = await scheduleWebhook(apiKey);
    // The firing's record in D1 fails once: the message and the event have left already.
    const restore = failD1(/UPDATE schedules SET\s+fired_count/, 1);
    try {
      const schedule = await createSchedule(apiKey, conversation.participant_id, { message: "Retried reminder", due_at: inMs(300) });
      await eventually(async () =>
        (await botMessages(apiKey, conversation.conversation_id, "Retried reminder")).length ? true : undefined,
      );
      // Retried with back-off by the object itself (2 s first).
      const fired = await firedTimes(apiKey, conversation.participant_id, schedule.id, 1, 6_000);
      expect(fired).toMatchObject({ status: "completed", fired_count: 1 });
      await runAlarmNow(conversation.participant_id);
      expect(await botMessages(apiKey, conversation.conversation_id, "Retried reminder")).toHaveLength(1);
      const payloads = await webhook.payloads();
      expect(payloads).toHaveLength(1);
      expect(payloads[0]!.data).toMatchObject({ firing: 1, outcome: "posted", conversation_id: conversation.conversation_id });
    } finally {
      restore();
    }
  });

  it("posts to the conversation it chose first, when a retry finds a newer one open", async () => {
    const conversation = await startConversation();
    const { apiKey } = conversation.team;
    const restore = failD1(/UPDATE schedules SET\s+fired_count/, 1);
    try {
      const schedule = await createSchedule(apiKey, conversation.participant_id, { message: "Sticky reminder", due_at: inMs(300) });
      await eventually(async () =>
        (await botMessages(apiKey, conversation.conversation_id, "Sticky reminder")).length ? true : undefined,
      );
      // The same visitor starts another conversation before the retry: now the latest open one.
      const newer = await startConversationWith(conversation.chatbot.id, { visitor_id: conversation.visitor_id });
      expect(newer.participant_id).toBe(conversation.participant_id);
      await firedTimes(apiKey, conversation.participant_id, schedule.id, 1, 6_000);
      expect(await botMessages(apiKey, conversation.conversation_id, "Sticky reminder")).toHaveLength(1);
      expect(await botMessages(apiKey, newer.conversation_id, "Sticky reminder")).toHaveLength(0);
      // The next firing goes to the newer one.
      const next = await createSchedule(apiKey, conversation.participant_id, { message: "Fresh reminder", due_at: inMs(300) });
      await firedTimes(apiKey, conversation.participant_id, next.id, 1);
      expect(await botMessages(apiKey, newer.conversation_id, "Fresh reminder")).toHaveLength(1);
      expect(await botMessages(apiKey, conversation.conversation_id, "Fresh reminder")).toHaveLength(0);
    } finally {
      restore();
    }
  });

  it("records the firing as skipped where the participant has no open conversation, and tells webhooks so", async () => {
    const { team, apiKey, chatbot } = await teamWithChatbot();
    const webhook = await scheduleWebhook(apiKey);
    const participant = await createParticipant(apiKey, chatbot.id);
    const schedule = await createSchedule(apiKey, participant.id, { due_at: inMs(300), every: { count: 1, unit: "days" } });
    const fired = await firedTimes(apiKey, participant.id, schedule.id, 1);
    expect(fired).toMatchObject({ status: "active", fired_count: 1, skipped_count: 1 });
    // A recurring schedule goes on after a skipped firing: the same wall-clock time tomorrow (UTC participant).
    expect(Date.parse(fired.next_due_at!) - Date.parse(schedule.next_due_at!)).toBe(24 * HOUR);
    expect(await alarmOf(participant.id)).toBe(Date.parse(fired.next_due_at!));
    const payloads = await webhook.payloads();
    expect(payloads.map((payload) => payload.data)).toEqual([
      expect.objectContaining({ outcome: "skipped", conversation_id: null, message_id: null, firing: 1 }),
    ]);
    expect(team.id).toBeTruthy();
  });

  it("skips an ended conversation: the message goes to the latest open one, or nowhere", async () => {
    const conversation = await startConversation();
    const { apiKey } = conversation.team;
    const ended = await call("PATCH", `/v1/conversations/${conversation.conversation_id}`, { token: apiKey, body: { status: "ended" } });
    expect(ended.status, ended.text).toBe(200);
    const schedule = await createSchedule(apiKey, conversation.participant_id, { message: "Anyone there?", due_at: inMs(300) });
    const fired = await firedTimes(apiKey, conversation.participant_id, schedule.id, 1);
    expect(fired).toMatchObject({ status: "completed", fired_count: 1, skipped_count: 1 });
    expect(await botMessages(apiKey, conversation.conversation_id, "Anyone there?")).toHaveLength(0);
  });

  it("repetitions end a recurring schedule: each firing posts its own message until the last", async () => {
    const conversation = await startConversation();
    const { apiKey } = conversation.team;
    const schedule = await createSchedule(apiKey, conversation.participant_id, {
      message: "Twice only",
      due_at: inMs(300),
      every: { count: 1, unit: "days" },
      repetitions: 2,
    });
    const first = await firedTimes(apiKey, conversation.participant_id, schedule.id, 1);
    expect(first).toMatchObject({ status: "active", fired_count: 1 });
    // Bring the second occurrence to now, as a day passing would.
    await env.DB.prepare("UPDATE schedules SET next_due_at = ? WHERE id = ?").bind(new Date().toISOString(), schedule.id).run();
    await runAlarmNow(conversation.participant_id);
    const second = await getSchedule(apiKey, conversation.participant_id, schedule.id);
    expect(second).toMatchObject({ status: "completed", fired_count: 2, next_due_at: null });
    expect(await botMessages(apiKey, conversation.conversation_id, "Twice only")).toHaveLength(2);
  });

  it("end_at ends a recurring schedule: no occurrence after it", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id);
    const schedule = await createSchedule(apiKey, participant.id, {
      due_at: inMs(300),
      every: { count: 1, unit: "hours" },
      end_at: inMs(30 * 60 * 1000),
    });
    expect(await firedTimes(apiKey, participant.id, schedule.id, 1)).toMatchObject({ status: "completed", next_due_at: null });
  });

  it("moving due_at earlier re-arms and fires at the new time; moving it later leaves an early alarm that fires nothing", async () => {
    const conversation = await startConversation();
    const { apiKey } = conversation.team;
    const participantId = conversation.participant_id;
    const early = await createSchedule(apiKey, participantId, { message: "Moved up", due_at: inMs(HOUR) });
    const moved = await call("PATCH", schedulePath(participantId, early.id), { token: apiKey, body: { due_at: inMs(500) } });
    expect(moved.status).toBe(200);
    await firedTimes(apiKey, participantId, early.id, 1);
    expect(await botMessages(apiKey, conversation.conversation_id, "Moved up")).toHaveLength(1);

    const later = await createSchedule(apiKey, participantId, { message: "Pushed back", due_at: inMs(500) });
    const pushed = await call("PATCH", schedulePath(participantId, later.id), { token: apiKey, body: { due_at: inMs(HOUR) } });
    expect(pushed.json.next_due_at).toBeTruthy();
    // The alarm set for the old time rings, finds nothing due and re-arms for the new one.
    await eventually(async () => ((await alarmOf(participantId)) === Date.parse(pushed.json.next_due_at) ? true : undefined));
    expect(await botMessages(apiKey, conversation.conversation_id, "Pushed back")).toHaveLength(0);
    expect(await getSchedule(apiKey, participantId, later.id)).toMatchObject({ fired_count: 0, status: "active" });
  });

  it("a cancelled schedule never fires and keeps its history", async () => {
    const conversation = await startConversation();
    const { apiKey } = conversation.team;
    const participantId = conversation.participant_id;
    const schedule = await createSchedule(apiKey, participantId, {
      message: "Daily",
      due_at: inMs(300),
      every: { count: 1, unit: "days" },
    });
    await firedTimes(apiKey, participantId, schedule.id, 1);
    await env.DB.prepare("UPDATE schedules SET next_due_at = ? WHERE id = ?").bind(inMs(500), schedule.id).run();
    const cancelled = await call("DELETE", schedulePath(participantId, schedule.id), { token: apiKey });
    expect(cancelled.json).toMatchObject({ status: "cancelled", fired_count: 1, next_due_at: null });
    await sleep(800);
    await runAlarmNow(participantId);
    expect(await botMessages(apiKey, conversation.conversation_id, "Daily")).toHaveLength(1);
    expect(await getSchedule(apiKey, participantId, schedule.id)).toEqual(cancelled.json);
  });

  it("gives up a post that keeps failing after its attempts and records the firing, so the alarm moves on", async () => {
    const { apiKey, chatbot } = await teamWithChatbot();
    const participant = await createParticipant(apiKey, chatbot.id);
    const teamId = (await env.DB.prepare("SELECT team_id FROM participants WHERE id = ?")
      .bind(participant.id)
      .first<{ team_id: string }>())!.team_id;
    // An open conversation in the index whose object never started: every post to it throws.
    await env.DB.prepare(
      "INSERT INTO conversations (id, team_id, chatbot_id, channel, participant_id, started_at) VALUES (?, ?, ?, 'api', ?, ?)",
    )
      .bind(newId("conv"), teamId, chatbot.id, participant.id, new Date().toISOString())
      .run();
    const stuck = await createSchedule(apiKey, participant.id, { message: "Stuck", due_at: inMs(-1_000) });
    let runs = 0;
    while ((await getSchedule(apiKey, participant.id, stuck.id)).fired_count === 0 && runs < 12) {
      await runAlarmNow(participant.id);
      runs++;
    }
    expect(runs).toBeLessThanOrEqual(8);
    expect(await getSchedule(apiKey, participant.id, stuck.id)).toMatchObject({ status: "completed", fired_count: 1, skipped_count: 1 });
  });

  it("is served by the object of its own participant only", async () => {
    const a = await startConversation();
    const intruder = await createTeam();
    expect(intruder.apiKey).toBeTruthy();
    const schedule = await createSchedule(a.team.apiKey, a.participant_id, { message: "Mine", due_at: inMs(HOUR) });
    expect(await alarmOf(a.participant_id)).toBe(Date.parse(schedule.next_due_at!));
    expect(await alarmOf(newId("part"))).toBeNull();
  });
});
