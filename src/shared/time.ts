export const nowIso = () => new Date().toISOString();

// Constructing an Intl.DateTimeFormat is costly and the widget sends its timezone with
// every message, so names found valid are remembered; the valid set is finite (~600).
const knownTimezones = new Set<string>();

/** True for IANA names the runtime's time zone database knows (e.g. "Europe/Vilnius"). */
export function isIanaTimezone(name: string): boolean {
  if (knownTimezones.has(name)) return true;
  if (name.length === 0 || name.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
  } catch {
    return false;
  }
  if (knownTimezones.size < 2_000) knownTimezones.add(name);
  return true;
}
