import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ScheduleObject } from "../../src/schedules/schedule-object";
import { call } from "../support/api";

export type ScheduleJson = {
  id: string;
  participant_id: string;
  name: string;
  message: string;
  next_due_at: string | null;
  every: { count: number; unit: string } | null;
  repetitions: number | null;
  end_at: string | null;
  timezone: string;
  fired_count: number;
  skipped_count: number;
  last_fired_at: string | null;
  status: "active" | "completed" | "cancelled";
  created_at: string;
  updated_at: string;
};

export const schedulesPath = (participantId: string) => `/v1/participants/${participantId}/schedules`;
export const schedulePath = (participantId: string, scheduleId: string) => `${schedulesPath(participantId)}/${scheduleId}`;

/** An RFC 3339 time `ms` from now. */
export const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

/** Creates a schedule through the API; throws unless 201. */
export async function createSchedule(apiKey: string, participantId: string, body: Record<string, unknown> = {}): Promise<ScheduleJson> {
  const response = await call("POST", schedulesPath(participantId), {
    token: apiKey,
    body: { name: "Check-in", message: "How are you today?", due_at: inMs(60 * 60 * 1000), ...body },
  });
  if (response.status !== 201) throw new Error(`schedule: ${response.status} ${response.text}`);
  return response.json;
}

export async function getSchedule(apiKey: string, participantId: string, scheduleId: string): Promise<ScheduleJson> {
  const response = await call("GET", schedulePath(participantId, scheduleId), { token: apiKey });
  if (response.status !== 200) throw new Error(`get schedule: ${response.status} ${response.text}`);
  return response.json;
}

export async function listSchedules(apiKey: string, participantId: string, query = ""): Promise<ScheduleJson[]> {
  const response = await call("GET", `${schedulesPath(participantId)}${query}`, { token: apiKey });
  if (response.status !== 200) throw new Error(`list schedules: ${response.status} ${response.text}`);
  return response.json.schedules;
}

/** The participant's ScheduleObject. */
export const scheduleStub = (participantId: string) =>
  env.SCHEDULES.get(env.SCHEDULES.idFromName(participantId)) as DurableObjectStub<ScheduleObject>;

/** When the participant's object's alarm is set for (ms), or null. */
export function alarmOf(participantId: string): Promise<number | null> {
  return runInDurableObject(scheduleStub(participantId), (_instance, state) => state.storage.getAlarm());
}

/** Runs the object's alarm handler at once, whether or not an alarm is pending: what a platform retry does. */
export function runAlarmNow(participantId: string): Promise<void> {
  return runInDurableObject(scheduleStub(participantId), (instance: ScheduleObject) => instance.alarm());
}

/** A conversation's messages as the API lists them, oldest first. */
export async function messagesOf(apiKey: string, conversationId: string): Promise<{ id: string; role: string; text: string }[]> {
  const response = await call("GET", `/v1/conversations/${conversationId}/messages?limit=100`, { token: apiKey });
  if (response.status !== 200) throw new Error(`messages: ${response.status} ${response.text}`);
  return response.json.messages;
}

/** Polls until `check` answers something other than undefined; throws after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5_000, everyMs = 20): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error("timed out waiting");
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
