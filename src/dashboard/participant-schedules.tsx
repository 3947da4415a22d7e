/** @jsxImportSource hono/jsx */
import { Temporal } from "temporal-polyfill";
import type { ParticipantRow } from "../participants/storage";
import { EVERY_UNITS, type Every, seriesTimezone } from "../schedules/recurrence";
import { everyOf, listScheduleOverview, type ScheduleRow } from "../schedules/storage";
import { shorten } from "./automation-labels";
import { ConfirmAction } from "./confirm";
import { formatTime, Section, Value, type Viewer } from "./layout";

/**
 * The participant page's Schedules section: the active schedules soonest first, then the
 * newest finished ones (cancelled ones stay listed with their status). Times are shown in
 * the participant's timezone and in UTC; the forms take a wall-clock time in the
 * participant's timezone, which src/dashboard/client/schedules.ts turns into RFC 3339 with
 * that zone's offset before it calls the API.
 */

/** Active schedules a participant can have (the routes' cap), all listed. */
const ACTIVE_SHOWN = 100;
/** Completed and cancelled schedules listed, newest first. */
const FINISHED_SHOWN = 20;

export type ScheduleOverview = Awaited<ReturnType<typeof listScheduleOverview>> & { timezone: string };

export async function loadSchedules(db: D1Database, participant: ParticipantRow, teamId: string): Promise<ScheduleOverview> {
  const overview = await listScheduleOverview(db, {
    teamId,
    participantId: participant.id,
    activeLimit: ACTIVE_SHOWN,
    finishedLimit: FINISHED_SHOWN,
  });
  return { ...overview, timezone: seriesTimezone(participant.timezone) };
}

/** An instant as a wall-clock time in `timezone`: "2026-03-28 09:00" and the `datetime-local` value "2026-03-28T09:00". */
function wallClock(iso: string, timezone: string): { text: string; input: string } {
  const local = Temporal.Instant.from(iso).toZonedDateTimeISO(timezone).toPlainDateTime().toString({ smallestUnit: "minute" });
  return { text: local.replace("T", " "), input: local };
}

/** An instant shown in the participant's timezone, with UTC under it. */
function When({ iso, timezone }: { iso: string; timezone: string }) {
  const local = wallClock(iso, timezone);
  return (
    <>
      <time datetime={iso}>
        {local.text} <span class="tz">{timezone}</span>
      </time>
      {timezone === "UTC" ? null : (
        <>
          <br />
          <span class="help">{formatTime(iso)}</span>
        </>
      )}
    </>
  );
}

const UNIT_NAMES: Record<Every["unit"], [string, string]> = {
  minutes: ["minute", "minutes"],
  hours: ["hour", "hours"],
  days: ["day", "days"],
  weeks: ["week", "weeks"],
  months: ["month", "months"],
};

function everyText(every: Every | null): string {
  if (every === null) return "Once";
  const [one, many] = UNIT_NAMES[every.unit] ?? [every.unit, every.unit];
  return every.count === 1 ? `Every ${one}` : `Every ${every.count} ${many}`;
}

const STATUS_LABELS: Record<ScheduleRow["status"], string> = { active: "Active", completed: "Completed", cancelled: "Cancelled" };

function ScheduleRowView({ row, timezone, canWrite }: { row: ScheduleRow; timezone: string; canWrite: boolean }) {
  const every = everyOf(row);
  const name = `schedule ${shorten(row.name, 40)}`;
  const moveId = `move-${row.id}`;
  return (
    <tr data-schedule-id={row.id} data-status={row.status}>
      <th scope="row" id={`schedule-${row.id}`} tabindex={-1}>
        <Value>{row.name}</Value>
      </th>
      <td class="schedule-message">
        <Value>{shorten(row.message, 300)}</Value>
      </td>
      <td>{row.next_due_at === null ? "—" : <When iso={row.next_due_at} timezone={timezone} />}</td>
      <td>
        {everyText(every)}
        {every !== null && row.repetitions !== null ? (
          <>
            <br />
            <span class="help">{row.repetitions} times in all</span>
          </>
        ) : null}
        {every !== null && row.end_at !== null ? (
          <>
            <br />
            <span class="help">
              until <When iso={row.end_at} timezone={timezone} />
            </span>
          </>
        ) : null}
        {row.timezone !== timezone ? (
          <>
            <br />
            <span class="help">keeps the wall-clock time of {row.timezone}</span>
          </>
        ) : null}
      </td>
      <td class="count">
        {row.fired_count}
        {row.skipped_count > 0 ? <span class="help"> ({row.skipped_count} skipped)</span> : null}
      </td>
      <td class={`schedule-${row.status}`}>{STATUS_LABELS[row.status] ?? row.status}</td>
      {canWrite ? (
        <td>
          {row.status === "active" && row.next_due_at !== null ? (
            <div class="row-actions">
              <button type="button" data-disclose aria-expanded="false" aria-controls={moveId} aria-label={`Move: ${name}`}>
                Move
              </button>
              <ConfirmAction
                label="Cancel schedule"
                confirmLabel="Confirm cancel"
                name={name}
                method="DELETE"
                url={`/v1/participants/${row.participant_id}/schedules/${row.id}`}
                done="The schedule was cancelled: it stays listed and never fires again."
              />
              <form
                id={moveId}
                class="move-form"
                data-schedule-move
                data-schedule-id={row.id}
                data-url={`/v1/participants/${row.participant_id}/schedules/${row.id}`}
                hidden
                novalidate
              >
                <label for={`${moveId}-due`}>New due time ({timezone})</label>
                <input
                  id={`${moveId}-due`}
                  name="due_at"
                  type="datetime-local"
                  value={wallClock(row.next_due_at, timezone).input}
                  required
                  data-pointer="/due_at"
                  aria-describedby={`${moveId}-due-error`}
                />
                <p id={`${moveId}-due-error`} class="field-error" hidden />
                <div class="actions">
                  <button type="submit" class="primary" aria-label={`Move schedule ${shorten(row.name, 40)}`}>
                    Move schedule
                  </button>
                  <p class="form-status" role="status" />
                </div>
              </form>
            </div>
          ) : null}
        </td>
      ) : null}
    </tr>
  );
}

function ScheduleForm({ participant, timezone }: { participant: ParticipantRow; timezone: string }) {
  return (
    <form
      class="settings automation-form schedule-create"
      data-schedule-create
      data-participant-id={participant.id}
      data-timezone={timezone}
      novalidate
    >
      <h3 id="schedule-create-heading">Add a schedule</h3>
      <label for="schedule-name">Title</label>
      <input
        id="schedule-name"
        name="name"
        required
        maxlength={200}
        autocomplete="off"
        dir="auto"
        data-pointer="/name"
        aria-describedby="schedule-name-error"
      />
      <p id="schedule-name-error" class="field-error" hidden />
      <label for="schedule-message">Message</label>
      <textarea
        id="schedule-message"
        name="message"
        rows={3}
        required
        dir="auto"
        data-pointer="/message"
        aria-describedby="schedule-message-help schedule-message-error"
      />
      <p id="schedule-message-help" class="help">
        Posted as a bot message in the participant's most recent open conversation.
      </p>
      <p id="schedule-message-error" class="field-error" hidden />
      <label for="schedule-due">First due time</label>
      <input
        id="schedule-due"
        name="due_at"
        type="datetime-local"
        required
        data-pointer="/due_at"
        aria-describedby="schedule-due-help schedule-due-error"
      />
      <p id="schedule-due-help" class="help">
        In the participant's timezone, {timezone}.
      </p>
      <p id="schedule-due-error" class="field-error" hidden />
      <fieldset data-pointer="/every" aria-describedby="schedule-every-help schedule-every-error">
        <legend>Repeat</legend>
        <p id="schedule-every-help" class="help">
          Leave the count empty for a one-off. Days, weeks and months keep the wall-clock time across daylight-saving changes.
        </p>
        <div class="inline-fields">
          <div>
            <label for="schedule-every-count">Every</label>
            <input
              id="schedule-every-count"
              name="every_count"
              type="number"
              inputmode="numeric"
              min={1}
              max={1000}
              step={1}
              data-pointer="/every/count"
              aria-describedby="schedule-every-count-error"
            />
          </div>
          <div>
            <label for="schedule-every-unit">Unit</label>
            <select id="schedule-every-unit" name="every_unit" data-pointer="/every/unit" aria-describedby="schedule-every-unit-error">
              {EVERY_UNITS.map((unit) => (
                <option value={unit} selected={unit === "days"}>
                  {unit}
                </option>
              ))}
            </select>
          </div>
        </div>
        <p id="schedule-every-count-error" class="field-error" hidden />
        <p id="schedule-every-unit-error" class="field-error" hidden />
        <label for="schedule-repetitions">Repetitions (optional)</label>
        <input
          id="schedule-repetitions"
          name="repetitions"
          type="number"
          inputmode="numeric"
          min={1}
          max={10000}
          step={1}
          data-pointer="/repetitions"
          aria-describedby="schedule-repetitions-help schedule-repetitions-error"
        />
        <p id="schedule-repetitions-help" class="help">
          How many times it fires in all; empty for no limit.
        </p>
        <p id="schedule-repetitions-error" class="field-error" hidden />
        <label for="schedule-end">End at (optional)</label>
        <input
          id="schedule-end"
          name="end_at"
          type="datetime-local"
          data-pointer="/end_at"
          aria-describedby="schedule-end-help schedule-end-error"
        />
        <p id="schedule-end-help" class="help">
          In {timezone}; no occurrence after it.
        </p>
        <p id="schedule-end-error" class="field-error" hidden />
      </fieldset>
      <p id="schedule-every-error" class="field-error" hidden />
      <div class="actions">
        <button type="submit" class="primary">
          Add schedule
        </button>
        <p class="form-status" role="status" />
      </div>
    </form>
  );
}

export function SchedulesSection({
  participant,
  schedules,
  viewer,
}: {
  participant: ParticipantRow;
  schedules: ScheduleOverview;
  viewer: Viewer;
}) {
  const canWrite = viewer.scope === "write";
  const rows = [...schedules.active, ...schedules.finished];
  const timezone = schedules.timezone;
  return (
    <Section id="schedules" title="Schedules">
      <p class="help">
        Reminders posted to this participant. Times are shown in the participant's timezone, <strong>{timezone}</strong>
        {participant.timezone === null ? " (none is set in the customer record, so UTC)" : ""}, with UTC under them.
      </p>
      <div id="schedules-list" data-refresh data-timezone={timezone}>
        {rows.length === 0 ? (
          <p>No schedules yet.</p>
        ) : (
          <div class="table-scroll">
            <table class="automation schedules">
              <caption class="visually-hidden">
                The participant's schedules: active ones soonest first, then finished ones, newest first
              </caption>
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">Message</th>
                  <th scope="col">Next due</th>
                  <th scope="col">Repeats</th>
                  <th scope="col" class="count">
                    Fired
                  </th>
                  <th scope="col">Status</th>
                  {canWrite ? <th scope="col">Change</th> : null}
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <ScheduleRowView row={row} timezone={timezone} canWrite={canWrite} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {schedules.moreFinished ? (
          <p class="help">
            The {FINISHED_SHOWN} newest finished schedules are shown; <code>GET /v1/participants/{participant.id}/schedules</code> lists
            them all.
          </p>
        ) : null}
      </div>
      <p class="form-status section-status" role="status" tabindex={-1} data-section-status />
      {canWrite ? <ScheduleForm participant={participant} timezone={timezone} /> : null}
    </Section>
  );
}
