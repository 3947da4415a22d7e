import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  type Action,
  deleteAction,
  findTeamAction,
  insertActionWithinLimit,
  listTeamActions,
  updateAction,
} from "../../src/actions/storage";
import { newId } from "../../src/shared/ids";
import { createTeam } from "../support/api";

function anAction(teamId: string, overrides: Partial<Action> = {}): Action {
  const now = new Date().toISOString();
  return {
    id: newId("act"),
    team_id: teamId,
    chatbot_id: null,
    name: "Lookup",
    code: "export default async () => 1;",
    version: 1,
    allowed_hosts: ["api.example.com"],
    timeout_ms: 5000,
    created_at: now,
    updated_at: now,
    ...overrides,
  };
}

describe("actions storage", () => {
  it("inserts within the team's limit, finds by team, lists oldest first", async () => {
    const team = await createTeam();
    const other = await createTeam();
    const first = anAction(team.id);
    // A later millisecond: ids of one millisecond sort by their random tail.
    const second = anAction(team.id, { id: newId("act", Date.now() + 1) });
    expect(await insertActionWithinLimit(env.DB, first, 2)).toBe(true);
    expect(await insertActionWithinLimit(env.DB, second, 2)).toBe(true);
    expect(await insertActionWithinLimit(env.DB, anAction(team.id), 2)).toBe(false);
    expect(await findTeamAction(env.DB, team.id, first.id)).toEqual(first);
    expect(await findTeamAction(env.DB, other.id, first.id)).toBeNull();
    expect((await listTeamActions(env.DB, team.id)).map((a) => a.id)).toEqual([first.id, second.id]);
    expect(await listTeamActions(env.DB, other.id)).toEqual([]);
  });

  it("updates only from the version it read, and deletes only the team's own", async () => {
    const team = await createTeam();
    const other = await createTeam();
    const action = anAction(team.id);
    await insertActionWithinLimit(env.DB, action, 10);
    const edited = { ...action, code: "export default async () => 2;", version: 2 };
    expect(await updateAction(env.DB, edited, 1)).toBe(true);
    expect(await updateAction(env.DB, { ...action, version: 2, code: "stale" }, 1)).toBe(false);
    expect(await updateAction(env.DB, { ...edited, team_id: other.id, version: 3 }, 2)).toBe(false);
    expect((await findTeamAction(env.DB, team.id, action.id))?.code).toBe("export default async () => 2;");
    expect(await deleteAction(env.DB, other.id, action.id)).toBe(false);
    expect(await deleteAction(env.DB, team.id, action.id)).toBe(true);
    expect(await findTeamAction(env.DB, team.id, action.id)).toBeNull();
  });
});
