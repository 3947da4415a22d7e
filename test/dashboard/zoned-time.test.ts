import { describe, expect, it } from "vitest";
import { zonedToRfc3339 } from "../../src/dashboard/client/zoned-time";

/** The instant an RFC 3339 answer names, as Date.toISOString. */
const instant = (result: ReturnType<typeof zonedToRfc3339>) => (result.ok ? new Date(result.rfc3339).toISOString() : result.reason);

describe("a datetime-local value read in the participant's timezone", () => {
  it("takes the zone's offset of that day, not the browser's", () => {
    expect(zonedToRfc3339("2026-03-28T09:00", "Europe/Paris")).toEqual({ ok: true, rfc3339: "2026-03-28T09:00:00+01:00" });
    expect(zonedToRfc3339("2026-03-30T09:00", "Europe/Paris")).toEqual({ ok: true, rfc3339: "2026-03-30T09:00:00+02:00" });
    expect(zonedToRfc3339("2026-07-01T18:30", "America/New_York")).toEqual({ ok: true, rfc3339: "2026-07-01T18:30:00-04:00" });
    expect(zonedToRfc3339("2026-12-01T00:15", "Asia/Kolkata")).toEqual({ ok: true, rfc3339: "2026-12-01T00:15:00+05:30" });
    expect(zonedToRfc3339("2026-01-01T00:00", "UTC")).toEqual({ ok: true, rfc3339: "2026-01-01T00:00:00+00:00" });
    expect(zonedToRfc3339("2026-01-01T00:00:30", "Pacific/Chatham")).toEqual({ ok: true, rfc3339: "2026-01-01T00:00:30+13:45" });
  });

  it("refuses a time the clocks skip, and reads one they show twice as the earlier", () => {
    // Paris springs forward at 02:00 on 2026-03-29; New York at 02:00 on 2026-03-08.
    expect(zonedToRfc3339("2026-03-29T02:30", "Europe/Paris")).toMatchObject({ ok: false, reason: "nonexistent" });
    expect(zonedToRfc3339("2026-03-08T02:30", "America/New_York")).toMatchObject({ ok: false, reason: "nonexistent" });
    expect(zonedToRfc3339("2026-03-29T03:00", "Europe/Paris")).toEqual({ ok: true, rfc3339: "2026-03-29T03:00:00+02:00" });
    // They fall back at 03:00 (Paris, 2026-10-25) and 02:00 (New York, 2026-11-01): 02:30 / 01:30 happen twice.
    expect(zonedToRfc3339("2026-10-25T02:30", "Europe/Paris")).toEqual({ ok: true, rfc3339: "2026-10-25T02:30:00+02:00" });
    expect(instant(zonedToRfc3339("2026-11-01T01:30", "America/New_York"))).toBe("2026-11-01T05:30:00.000Z");
  });

  it("refuses what is not a date and time, a date that does not exist, and a zone Intl does not know", () => {
    expect(zonedToRfc3339("", "UTC")).toMatchObject({ ok: false, reason: "invalid" });
    expect(zonedToRfc3339("2026-02-30T10:00", "UTC")).toMatchObject({ ok: false, reason: "invalid" });
    expect(zonedToRfc3339("2026-02-03T24:00", "UTC")).toMatchObject({ ok: false, reason: "invalid" });
    expect(zonedToRfc3339("2026-02-03T10:00Z", "UTC")).toMatchObject({ ok: false, reason: "invalid" });
    expect(zonedToRfc3339("2026-02-03T10:00", "Mars/Olympus")).toMatchObject({ ok: false, reason: "unknown-timezone" });
  });
});
