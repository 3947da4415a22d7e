import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  type Action,
  deleteAction,
  findTeamAction,
  insertActionWithinLimit,
  listChatbotActions,
  listRecentActionRuns,
  listTeamActions,
  RUN_LOG_LINE_MAX_CHARS,
  RUN_LOG_MAX_LINES,
  RUN_TEXT_MAX_CHARS,
  RUNS_KEPT_PER_ACTION,
  recordActionRun,
  updateAction,
} from "../../src/actions/storage";
import { newId } from "../../src/shared/ids";
import { createChatbot, createTeam } from "../support/api";

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

  it("records runs, keeps the newest 20 per action, cuts texts and logs, and goes with its action", async () => {
    const team = await createTeam();
    const other = await createTeam();
    const action = anAction(team.id);
    const quiet = anAction(team.id, { id: newId("act", Date.now() + 1) });
    await insertActionWithinLimit(env.DB, action, 10);
    await insertActionWithinLimit(env.DB, quiet, 10);
    const base = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < RUNS_KEPT_PER_ACTION + 5; i++) {
      const id = newId("run", base + i);
      ids.push(id);
      await recordActionRun(env.DB, {
        id,
        team_id: team.id,
        action_id: action.id,
        version: 1,
        conversation_id: null,
        status: i % 2 === 0 ? "ok" : "failed",
        result: i % 2 === 0 ? JSON.stringify({ i, pad: "x".repeat(50_000) }) : null,
        error: i % 2 === 0 ? null : `boom ${i}`,
        logs: Array.from({ length: 500 }, (_, n) => `line ${n} ${"y".repeat(5_000)}`),
        duration_ms: i,
        created_at: new Date(base + i).toISOString(),
      });
    }
    const { count } = (await env.DB.prepare("SELECT COUNT(*) AS count FROM action_runs WHERE action_id = ?")
      .bind(action.id)
      .first<{ count: number }>())!;
    expect(count).toBe(RUNS_KEPT_PER_ACTION);
    const runs = await listRecentActionRuns(env.DB, team.id, [action.id, quiet.id], 5);
    expect(runs.get(action.id)!.map((run) => run.id)).toEqual(ids.slice(-5).reverse());
    expect(runs.get(quiet.id)).toEqual([]);
    const newest = runs.get(action.id)![0]!;
    expect(newest.status).toBe("ok");
    expect(newest.result!.length).toBe(RUN_TEXT_MAX_CHARS);
    expect(newest.logs).toHaveLength(RUN_LOG_MAX_LINES);
    expect(newest.logs[0]!.length).toBe(RUN_LOG_LINE_MAX_CHARS);
    expect(runs.get(action.id)![1]!.error).toBe(`boom ${RUNS_KEPT_PER_ACTION + 3}`);
    // Another team's id list reads nothing of this team's.
    expect((await listRecentActionRuns(env.DB, other.id, [action.id], 5)).get(action.id)).toEqual([]);
    expect(await deleteAction(env.DB, team.id, action.id)).toBe(true);
    const left = await env.DB.prepare("SELECT COUNT(*) AS count FROM action_runs WHERE action_id = ?")
      .bind(action.id)
      .first<{ count: number }>();
    expect(left!.count).toBe(0);
  });

  it("lists a chatbot's actions with those for every chatbot, not another chatbot's", async () => {
    const team = await createTeam();
    const bot = await createChatbot(team.apiKey);
    const otherBot = await createChatbot(team.apiKey);
    const shared = anAction(team.id);
    const own = anAction(team.id, { id: newId("act", Date.now() + 1), chatbot_id: bot.id });
    const foreign = anAction(team.id, { id: newId("act", Date.now() + 2), chatbot_id: otherBot.id });
    for (const action of [shared, own, foreign]) await insertActionWithinLimit(env.DB, action, 10);
    expect((await listChatbotActions(env.DB, team.id, bot.id, 100)).map((a) => a.id)).toEqual([shared.id, own.id]);
    expect(await listChatbotActions(env.DB, (await createTeam()).id, bot.id, 100)).toEqual([]);
  });
});
