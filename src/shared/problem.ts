import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** One failing field of a request, named by its JSON Pointer (RFC 6901). */
export type FieldError = { pointer: string; message: string; code?: string };

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
};

/**
 * Thrown anywhere in a request; the app's error handler turns it into an
 * RFC 9457 `application/problem+json` response.
 */
export class ProblemError extends Error {
  constructor(
    readonly problem: Problem,
    readonly headers: Record<string, string> = {},
  ) {
    super(problem.detail);
  }
}

const TITLES: Record<string, string> = {
  "bad-request": "Bad request",
  "malformed-json": "Malformed JSON",
  "validation-failed": "Validation failed",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  "not-found": "Not found",
  "method-not-allowed": "Method not allowed",
  conflict: "Conflict",
  "precondition-failed": "Precondition failed",
  "payload-too-large": "Payload too large",
  "unsupported-media-type": "Unsupported media type",
  "metadata-limit": "Metadata limit",
  "schema-violation": "Schema violation",
  "internal-error": "Internal error",
};

/** Problem types are relative URIs documented in docs/errors.md. */
export function problem(
  slug: keyof typeof TITLES | string,
  status: number,
  detail: string,
  extensions: Omit<Partial<Problem>, "type" | "status" | "detail"> = {},
): ProblemError {
  return new ProblemError({
    type: `/problems/${slug}`,
    title: TITLES[slug] ?? slug,
    status,
    detail,
    ...extensions,
  });
}

export const badRequest = (detail: string, errors?: FieldError[]) =>
  problem(errors ? "validation-failed" : "bad-request", 400, detail, errors ? { errors } : {});
export const unauthorized = (detail: string) => {
  const error = problem("unauthorized", 401, detail);
  error.headers["WWW-Authenticate"] = 'Bearer realm="chat-context"';
  return error;
};
export const notFound = (detail: string) => problem("not-found", 404, detail);
export const forbidden = (detail: string) => problem("forbidden", 403, detail);

export function problemResponse(c: Context, error: ProblemError): Response {
  return c.body(JSON.stringify(error.problem), error.problem.status as ContentfulStatusCode, {
    ...error.headers,
    "Content-Type": "application/problem+json",
  });
}
