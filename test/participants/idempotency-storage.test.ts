import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  deleteExpiredKey,
  findRecordedResponse,
  isIdempotencyConflict,
  purgeExpiredKeys,
  recordResponse,
} from "../../src/participants/idempotency-storage";
import { ProblemError } from "../../src/shared/problem";

const request = (key: string, fingerprint = "f1") => ({ teamId: "team_storage", key, fingerprint });

describe("idempotency_keys storage", () => {
  it("records a response and replays it while live; another fingerprint is refused with 422", async () => {
    const now = new Date("2026-01-01T00:00:00.000Z");
    await recordResponse(env.DB, request("k1"), { status: 201, body: { id: "part_x" } }, now).run();
    expect(await findRecordedResponse(env.DB, request("k1"), now.toISOString())).toEqual({ status: 201, body: { id: "part_x" } });
    const refused = await findRecordedResponse(env.DB, request("k1", "other"), now.toISOString()).catch((error) => error);
    expect(refused).toBeInstanceOf(ProblemError);
    expect((refused as ProblemError).problem.status).toBe(422);
    // After 24 hours the key is free again.
    expect(await findRecordedResponse(env.DB, request("k1"), "2026-01-02T00:00:00.001Z")).toBeNull();
  });

  it("refuses a second live record of the same key as a conflict, and frees an expired one", async () => {
    const now = new Date("2026-01-01T00:00:00.000Z");
    await recordResponse(env.DB, request("k2"), { status: 200, body: {} }, now).run();
    const duplicate = await recordResponse(env.DB, request("k2"), { status: 200, body: {} }, now)
      .run()
      .catch((error) => error);
    expect(isIdempotencyConflict(duplicate)).toBe(true);
    const later = "2026-01-03T00:00:00.000Z";
    expect((await deleteExpiredKey(env.DB, request("k2"), later).run()).meta.changes).toBe(1);
  });

  it("records only where the guarded participant's last write is this one", async () => {
    const now = new Date("2026-01-01T00:00:00.000Z");
    const guarded = await recordResponse(env.DB, request("k3"), { status: 200, body: {} }, now, {
      participantId: "part_none",
      writeId: "wr_x",
    }).run();
    expect(guarded.meta.changes).toBe(0);
  });

  it("purges expired keys in bounded batches", async () => {
    await recordResponse(env.DB, request("k4"), { status: 200, body: {} }, new Date("2020-01-01T00:00:00.000Z")).run();
    await purgeExpiredKeys(env.DB, "2026-01-01T00:00:00.000Z");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM idempotency_keys WHERE key = 'k4'").first("n")).toBe(0);
  });
});
