import type { JsonValue } from "./json-data";

/**
 * Cell encoding of the participant CSV (docs/participants.md, "CSV"):
 *
 * 1. Data cells hold JSON, except a string that would not parse as JSON, which is
 *    written as it is (so `hello` stays `hello`, while the string "42" is written `"42"`
 *    and the empty string `""`; an empty cell means "leave this key alone").
 * 2. Formula guard: a cell that starts with `=`, `+`, `-`, `@`, tab or carriage return,
 *    and is not a plain number, gets one leading apostrophe, and so does every cell that
 *    already starts with an apostrophe. Import removes exactly one leading apostrophe.
 *    Both steps are reversible, so every value round-trips exactly.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

export function protectCell(text: string): string {
  if (text.startsWith("'") || (FORMULA_START.test(text) && !JSON_NUMBER.test(text))) return `'${text}`;
  return text;
}

export function unprotectCell(text: string): string {
  return text.startsWith("'") ? text.slice(1) : text;
}

// Whether JSON.parse could accept the text, told without its exception: most cells of a large
// import are plain words, and a throw per cell was most of the import's CPU time. Exact for
// literals and numbers (JSON whitespace is space, tab, LF, CR); objects, arrays and strings are
// left to JSON.parse.
const JSON_SCALAR = /^[ \t\n\r]*(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)[ \t\n\r]*$/;
const JSON_COMPOSITE = /^[ \t\n\r]*[[{"]/;
const mayBeJson = (text: string) => JSON_COMPOSITE.test(text) || JSON_SCALAR.test(text);

function parsesAsJson(text: string): boolean {
  if (!mayBeJson(text)) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The cell text of one data value (before the formula guard). */
export function encodeDataValue(value: JsonValue): string {
  if (typeof value === "string") return value !== "" && !parsesAsJson(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** A data cell's value: undefined for an empty cell (leave the key alone), JSON where it parses, else the text. */
export function decodeDataCell(cell: string): JsonValue | undefined {
  if (cell === "") return undefined;
  const text = unprotectCell(cell);
  if (!mayBeJson(text)) return text;
  try {
    const value = JSON.parse(text) as JsonValue;
    // 1e999 parses to Infinity, which JSON cannot hold: keep such a cell as text.
    return typeof value === "number" && !Number.isFinite(value) ? text : value;
  } catch {
    return text;
  }
}
