export const nowIso = () => new Date().toISOString();

/** True for IANA names the runtime's time zone database knows (e.g. "Europe/Vilnius"). */
export function isIanaTimezone(name: string): boolean {
  if (name.length === 0 || name.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
