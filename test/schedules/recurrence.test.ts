import { describe, expect, it } from "vitest";
import { followingOccurrence } from "../../src/schedules/firing";
import {
  anchorOf,
  anchorWallClock,
  type Every,
  isoOf,
  nextOccurrence,
  occurrenceAt,
  parseInstant,
  type Series,
  seriesTimezone,
} from "../../src/schedules/recurrence";
import type { ScheduleRow } from "../../src/schedules/storage";

const ms = (text: string) => {
  const value = parseInstant(text);
  if (value === null) throw new Error(`not a time: ${text}`);
  return value;
};

/** A series first due at `first` (RFC 3339), anchored in `timezone`. */
const series = (first: string, timezone: string, every: Every | null): Series => ({ anchor: anchorOf(ms(first), timezone), every });

/** Occurrences 0..count-1 of the series, as UTC instants. */
const occurrences = (s: Series, count: number) => Array.from({ length: count }, (_, index) => isoOf(occurrenceAt(s, index)!));

describe("recurrences keep the wall-clock time across DST", () => {
  it("a daily 09:00 Europe/Paris fires at 09:00 local on both sides of 2026-03-29: the UTC instant moves an hour earlier", () => {
    const daily = series("2026-03-27T09:00:00+01:00", "Europe/Paris", { count: 1, unit: "days" });
    expect(anchorWallClock(daily.anchor)).toBe("2026-03-27T09:00:00");
    expect(occurrences(daily, 4)).toEqual([
      "2026-03-27T08:00:00.000Z",
      "2026-03-28T08:00:00.000Z",
      "2026-03-29T07:00:00.000Z",
      "2026-03-30T07:00:00.000Z",
    ]);
  });

  it("a daily 09:00 Europe/Paris fires at 09:00 local on both sides of 2026-10-25: the UTC instant moves an hour later", () => {
    const daily = series("2026-10-24T07:00:00Z", "Europe/Paris", { count: 1, unit: "days" });
    expect(anchorWallClock(daily.anchor)).toBe("2026-10-24T09:00:00");
    expect(occurrences(daily, 3)).toEqual(["2026-10-24T07:00:00.000Z", "2026-10-25T08:00:00.000Z", "2026-10-26T08:00:00.000Z"]);
  });

  it("a daily 09:00 America/New_York keeps 09:00 across 2026-03-08 and 2026-11-01", () => {
    const spring = series("2026-03-07T09:00:00-05:00", "America/New_York", { count: 1, unit: "days" });
    expect(occurrences(spring, 3)).toEqual(["2026-03-07T14:00:00.000Z", "2026-03-08T13:00:00.000Z", "2026-03-09T13:00:00.000Z"]);
    const autumn = series("2026-10-31T09:00:00-04:00", "America/New_York", { count: 1, unit: "days" });
    expect(occurrences(autumn, 3)).toEqual(["2026-10-31T13:00:00.000Z", "2026-11-01T14:00:00.000Z", "2026-11-02T14:00:00.000Z"]);
  });

  it("a weekly Monday 09:00 Europe/Paris keeps 09:00 across 2026-03-29", () => {
    const weekly = series("2026-03-23T09:00:00+01:00", "Europe/Paris", { count: 1, unit: "weeks" });
    expect(occurrences(weekly, 3)).toEqual(["2026-03-23T08:00:00.000Z", "2026-03-30T07:00:00.000Z", "2026-04-06T07:00:00.000Z"]);
  });

  it("every 2 days across the New York change still lands on 09:00 local", () => {
    const everyOther = series("2026-03-07T09:00:00-05:00", "America/New_York", { count: 2, unit: "days" });
    expect(occurrences(everyOther, 2)).toEqual(["2026-03-07T14:00:00.000Z", "2026-03-09T13:00:00.000Z"]);
  });

  it("hours and minutes are exact durations: every hour across 2026-03-08 in New York is 60 minutes apart in UTC", () => {
    const hourly = series("2026-03-08T00:30:00-05:00", "America/New_York", { count: 1, unit: "hours" });
    const times = occurrences(hourly, 4).map((text) => Date.parse(text));
    expect(times.slice(1).map((time, i) => time - times[i]!)).toEqual([3_600_000, 3_600_000, 3_600_000]);
    const everyNinety = series("2026-10-25T01:00:00+02:00", "Europe/Paris", { count: 90, unit: "minutes" });
    expect(occurrences(everyNinety, 3)).toEqual(["2026-10-24T23:00:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-25T02:00:00.000Z"]);
  });

  it("a wall-clock time the spring change skips fires an hour later that day, and at the usual time after", () => {
    const daily = series("2026-03-07T02:30:00-05:00", "America/New_York", { count: 1, unit: "days" });
    // 02:30 does not exist on 2026-03-08 in New York: it is read as 03:30 EDT (Temporal's "compatible").
    expect(occurrences(daily, 3)).toEqual(["2026-03-07T07:30:00.000Z", "2026-03-08T07:30:00.000Z", "2026-03-09T06:30:00.000Z"]);
  });

  it("a wall-clock time the autumn change repeats fires once, at its first (summer-time) instance", () => {
    const daily = series("2026-10-31T01:30:00-04:00", "America/New_York", { count: 1, unit: "days" });
    expect(occurrences(daily, 3)).toEqual(["2026-10-31T05:30:00.000Z", "2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
  });

  it("the first occurrence is the exact due instant, even the second instance of a repeated hour", () => {
    // 01:30 EST on 2026-11-01, the later of the two 01:30s.
    const daily = series("2026-11-01T01:30:00-05:00", "America/New_York", { count: 1, unit: "days" });
    expect(occurrences(daily, 2)).toEqual(["2026-11-01T06:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
  });
});

describe("months are added on the local calendar, counted from the anchor", () => {
  it("Jan 31 + 1 month is Feb 28, + 2 months is Mar 31 (not Mar 28), at 09:00 Paris across the DST change", () => {
    const monthly = series("2026-01-31T09:00:00+01:00", "Europe/Paris", { count: 1, unit: "months" });
    expect(occurrences(monthly, 4)).toEqual([
      "2026-01-31T08:00:00.000Z",
      "2026-02-28T08:00:00.000Z",
      "2026-03-31T07:00:00.000Z",
      "2026-04-30T07:00:00.000Z",
    ]);
  });

  it("Jan 31 + 1 month in a leap year is Feb 29", () => {
    const monthly = series("2028-01-31T12:00:00Z", "UTC", { count: 1, unit: "months" });
    expect(occurrences(monthly, 2)).toEqual(["2028-01-31T12:00:00.000Z", "2028-02-29T12:00:00.000Z"]);
  });
});

describe("nextOccurrence", () => {
  const daily = series("2026-03-27T09:00:00+01:00", "Europe/Paris", { count: 1, unit: "days" });

  it("is the following occurrence after an on-time firing, strictly after the firing time", () => {
    expect(nextOccurrence(daily, 0, ms("2026-03-27T08:00:00.000Z"))).toEqual({ index: 1, dueAtMs: ms("2026-03-28T08:00:00Z") });
    expect(nextOccurrence(daily, 0, ms("2026-03-27T08:00:01.500Z"))).toEqual({ index: 1, dueAtMs: ms("2026-03-28T08:00:00Z") });
  });

  it("passes over occurrences missed while the object was down, never firing them in a burst", () => {
    expect(nextOccurrence(daily, 0, ms("2026-04-05T10:00:00+02:00"))).toEqual({ index: 10, dueAtMs: ms("2026-04-06T07:00:00Z") });
    // Exactly on a missed occurrence: that one has passed too.
    expect(nextOccurrence(daily, 0, ms("2026-04-06T07:00:00Z"))).toEqual({ index: 11, dueAtMs: ms("2026-04-07T07:00:00Z") });
  });

  it("finds the occurrence after a long outage at once, for every unit", () => {
    const started = performance.now();
    const minutely = series("2026-01-01T00:00:00Z", "UTC", { count: 1, unit: "minutes" });
    expect(nextOccurrence(minutely, 0, ms("2027-01-01T00:00:30Z"))).toEqual({ index: 525_601, dueAtMs: ms("2027-01-01T00:01:00Z") });
    const monthly = series("2026-01-31T09:00:00+01:00", "Europe/Paris", { count: 3, unit: "months" });
    expect(nextOccurrence(monthly, 0, ms("2030-06-01T00:00:00Z"))).toMatchObject({ index: 18, dueAtMs: ms("2030-07-31T07:00:00Z") });
    const weekly = series("2026-03-23T09:00:00+01:00", "Europe/Paris", { count: 2, unit: "weeks" });
    const next = nextOccurrence(weekly, 0, ms("2031-01-01T00:00:00Z"))!;
    expect(occurrenceAt(weekly, next.index - 1)! <= ms("2031-01-01T00:00:00Z")).toBe(true);
    expect(next.dueAtMs > ms("2031-01-01T00:00:00Z")).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("is null for a one-off", () => {
    expect(nextOccurrence(series("2026-03-27T09:00:00Z", "UTC", null), 0, ms("2026-03-27T09:00:00Z"))).toBeNull();
  });
});

describe("the timezone a series is anchored in", () => {
  it("is the participant's, canonically spelled, or UTC where there is none or it is unknown", () => {
    expect(seriesTimezone("Europe/Paris")).toBe("Europe/Paris");
    expect(seriesTimezone(null)).toBe("UTC");
    expect(seriesTimezone("Mars/Olympus_Mons")).toBe("UTC");
  });
});

/** A schedule row as storage holds it, for the pure rules of what follows a firing. */
function row(first: string, overrides: Partial<ScheduleRow> = {}): ScheduleRow {
  return {
    id: "sch_00000000000000000000000000",
    team_id: "team_x",
    chatbot_id: "cb_x",
    participant_id: "part_x",
    name: "n",
    message: "m",
    anchor: anchorOf(ms(first), "Europe/Paris"),
    timezone: "Europe/Paris",
    every_count: 1,
    every_unit: "days",
    repetitions: null,
    end_at: null,
    occurrence: 0,
    next_due_at: isoOf(ms(first)),
    fired_count: 0,
    skipped_count: 0,
    last_fired_at: null,
    status: "active",
    created_at: first,
    updated_at: first,
    ...overrides,
  };
}

describe("what follows a firing", () => {
  const first = "2026-03-27T08:00:00.000Z";

  it("a one-off has nothing after it", () => {
    expect(followingOccurrence(row(first, { every_count: null, every_unit: null }), ms(first))).toBeNull();
  });

  it("repetitions count firings: the third of 3 is the last", () => {
    const third = row(first, { repetitions: 3, fired_count: 2, occurrence: 2, next_due_at: "2026-03-29T07:00:00.000Z" });
    expect(followingOccurrence({ ...third, fired_count: 1 }, ms("2026-03-29T07:00:00Z"))).toEqual({
      occurrence: 3,
      dueAt: "2026-03-30T07:00:00.000Z",
    });
    expect(followingOccurrence(third, ms("2026-03-29T07:00:00Z"))).toBeNull();
  });

  it("end_at ends the series: an occurrence at end_at itself still fires, one after it does not", () => {
    const atEnd = row(first, { end_at: "2026-03-29T07:00:00.000Z" });
    expect(followingOccurrence({ ...atEnd, occurrence: 1 }, ms("2026-03-28T08:00:00Z"))).toEqual({
      occurrence: 2,
      dueAt: "2026-03-29T07:00:00.000Z",
    });
    expect(followingOccurrence({ ...atEnd, end_at: "2026-03-29T06:59:59.999Z", occurrence: 1 }, ms("2026-03-28T08:00:00Z"))).toBeNull();
  });
});
