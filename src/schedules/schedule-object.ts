import { DurableObject } from "cloudflare:workers";
import { conversationClient } from "../conversations/client";
import { findLatestOpenConversation } from "../conversations/storage";
import { nowIso } from "../shared/time";
import { newEventId } from "../webhooks/events";
import { publishScheduleFired } from "./events";
import { type FiringOutcome, firingMessageId, followingOccurrence, scheduleFiredEvent } from "./firing";
import { findEarliestDue, listDueSchedules, recordFiring, type ScheduleRow } from "./storage";

const PARTICIPANT_KEY = "participant";
const FAILURES_KEY = "failures";
/** One entry per firing under way, `firing:<schedule id>#<n>`, removed once D1 has recorded it. */
const JOURNAL_PREFIX = "firing:";
/** Firings handled per alarm run; more due ones leave the alarm due at once for the next run. */
const DUE_BATCH = 25;
/** A failed run is retried after this, doubling to the cap, for as long as it fails. */
const RETRY_MS = { first: 2_000, max: 300_000 };
/** Runs of one firing before what still fails is given up (a message as `failed`), so it cannot hold back the others. */
const MAX_ATTEMPTS = 8;

/** What a firing chose the first time it ran: a retry reuses it, so it posts to one conversation under one event id. */
type JournalEntry = { conversationId: string | null; eventId: string; firedAt: string; attempts: number };

/**
 * One per participant with schedules (`idFromName(participant id)`). D1's `schedules` table
 * is the truth; this object holds only the participant's id and an alarm set no later than
 * the earliest `next_due_at` of their active schedules. An alarm that rings early (a
 * schedule moved later or cancelled) finds nothing due and re-arms: it is never late.
 * Firings of one participant run one after the other, here.
 */
export class ScheduleObject extends DurableObject<Env> {
  /** Makes sure the alarm rings no later than `atMs`; the route calls it after each write that moves a due time. */
  async arm(participantId: string, atMs: number): Promise<void> {
    this.ctx.storage.kv.put(PARTICIPANT_KEY, participantId);
    await this.alarmNoLaterThan(atMs);
  }

  /**
   * Keeps whichever alarm is sooner. While the alarm runs, `getAlarm` answers null unless
   * `arm` set one meanwhile, so a schedule created during a run is never lost.
   */
  private async alarmNoLaterThan(atMs: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || atMs < current) await this.ctx.storage.setAlarm(atMs);
  }

  override async alarm(): Promise<void> {
    const participantId = this.ctx.storage.kv.get<string>(PARTICIPANT_KEY);
    if (!participantId) return;
    let failed = false;
    try {
      const due = await listDueSchedules(this.env.DB, participantId, nowIso(), DUE_BATCH);
      for (const row of due) {
        try {
          await this.fire(row);
        } catch (error) {
          console.error("schedule firing failed", row.id, error);
          failed = true;
        }
      }
      if (!failed) {
        this.ctx.storage.kv.delete(FAILURES_KEY);
        const earliest = await findEarliestDue(this.env.DB, participantId);
        if (earliest !== null) await this.alarmNoLaterThan(Date.parse(earliest));
        return;
      }
    } catch (error) {
      console.error("schedule alarm failed", participantId, error);
    }
    // Retried here rather than by the platform, whose retries end after six.
    const failures = (this.ctx.storage.kv.get<number>(FAILURES_KEY) ?? 0) + 1;
    this.ctx.storage.kv.put(FAILURES_KEY, failures);
    await this.alarmNoLaterThan(Date.now() + Math.min(RETRY_MS.first * 2 ** (failures - 1), RETRY_MS.max));
  }

  /**
   * One firing, exactly once whatever fails midway: the conversation and event id are
   * journaled before anything leaves, the message carries the firing's own client id
   * (a retry is answered with the first message, stored once), the event keeps its id
   * (one delivery id per webhook), and D1 counts the firing only against the fired count
   * it was read with.
   */
  private async fire(row: ScheduleRow): Promise<void> {
    const firing = row.fired_count + 1;
    const messageId = firingMessageId(row.id, firing);
    const key = JOURNAL_PREFIX + messageId;
    let entry = this.ctx.storage.kv.get<JournalEntry>(key);
    if (!entry) {
      const open = await findLatestOpenConversation(this.env.DB, row.team_id, row.participant_id);
      // Read again after the await: a choice journaled meanwhile stands.
      entry = this.ctx.storage.kv.get<JournalEntry>(key) ?? {
        conversationId: open?.id ?? null,
        eventId: newEventId(),
        firedAt: nowIso(),
        attempts: 0,
      };
    }
    entry = { ...entry, attempts: entry.attempts + 1 };
    this.ctx.storage.kv.put(key, entry);

    // Past the last attempt, what still fails is given up so the firing is recorded and the next ones run.
    const lastAttempt = entry.attempts >= MAX_ATTEMPTS;
    const outcome: FiringOutcome = { firing, conversationId: entry.conversationId, messageId: null, firedAt: entry.firedAt, failed: false };
    if (entry.conversationId !== null) {
      try {
        const posted = await conversationClient(this.env, entry.conversationId).postStaffMessage({
          role: "bot",
          text: row.message,
          clientMessageId: messageId,
        });
        outcome.messageId = posted.message.id;
      } catch (error) {
        if (!lastAttempt) throw error;
        console.error("schedule message given up", row.id, firing, error);
        outcome.failed = true;
      }
    }
    try {
      await publishScheduleFired(this.env, scheduleFiredEvent(entry.eventId, row, outcome));
    } catch (error) {
      if (!lastAttempt) throw error;
      console.error("schedule.fired given up", row.id, firing, error);
    }
    await recordFiring(this.env.DB, {
      id: row.id,
      firedCount: row.fired_count,
      dueAt: row.next_due_at!,
      anchor: row.anchor,
      skipped: outcome.messageId === null,
      firedAt: entry.firedAt,
      next: followingOccurrence(row, Date.parse(entry.firedAt)),
    }).run();
    this.ctx.storage.kv.delete(key);
  }
}
