import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findApiKeyCredential, insertApiKey } from "../../src/api-keys/storage";
import { newId } from "../../src/shared/ids";
import { insertTeam } from "../../src/teams/storage";

describe("teams and api_keys storage", () => {
  it("inserts a team and its key in one batch; the key is found by id with its hash and team", async () => {
    const teamId = newId("team");
    const keyId = Array.from(crypto.getRandomValues(new Uint8Array(8)), (byte) => byte.toString(16).padStart(2, "0")).join("");
    await env.DB.batch([
      insertTeam(env.DB, { id: teamId, name: "Storage team", created_at: "2026-01-01T00:00:00.000Z" }),
      insertApiKey(env.DB, { id: keyId, team_id: teamId, key_hash: "ab".repeat(32), created_at: "2026-01-01T00:00:00.000Z" }),
    ]);
    expect(await findApiKeyCredential(env.DB, keyId)).toMatchObject({ team_id: teamId, key_hash: "ab".repeat(32) });
    expect(await findApiKeyCredential(env.DB, "ffffffffffffffff")).toBeNull();
  });

  it("refuses a second team with the same id and rolls the batch back", async () => {
    const teamId = newId("team");
    await insertTeam(env.DB, { id: teamId, name: "First", created_at: "2026-01-01T00:00:00.000Z" }).run();
    const keyId = "fedcba9876543210";
    await expect(
      env.DB.batch([
        insertApiKey(env.DB, { id: keyId, team_id: teamId, key_hash: "cd".repeat(32), created_at: "2026-01-01T00:00:00.000Z" }),
        insertTeam(env.DB, { id: teamId, name: "Again", created_at: "2026-01-01T00:00:00.000Z" }),
      ]),
    ).rejects.toThrow(/UNIQUE/);
    expect(await findApiKeyCredential(env.DB, keyId)).toBeNull();
  });
});
