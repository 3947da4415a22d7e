import type { Context, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { badRequest, problem, type FieldError } from "./problem";

/**
 * Refuses a body over `maxBytes` with 413 before it is parsed: at once by its
 * Content-Length when sent (the runtime holds a body to its declared length, so the
 * route then reads it natively), else as soon as the stream passes the limit. A
 * counted body is read once, here, and handed to Hono's body cache, so `c.req.text()`
 * and `readJson` do not read or copy it again.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = () =>
    problem("payload-too-large", 413, `The request body exceeds this route's limit of ${maxBytes} bytes.`, {
      limit_bytes: maxBytes,
    });
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const declared = c.req.header("Content-Length");
    if (declared !== undefined && /^\d+$/.test(declared)) {
      if (Number(declared) > maxBytes) throw tooLarge();
      return next();
    }
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
    const bytes = chunks.length === 1 ? chunks[0]! : concat(chunks, size);
    // Hono keeps promises in its body cache (its types say otherwise): other readers
    // such as arrayBuffer() chain on the cached entry with `.then`.
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(new TextDecoder().decode(bytes));
    await next();
  };
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** An RFC 6901 pointer: "" is the whole document, "/a/0" a member of it. */
function pointerTo(path: readonly PropertyKey[]): string {
  return path.map((part) => "/" + String(part).replaceAll("~", "~0").replaceAll("/", "~1")).join("");
}

/**
 * Converts zod issues to RFC 6901 pointers with their messages. Unknown keys are
 * named one by one, so the client sees which fields to drop.
 */
export function fieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
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
export async function readJson<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const text = await c.req.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw problem("malformed-json", 400, `The request body is not valid JSON: ${(error as Error).message}`);
  }
  return parseWith(schema, value);
}
