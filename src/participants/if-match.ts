import { badRequest, problem } from "../shared/problem";

/** The ETag of a participant is its data version, as a strong entity tag. */
export const etagOf = (version: number) => `"${version}"`;

export type IfMatch = { any: true } | { versions: number[] } | null;

// `"3"` (what ETag sends), `W/"3"` (weak: never matches, as RFC 9110 requires for If-Match),
// a bare `3` (accepted for hand-written requests) and `*`.
const TAG = /^\s*(?:(W\/)?"([^"]*)"|(\d+))\s*$/;

export function parseIfMatch(header: string | undefined): IfMatch {
  if (header === undefined) return null;
  if (header.trim() === "*") return { any: true };
  const versions: number[] = [];
  for (const part of header.split(",")) {
    const match = TAG.exec(part);
    if (!match)
      throw badRequest(`If-Match must be "*" or a list of entity tags such as "3" (the ETag you read); got ${JSON.stringify(header)}.`);
    const [, weak, quoted, bare] = match;
    const text = bare ?? quoted!;
    if (!weak && /^\d{1,15}$/.test(text)) versions.push(Number(text));
  }
  return { versions };
}

/** 412 where the participant's current version (null: it does not exist) fails If-Match. */
export function checkIfMatch(ifMatch: IfMatch, currentVersion: number | null): void {
  if (!ifMatch) return;
  const ok = currentVersion !== null && ("any" in ifMatch || ifMatch.versions.includes(currentVersion));
  if (ok) return;
  const error = problem(
    "precondition-failed",
    currentVersion === null
      ? "If-Match was sent but the participant does not exist. Nothing was written."
      : `If-Match does not match the participant's current version ${currentVersion} (ETag ${etagOf(currentVersion)}). Nothing was written; read it again and retry.`,
    currentVersion === null ? {} : { current_version: currentVersion },
  );
  if (currentVersion !== null) error.headers.ETag = etagOf(currentVersion);
  throw error;
}
