import { problem } from "../shared/problem";
import { DATA_MAX_BYTES, DATA_MAX_DEPTH } from "./limits";

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

export const isJsonObject = (value: unknown): value is JsonObject => value !== null && typeof value === "object" && !Array.isArray(value);

// Keys such as `__proto__` are ordinary data keys here: read and write own properties
// only, so no key can reach or replace an object's prototype.
export function getOwn(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

export function setOwn(object: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A shallow copy that keeps `__proto__`-named keys as data. */
export function copyObject(object: JsonObject): JsonObject {
  const copy: JsonObject = {};
  for (const key of Object.keys(object)) setOwn(copy, key, object[key]!);
  return copy;
}

/** RFC 7396 JSON Merge Patch. */
export function mergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const result = isJsonObject(target) ? copyObject(target) : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key]!;
    if (value === null) delete result[key];
    else setOwn(result, key, mergePatch(getOwn(result, key), value));
  }
  return result;
}

export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, index) => jsonEqual(item, b[index]));
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
  }
  return false;
}

function depth(value: JsonValue, level = 0): number {
  if (level > DATA_MAX_DEPTH) return level;
  if (Array.isArray(value)) return Math.max(level + 1, ...value.map((item) => depth(item, level + 1)));
  if (isJsonObject(value)) return Math.max(level + 1, ...Object.values(value).map((item) => depth(item, level + 1)));
  return level;
}

/** The stored form of data, or the 422 problem where it exceeds the documented limits. */
export function serializeData(data: JsonObject): string {
  if (depth(data) > DATA_MAX_DEPTH) {
    throw problem(
      "participant-data-too-large",
      `Participant data may nest objects and arrays at most ${DATA_MAX_DEPTH} levels deep. Nothing was written.`,
      {
        limit_depth: DATA_MAX_DEPTH,
      },
    );
  }
  const text = JSON.stringify(data);
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes > DATA_MAX_BYTES) {
    throw problem(
      "participant-data-too-large",
      `Participant data may be at most ${DATA_MAX_BYTES} bytes as compact JSON; this write would make it ${bytes} bytes. Nothing was written.`,
      { limit_bytes: DATA_MAX_BYTES, size_bytes: bytes },
    );
  }
  return text;
}
