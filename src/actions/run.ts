/** Runs an action for the trigger `run_action` (conversation objects), by id within the conversation's team. */
import { ID_PATTERN } from "../shared/ids";
import { type RunScope, runAction } from "./sandbox";
import { findTeamAction } from "./storage";

/** The firing's detail; a missing action or a failed run throws (the firing is recorded `failed`). */
export async function runActionById(env: Env, actionId: string, scope: RunScope): Promise<string> {
  const action = ID_PATTERN.test(actionId) ? await findTeamAction(env.DB, scope.teamId, actionId) : null;
  if (!action) throw new Error(`No action ${actionId} in this team.`);
  if (action.chatbot_id !== null && action.chatbot_id !== scope.chatbotId)
    throw new Error(`Action ${actionId} belongs to another chatbot.`);
  const outcome = await runAction(env, action, scope, null);
  if (!outcome.ok) throw new Error(`Action ${actionId} failed: ${outcome.error}`);
  return `Action ${actionId} returned ${JSON.stringify(outcome.result).slice(0, 500)} in ${outcome.duration_ms} ms.`;
}
