import { copyObject, getOwn, isJsonObject, type JsonObject, type JsonValue, setOwn } from "../participants/json-data";

/** What a template may read about its participant. */
type TemplateInput = { data: JsonObject; name: string | null; timezone: string | null };

/**
 * A template rendered up to `{current_datetime}`: the prompt is `parts.join(now)`.
 * Everything but the clock depends only on the participant's version, name and
 * timezone and the template, which is what makes a render cacheable by key.
 */
export type RenderedParts = string[];

const CURRENT_DATETIME = Symbol("current_datetime");

/** `{participant_data}`: the data object with `name` and `timezone` added where set and not already in the data. */
function participantDataObject(input: TemplateInput): JsonObject {
  const object = copyObject(input.data);
  if (input.name !== null && !Object.hasOwn(object, "name")) setOwn(object, "name", input.name);
  if (input.timezone !== null && !Object.hasOwn(object, "timezone")) setOwn(object, "timezone", input.timezone);
  return object;
}

// `.key`, `[0]` and `["any key"]` segments after `participant_data`.
const SEGMENT = /^(?:\.([^.[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\])/;

/** The path's segments, or null where it is not a well-formed path (the variable is then unknown). */
function parsePath(path: string): string[] | null {
  const segments: string[] = [];
  let rest = path;
  while (rest.length > 0) {
    const match = SEGMENT.exec(rest);
    if (!match) return null;
    if (match[3] !== undefined) {
      try {
        segments.push(JSON.parse(match[3]) as string);
      } catch {
        return null;
      }
    } else segments.push((match[1] ?? match[2])!);
    rest = rest.slice(match[0].length);
  }
  return segments.length ? segments : null;
}

function lookup(value: JsonValue | undefined, segments: string[]): JsonValue | undefined {
  for (const segment of segments) {
    if (Array.isArray(value)) value = /^(0|[1-9]\d*)$/.test(segment) ? value[Number(segment)] : undefined;
    else if (isJsonObject(value)) value = getOwn(value, segment);
    else return undefined;
  }
  return value;
}

/** One value as prompt text: strings as they are, other JSON as JSON, missing and null as "". */
function asText(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function resolve(name: string, input: TemplateInput): string | typeof CURRENT_DATETIME | undefined {
  if (name === "current_datetime") return CURRENT_DATETIME;
  if (name === "participant_data") return JSON.stringify(participantDataObject(input));
  if (name.startsWith("participant_data")) {
    const segments = parsePath(name.slice("participant_data".length));
    if (segments) return asText(lookup(participantDataObject(input), segments));
  }
  return undefined;
}

/**
 * Renders `{participant_data}`, `{participant_data.a.b[0]}` and `{current_datetime}`;
 * `{{` and `}}` are literal braces; any other `{...}` is left as written.
 */
export function renderTemplate(template: string, input: TemplateInput): RenderedParts {
  const parts: string[] = [];
  let out = "";
  let i = 0;
  while (i < template.length) {
    const char = template[i]!;
    if (char === "{") {
      if (template[i + 1] === "{") {
        out += "{";
        i += 2;
        continue;
      }
      const close = template.indexOf("}", i + 1);
      const inner = close === -1 ? null : template.slice(i + 1, close);
      if (inner === null || inner.includes("{")) {
        out += "{";
        i += 1;
        continue;
      }
      const value = resolve(inner, input);
      if (value === CURRENT_DATETIME) {
        parts.push(out);
        out = "";
      } else out += value ?? `{${inner}}`;
      i = close + 1;
    } else if (char === "}") {
      out += "}";
      i += template[i + 1] === "}" ? 2 : 1;
    } else {
      out += char;
      i += 1;
    }
  }
  parts.push(out);
  return parts;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** e.g. `Saturday, 2026-11-21 16:03:27 +02:00 (Europe/Vilnius)`; UTC where no timezone is known. */
export function formatCurrentDatetime(now: Date, timezone: string | null): string {
  const zone = timezone ?? "UTC";
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      weekday: "long",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZoneName: "longOffset",
    });
    formatters.set(zone, formatter);
  }
  const part = Object.fromEntries(formatter.formatToParts(now).map((p) => [p.type, p.value]));
  const offset = part.timeZoneName === "GMT" ? "+00:00" : (part.timeZoneName ?? "").replace(/^GMT/, "");
  return `${part.weekday}, ${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}:${part.second} ${offset} (${zone})`;
}

export function finishRender(parts: RenderedParts, now: Date, timezone: string | null): string {
  return parts.length === 1 ? parts[0]! : parts.join(formatCurrentDatetime(now, timezone));
}
