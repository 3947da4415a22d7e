import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** One failing field of a request, named by its JSON Pointer (RFC 6901). */
export type FieldError = { pointer: string; message: string; code?: string };

type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
};

/**
 * Every problem type the service answers with: its status and title. Each slug is
 * documented in docs/errors.md (a test holds the two together), and its `type` is the
 * relative URI `/problems/<slug>`.
 */
export const PROBLEMS = {
  "bad-request": { status: 400, title: "Bad request" },
  "malformed-json": { status: 400, title: "Malformed JSON" },
  "validation-failed": { status: 400, title: "Validation failed" },
  "invalid-csv": { status: 400, title: "Invalid CSV" },
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflict" },
  "data-type-conflict": { status: 409, title: "Data type conflict" },
  "conversation-ended": { status: 409, title: "Conversation ended" },
  "precondition-failed": { status: 412, title: "Precondition failed" },
  "payload-too-large": { status: 413, title: "Payload too large" },
  "unsupported-media-type": { status: 415, title: "Unsupported media type" },
  "metadata-limit": { status: 422, title: "Metadata limit" },
  "schema-violation": { status: 422, title: "Schema violation" },
  "participant-data-too-large": { status: 422, title: "Participant data too large" },
  "idempotency-key-reused": { status: 422, title: "Idempotency key reused" },
  "prompt-too-large": { status: 422, title: "Prompt too large" },
  "action-failed": { status: 422, title: "Action failed" },
  "rate-limited": { status: 429, title: "Rate limited" },
  "internal-error": { status: 500, title: "Internal error" },
  "write-contention": { status: 503, title: "Write contention" },
  "storage-unavailable": { status: 503, title: "Storage unavailable" },
} as const satisfies Record<string, { status: number; title: string }>;

type ProblemSlug = keyof typeof PROBLEMS;

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

type Extras = Omit<Partial<Problem>, "type" | "title" | "status" | "detail">;

/** The problem `slug` (status and title from the catalog) with this detail and extra members. */
export function problem(slug: ProblemSlug, detail: string, extras: Extras = {}, headers: Record<string, string> = {}): ProblemError {
  const { status, title } = PROBLEMS[slug];
  return new ProblemError({ type: `/problems/${slug}`, title, status, detail, ...extras }, headers);
}

/** The slug for a bare HTTP status (Hono's own HTTPException carries only that). */
export function slugForStatus(status: number): ProblemSlug {
  const exact = Object.entries(PROBLEMS).find(([, entry]) => entry.status === status);
  if (exact) return exact[0] as ProblemSlug;
  return status >= 500 ? "internal-error" : "bad-request";
}

export const badRequest = (detail: string, errors?: FieldError[]) =>
  errors ? problem("validation-failed", detail, { errors }) : problem("bad-request", detail);
export const unauthorized = (detail: string) => problem("unauthorized", detail, {}, { "WWW-Authenticate": 'Bearer realm="chat-context"' });
export const notFound = (detail: string) => problem("not-found", detail);
export const forbidden = (detail: string) => problem("forbidden", detail);

export function problemResponse(c: Context, error: ProblemError): Response {
  return c.body(JSON.stringify(error.problem), error.problem.status as ContentfulStatusCode, {
    ...error.headers,
    "Content-Type": "application/problem+json",
  });
}
