import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { badRequest, type FieldError, problem } from "./problem";

/**
 * Refuses a body over `maxBytes` with 413 before it is parsed: at once by its declared
 * Content-Length, else as soon as the stream passes the limit (Hono's `bodyLimit`).
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = () => {
    throw problem("payload-too-large", `The request body exceeds this route's limit of ${maxBytes} bytes.`, { limit_bytes: maxBytes });
  };
  const counted = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  // A declared length is judged as `bodyLimit` judges it, without touching the body (its
  // getter makes a stream object on every request); the rest is counted as it streams.
  return (c, next) => {
    const headers = c.req.raw.headers;
    const length = headers.get("content-length");
    if (length === null || headers.has("transfer-encoding")) return counted(c, next);
    // As `bodyLimit`: a request without a body passes whatever it declares.
    return Number.parseInt(length || "0", 10) > maxBytes && c.req.raw.body ? tooLarge() : next();
  };
}

/** An RFC 6901 pointer: "" is the whole document, "/a/0" a member of it. */
function pointerTo(path: readonly PropertyKey[]): string {
  return path.map((part) => `/${String(part).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

/**
 * Converts zod issues to RFC 6901 pointers with their messages. Unknown keys are
 * named one by one, so the client sees which fields to drop.
 */
function fieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.flatMap((issue): FieldError[] =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ pointer: pointerTo([...issue.path, key]), message: "is not a known field", code: issue.code }))
      : [{ pointer: pointerTo(issue.path), message: issue.message, code: issue.code }],
  );
}

export function parseWith<T extends z.ZodType>(schema: T, value: unknown, what = "request body"): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error.issues);
  const named = errors.map((error) => `${error.pointer === "" ? "(root)" : error.pointer}: ${error.message}`).join("; ");
  throw badRequest(`The ${what} failed validation: ${named}`, errors);
}

/**
 * Reads the body as JSON (400 where malformed) and validates it (400 naming the fields).
 * The Content-Type is not enforced: `curl -d` and `text/plain` (no CORS preflight)
 * bodies are read as JSON too, and bearer auth leaves no cross-site request to forge.
 */
export async function readJson<T extends z.ZodType>(request: { text(): Promise<string> }, schema: T): Promise<z.output<T>> {
  const text = await request.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw problem("malformed-json", `The request body is not valid JSON: ${(error as Error).message}`);
  }
  return parseWith(schema, value);
}
