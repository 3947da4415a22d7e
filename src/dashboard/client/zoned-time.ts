// A wall-clock time typed into a `datetime-local` field, read in a named timezone (the
// participant's, not the browser's), as RFC 3339 with that zone's offset then: what the
// schedules API takes. The browser has no Temporal yet; Intl knows every zone's offsets,
// so the offset is found by asking Intl what wall clock candidate instants show. No DOM
// here: the workerd tests run it too.

export type ZonedResult =
  | { ok: true; rfc3339: string }
  | { ok: false; reason: "invalid" | "unknown-timezone" | "nonexistent"; detail: string };

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;
const DAY_MS = 86_400_000;

const formats = new Map<string, Intl.DateTimeFormat>();

function formatOf(timezone: string): Intl.DateTimeFormat {
  let format = formats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formats.set(timezone, format);
  }
  return format;
}

/** The wall clock `timezone` shows at `ms`, as if it were UTC (ms). */
function wallAt(ms: number, timezone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatOf(timezone).formatToParts(new Date(ms))) if (part.type !== "literal") parts[part.type] = Number(part.value);
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour! % 24, parts.minute!, parts.second!);
}

/** The zone's offset from UTC at `ms`, in whole minutes (ms). */
function offsetAt(ms: number, timezone: string): number {
  const whole = Math.floor(ms / 1000) * 1000;
  return Math.round((wallAt(whole, timezone) - whole) / 60_000) * 60_000;
}

function offsetText(offsetMs: number): string {
  const minutes = Math.abs(offsetMs) / 60_000;
  const sign = offsetMs < 0 ? "-" : "+";
  return `${sign}${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/**
 * "2026-03-28T09:00" in "Europe/Paris" -> "2026-03-28T09:00:00+01:00". A time the clocks
 * skip (a spring-forward gap) is refused, not moved; a time they show twice (fall back)
 * is the earlier of the two, as Temporal's "compatible" reads it.
 */
export function zonedToRfc3339(local: string, timezone: string): ZonedResult {
  const match = LOCAL.exec(local);
  if (!match) return { ok: false, reason: "invalid", detail: "Give a date and a time." };
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  const wall = Date.UTC(y!, mo! - 1, d!, h!, mi!, Number.isNaN(s) || s === undefined ? 0 : s);
  const check = new Date(wall);
  if (check.getUTCMonth() !== mo! - 1 || check.getUTCDate() !== d! || h! > 23 || mi! > 59) {
    return { ok: false, reason: "invalid", detail: "That date does not exist." };
  }
  try {
    formatOf(timezone);
  } catch {
    return { ok: false, reason: "unknown-timezone", detail: `This browser does not know the timezone ${timezone}.` };
  }
  // The offsets in force a day either side cover any one transition around this time.
  const candidates = [...new Set([offsetAt(wall - DAY_MS, timezone), offsetAt(wall, timezone), offsetAt(wall + DAY_MS, timezone)])]
    .map((offset) => ({ offset, instant: wall - offset }))
    .filter(({ instant }) => wallAt(instant, timezone) === wall)
    .sort((a, b) => a.instant - b.instant);
  const chosen = candidates[0];
  if (!chosen) {
    return {
      ok: false,
      reason: "nonexistent",
      detail: `The clocks in ${timezone} skip that time (daylight saving starts): choose another time.`,
    };
  }
  const pad = (n: number) => String(n).padStart(2, "0");
  const seconds = Number.isNaN(s) || s === undefined ? 0 : s;
  return { ok: true, rfc3339: `${y}-${pad(mo!)}-${pad(d!)}T${pad(h!)}:${pad(mi!)}:${pad(seconds)}${offsetText(chosen.offset)}` };
}
