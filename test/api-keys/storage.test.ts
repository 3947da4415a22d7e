import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findApiKeyCredential, insertApiKey, insertApiKeyWithinLimit, listLiveApiKeys, revokeApiKey } from "../../src/api-keys/storage";
import { newId } from "../../src/shared/ids";
import { insertTeam } from "../../src/teams/storage";

const keyId = () => [...crypto.getRandomValues(new Uint8Array(8))].map((byte) => byte.toString(16).padStart(2, "0")).join("");

async function team(): Promise<string> {
  const id = newId("team");
  await insertTeam(env.DB, { id, name: "Storage team", created_at: "2026-01-01T00:00:00.000Z" }).run();
  return id;
}

const key = (teamId: string, overrides: Partial<{ id: string; name: string; scope: "read" | "write"; created_at: string }> = {}) => ({
  id: keyId(),
  team_id: teamId,
  key_hash: "ab".repeat(32),
  name: "A key",
  scope: "read" as const,
  created_at: "2026-01-02T00:00:00.000Z",
  ...overrides,
});

describe("api_keys storage", () => {
  it("inserts a team's first key as a write key named Initial key unless told otherwise", async () => {
    const teamId = await team();
    const first = keyId();
    const named = keyId();
    await env.DB.batch([
      insertApiKey(env.DB, { id: first, team_id: teamId, key_hash: "cd".repeat(32), created_at: "2026-01-01T00:00:00.000Z" }),
      insertApiKey(env.DB, {
        id: named,
        team_id: teamId,
        key_hash: "ef".repeat(32),
        created_at: "2026-01-01T00:00:01.000Z",
        name: "Bot",
        scope: "read",
      }),
    ]);
    expect(await listLiveApiKeys(env.DB, teamId)).toEqual([
      { id: first, name: "Initial key", scope: "write", created_at: "2026-01-01T00:00:00.000Z" },
      { id: named, name: "Bot", scope: "read", created_at: "2026-01-01T00:00:01.000Z" },
    ]);
  });

  it("finds a key's credential: team, hash, scope and revocation", async () => {
    const teamId = await team();
    const row = key(teamId);
    expect(await insertApiKeyWithinLimit(env.DB, row, 100)).toBe(true);
    expect(await findApiKeyCredential(env.DB, row.id)).toEqual({
      team_id: teamId,
      key_hash: row.key_hash,
      scope: "read",
      revoked_at: null,
    });
    expect(await revokeApiKey(env.DB, teamId, row.id, "2026-01-03T00:00:00.000Z")).toBe(true);
    expect(await findApiKeyCredential(env.DB, row.id)).toEqual({
      team_id: teamId,
      key_hash: row.key_hash,
      scope: "read",
      revoked_at: "2026-01-03T00:00:00.000Z",
    });
    expect(await findApiKeyCredential(env.DB, "ffffffffffffffff")).toBeNull();
  });

  it("inserts within the limit of live keys only, counting each team alone and no revoked key", async () => {
    const teamId = await team();
    const otherTeam = await team();
    const first = key(teamId);
    expect(await insertApiKeyWithinLimit(env.DB, first, 2)).toBe(true);
    expect(await insertApiKeyWithinLimit(env.DB, key(teamId), 2)).toBe(true);
    const refused = key(teamId);
    expect(await insertApiKeyWithinLimit(env.DB, refused, 2)).toBe(false);
    expect(await findApiKeyCredential(env.DB, refused.id)).toBeNull();
    expect(await insertApiKeyWithinLimit(env.DB, key(otherTeam), 2)).toBe(true);
    await revokeApiKey(env.DB, teamId, first.id, "2026-01-03T00:00:00.000Z");
    expect(await insertApiKeyWithinLimit(env.DB, key(teamId), 2)).toBe(true);
    expect(await listLiveApiKeys(env.DB, teamId)).toHaveLength(2);
  });

  it("refuses a scope other than write or read", async () => {
    const teamId = await team();
    await expect(insertApiKeyWithinLimit(env.DB, { ...key(teamId), scope: "admin" as "read" }, 100)).rejects.toThrow(/CHECK/);
  });

  it("lists live keys oldest first, without hashes", async () => {
    const teamId = await team();
    const late = key(teamId, { name: "late", created_at: "2026-01-05T00:00:00.000Z" });
    const early = key(teamId, { name: "early", scope: "write", created_at: "2026-01-04T00:00:00.000Z" });
    const revoked = key(teamId, { name: "revoked" });
    for (const row of [late, early, revoked]) await insertApiKeyWithinLimit(env.DB, row, 100);
    await revokeApiKey(env.DB, teamId, revoked.id, "2026-01-06T00:00:00.000Z");
    expect(await listLiveApiKeys(env.DB, teamId)).toEqual([
      { id: early.id, name: "early", scope: "write", created_at: early.created_at },
      { id: late.id, name: "late", scope: "read", created_at: late.created_at },
    ]);
  });

  it("revokes only a live key of the same team, once", async () => {
    const teamId = await team();
    const otherTeam = await team();
    const row = key(teamId);
    await insertApiKeyWithinLimit(env.DB, row, 100);
    expect(await revokeApiKey(env.DB, otherTeam, row.id, "2026-01-03T00:00:00.000Z")).toBe(false);
    expect((await findApiKeyCredential(env.DB, row.id))!.revoked_at).toBeNull();
    expect(await revokeApiKey(env.DB, teamId, row.id, "2026-01-03T00:00:00.000Z")).toBe(true);
    // A second revoke changes nothing: the first time stands.
    expect(await revokeApiKey(env.DB, teamId, row.id, "2026-01-09T00:00:00.000Z")).toBe(false);
    expect((await findApiKeyCredential(env.DB, row.id))!.revoked_at).toBe("2026-01-03T00:00:00.000Z");
    expect(await revokeApiKey(env.DB, teamId, "ffffffffffffffff", "2026-01-03T00:00:00.000Z")).toBe(false);
  });
});
