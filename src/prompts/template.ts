import { copyObject, getOwn, isJsonObject, type JsonObject, type JsonValue, setOwn } from "../participants/json-data";
import { problem } from "../shared/problem";

/**
 * The most a rendered prompt may hold, in UTF-8 bytes (docs/participants.md): a template
 * repeating `{participant_data}` would otherwise multiply 64 KiB of data into megabytes.
 */
export const PROMPT_MAX_BYTES = 1024 * 1024;
/**
 * `{current_datetime}` counts as this many bytes, more than its longest form: weekday,
 * date, time, offset and parentheses take at most 40, time zone names at most 32.
 */
export const CURRENT_DATETIME_MAX_BYTES = 96;

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

/** UTF-8 bytes of `text` (a lone surrogate counts 2 bytes rather than the 3 of its replacement). */
function utf8Bytes(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0x80) bytes += unit >= 0x800 && (unit < 0xd800 || unit > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

function tooLarge(): never {
  throw problem(
    "prompt-too-large",
    `The rendered prompt would exceed ${PROMPT_MAX_BYTES} bytes of UTF-8; use fewer or narrower variables (such as {participant_data.key}).`,
    { limit_bytes: PROMPT_MAX_BYTES },
  );
}

/**
 * Renders `{participant_data}`, `{participant_data.a.b[0]}` and `{current_datetime}`;
 * `{{` and `}}` are literal braces; any other `{...}` is left as written. Throws the 422
 * problem `prompt-too-large` as soon as the prompt would pass PROMPT_MAX_BYTES.
 */
export function renderTemplate(template: string, input: TemplateInput): RenderedParts {
  const parts: string[] = [];
  let out = "";
  let bytes = 0;
  const append = (text: string, size = utf8Bytes(text)) => {
    bytes += size;
    if (bytes > PROMPT_MAX_BYTES) tooLarge();
    out += text;
  };
  // A variable repeated a thousand times is resolved and measured once.
  const resolved = new Map<string, { text: string; size: number } | typeof CURRENT_DATETIME>();
  let i = 0;
  while (i < template.length) {
    const char = template[i]!;
    if (char === "{") {
      if (template[i + 1] === "{") {
        append("{", 1);
        i += 2;
        continue;
      }
      const close = template.indexOf("}", i + 1);
      const inner = close === -1 ? null : template.slice(i + 1, close);
      if (inner === null || inner.includes("{")) {
        append("{", 1);
        i += 1;
        continue;
      }
      let value = resolved.get(inner);
      if (value === undefined) {
        const found = resolve(inner, input);
        if (found === CURRENT_DATETIME) value = CURRENT_DATETIME;
        else {
          const text = found ?? `{${inner}}`;
          value = { text, size: utf8Bytes(text) };
        }
        resolved.set(inner, value);
      }
      if (value === CURRENT_DATETIME) {
        bytes += CURRENT_DATETIME_MAX_BYTES;
        if (bytes > PROMPT_MAX_BYTES) tooLarge();
        parts.push(out);
        out = "";
      } else append(value.text, value.size);
      i = close + 1;
    } else if (char === "}") {
      append("}", 1);
      i += template[i + 1] === "}" ? 2 : 1;
    } else {
      append(char);
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
