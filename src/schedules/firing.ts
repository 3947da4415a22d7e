/**
 * What one firing of a schedule posts, tells and leaves behind: pure rules, no storage.
 */
import type { DomainEvent } from "../webhooks/events";
import { isoOf, nextOccurrence } from "./recurrence";
import { everyOf, type ScheduleRow } from "./storage";

/**
 * The occurrence that follows the one firing at `firedAtMs`, or null where the schedule is
 * done: a one-off, the last of its `repetitions` (every firing counts, skipped ones too), or
 * the next would fall after `end_at` (an occurrence at `end_at` itself still fires).
 */
export function followingOccurrence(row: ScheduleRow, firedAtMs: number): { occurrence: number; dueAt: string } | null {
  const every = everyOf(row);
  if (every === null) return null;
  if (row.repetitions !== null && row.fired_count + 1 >= row.repetitions) return null;
  const next = nextOccurrence({ anchor: row.anchor, every }, row.occurrence, firedAtMs);
  if (next === null) return null;
  if (row.end_at !== null && next.dueAtMs > Date.parse(row.end_at)) return null;
  return { occurrence: next.index, dueAt: isoOf(next.dueAtMs) };
}

/** The sender's id of a firing's message: the conversation stores it once, however often the alarm retries. */
export const firingMessageId = (scheduleId: string, firing: number) => `${scheduleId}#${firing}`;

export type FiringOutcome = {
  /** 1 for the first firing of the schedule. */
  firing: number;
  /** The conversation it went to, or null: the participant had no open conversation (skipped). */
  conversationId: string | null;
  messageId: string | null;
  firedAt: string;
  /** The post kept failing and was given up: counted, and told to webhooks, as `failed`. */
  failed: boolean;
};

/** `posted`, `skipped` (no open conversation) or `failed` (the post was given up). */
export function outcomeOf(outcome: FiringOutcome): "posted" | "skipped" | "failed" {
  if (outcome.failed) return "failed";
  return outcome.conversationId === null ? "skipped" : "posted";
}

/** `schedule.fired`, for the team's webhooks. */
export function scheduleFiredEvent(eventId: string, row: ScheduleRow, outcome: FiringOutcome): DomainEvent {
  return {
    id: eventId,
    type: "schedule.fired",
    teamId: row.team_id,
    chatbotId: row.chatbot_id,
    timestamp: outcome.firedAt,
    data: {
      schedule_id: row.id,
      participant_id: row.participant_id,
      name: row.name,
      message: row.message,
      firing: outcome.firing,
      due_at: row.next_due_at,
      fired_at: outcome.firedAt,
      outcome: outcomeOf(outcome),
      conversation_id: outcome.conversationId,
      message_id: outcome.messageId,
    },
  };
}
