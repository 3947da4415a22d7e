import { describe, expect, it } from "vitest";
import errorsDoc from "../../docs/errors.md?raw";
import { PROBLEMS, problem } from "../../src/shared/problem";

/** The rows of docs/errors.md's table: `/problems/<slug>` and its status. */
function documented(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const match of errorsDoc.matchAll(/^\| `\/problems\/([a-z-]+)` \| (\d{3}) \|/gm)) rows.set(match[1]!, Number(match[2]));
  return rows;
}

describe("the problem catalog", () => {
  it("documents every slug with its status, and documents nothing else", () => {
    const docs = documented();
    expect(docs.size).toBeGreaterThan(10);
    const catalog = new Map(Object.entries(PROBLEMS).map(([slug, entry]) => [slug, entry.status as number]));
    expect(Object.fromEntries(docs)).toEqual(Object.fromEntries(catalog));
  });

  it("gives every slug a title of its own, never the raw slug", () => {
    for (const [slug, entry] of Object.entries(PROBLEMS)) {
      expect(entry.title.length).toBeGreaterThan(0);
      expect(entry.title).not.toBe(slug);
    }
  });

  it("builds a problem from the slug alone: type, title and status from the catalog", () => {
    const error = problem("write-contention", "Retry.", {}, { "Retry-After": "1" });
    expect(error.problem).toEqual({ type: "/problems/write-contention", title: "Write contention", status: 503, detail: "Retry." });
    expect(error.headers).toEqual({ "Retry-After": "1" });
  });
});
