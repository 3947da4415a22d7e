/** Runs an action and records the run (its last runs are listed on the dashboard), for the API and triggers alike. */
import type { JsonValue } from "../participants/json-data";
import { ID_PATTERN, newId } from "../shared/ids";
import { nowIso } from "../shared/time";
import { type RunOutcome, type RunScope, runAction } from "./sandbox";
import { type Action, findTeamAction, recordActionRun } from "./storage";

/** Runs `action` once and records the outcome; a failure to record never changes the outcome. */
export async function runAndRecord(env: Env, action: Action, scope: RunScope, input: JsonValue): Promise<RunOutcome> {
  const outcome = await runAction(env, action, scope, input);
  try {
    await recordActionRun(env.DB, {
      id: newId("run"),
      team_id: action.team_id,
      action_id: action.id,
      version: action.version,
      conversation_id: scope.conversationId,
      status: outcome.ok ? "ok" : "failed",
      result: outcome.ok ? JSON.stringify(outcome.result) : null,
      error: outcome.ok ? null : outcome.error,
      logs: outcome.logs,
      duration_ms: outcome.duration_ms,
      created_at: nowIso(),
    });
  } catch (error) {
    // The action was deleted meanwhile (its runs go with it), or D1 refused: the run stands.
    console.warn("action run not recorded", action.id, error);
  }
  return outcome;
}

/**
 * Runs an action for the trigger `run_action` (conversation objects), by id within the
 * conversation's team. The firing's detail; a missing action or a failed run throws (the firing is recorded `failed`). */
export async function runActionById(env: Env, actionId: string, scope: RunScope): Promise<string> {
  const action = ID_PATTERN.test(actionId) ? await findTeamAction(env.DB, scope.teamId, actionId) : null;
  if (!action) throw new Error(`No action ${actionId} in this team.`);
  if (action.chatbot_id !== null && action.chatbot_id !== scope.chatbotId)
    throw new Error(`Action ${actionId} belongs to another chatbot.`);
  const outcome = await runAndRecord(env, action, scope, null);
  if (!outcome.ok) throw new Error(`Action ${actionId} failed: ${outcome.error}`);
  return `Action ${actionId} returned ${JSON.stringify(outcome.result).slice(0, 500)} in ${outcome.duration_ms} ms.`;
}
