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

/**
 * How deep `value` nests objects and arrays (a scalar is 0, `{}` is 1), counted without
 * recursion and given up past `limit`: a parsed body may nest 100,000 levels, which
 * would overflow the stack of any recursive walk (merge patch, schema validation).
 */
export function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [node, level] = pending.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (level + 1 > deepest) deepest = level + 1;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === "object") pending.push([child, level + 1]);
    }
  }
  return deepest;
}

/** Throws the 422 problem where `value` nests deeper than participant data may. */
export function assertDataDepth(value: unknown): void {
  if (jsonDepth(value, DATA_MAX_DEPTH) > DATA_MAX_DEPTH) {
    throw problem(
      "participant-data-too-large",
      `Participant data may nest objects and arrays at most ${DATA_MAX_DEPTH} levels deep. Nothing was written.`,
      { limit_depth: DATA_MAX_DEPTH },
    );
  }
}

/** The stored form of data, or the 422 problem where it exceeds the documented limits. */
export function serializeData(data: JsonObject): string {
  assertDataDepth(data);
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
