/**
 * When a schedule's occurrences fall: pure functions over Temporal (the polyfill: workerd
 * ships Temporal only behind a V8 flag). A series is its first due time as a zoned
 * date-time, the anchor, and a step. Occurrence k is the anchor plus k steps, always
 * counted from the anchor: days, weeks and months are added on the local calendar (the
 * wall-clock time survives DST; Jan 31 + 1 month is Feb 28 or 29 and + 2 months is Mar 31),
 * minutes and hours are exact durations.
 */
import { Temporal } from "temporal-polyfill";
import { isIanaTimezone } from "../shared/time";

export const EVERY_UNITS = ["minutes", "hours", "days", "weeks", "months"] as const;
export type EveryUnit = (typeof EVERY_UNITS)[number];
export type Every = { count: number; unit: EveryUnit };

export type Series = { anchor: string; every: Every | null };

/** The timezone a series is anchored in: the participant's, or UTC where it has none Temporal knows. */
export function seriesTimezone(timezone: string | null): string {
  if (timezone === null || !isIanaTimezone(timezone)) return "UTC";
  try {
    return Temporal.Now.zonedDateTimeISO(timezone).timeZoneId;
  } catch {
    return "UTC";
  }
}

/** The anchor of a series that first falls due at `dueAtMs`, in `timezone` (RFC 9557 text). */
export function anchorOf(dueAtMs: number, timezone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(dueAtMs).toZonedDateTimeISO(timezone).toString();
}

/** The wall-clock time of the anchor, as the participant reads it: "2026-03-28T09:00:00". */
export function anchorWallClock(anchor: string): string {
  return zoned(anchor).toPlainDateTime().toString();
}

// A stored offset that the zone's rules no longer give (a tzdata change) yields to the wall clock.
const zoned = (anchor: string) => Temporal.ZonedDateTime.from(anchor, { offset: "prefer" });

/** Occurrence `index` of the series, in ms since the epoch (null past Temporal's range). */
export function occurrenceAt(series: Series, index: number): number | null {
  const start = zoned(series.anchor);
  if (index === 0 || series.every === null) return index === 0 ? start.epochMilliseconds : null;
  try {
    return start.add({ [series.every.unit]: series.every.count * index }).epochMilliseconds;
  } catch {
    return null;
  }
}

/**
 * The first occurrence after `afterIndex` that falls strictly after `afterMs`: the next one
 * to fire once occurrence `afterIndex` has fired at `afterMs`. Occurrences missed meanwhile
 * (the object was down for longer than a step) are passed over, never fired in a burst.
 * Null where the series has no step or runs out of Temporal's range.
 */
export function nextOccurrence(series: Series, afterIndex: number, afterMs: number): { index: number; dueAtMs: number } | null {
  if (series.every === null) return null;
  const at = (index: number) => occurrenceAt(series, index);
  // Occurrences only grow with the index, so an estimate corrected both ways is exact.
  let index = Math.max(afterIndex + 1, estimateIndex(series, series.every, afterMs));
  while (index > afterIndex + 1 && (at(index - 1) ?? Number.POSITIVE_INFINITY) > afterMs) index--;
  for (;;) {
    const dueAtMs = at(index);
    if (dueAtMs === null) return null;
    if (dueAtMs > afterMs) return { index, dueAtMs };
    index++;
  }
}

/** About how many steps lie between the anchor and `ms`: whole units on the local calendar, divided by the step. */
function estimateIndex(series: Series, every: Every, ms: number): number {
  const start = zoned(series.anchor);
  if (ms <= start.epochMilliseconds) return 0;
  const target = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(start.timeZoneId);
  const units = start.until(target, { largestUnit: every.unit, smallestUnit: every.unit, roundingMode: "trunc" });
  return Math.floor(Math.abs(units[every.unit]) / every.count);
}

/** Epoch ms as the schedules table stores instants: Date.toISOString form, so text order is time order. */
export const isoOf = (ms: number) => new Date(ms).toISOString();

/** An RFC 3339 time with an offset, in ms since the epoch (sub-millisecond digits dropped), or null. */
export function parseInstant(text: string): number | null {
  try {
    return Temporal.Instant.from(text).epochMilliseconds;
  } catch {
    return null;
  }
}
