/** @jsxImportSource hono/jsx */
import { MAX_ACTIONS, TIMEOUT_DEFAULT_MS, TIMEOUT_MAX_MS } from "../actions/routes";
import { type Action, type ActionRun, listChatbotActions, listRecentActionRuns } from "../actions/storage";
import type { Chatbot } from "../chatbots/storage";
import { type ConversationRow, listConversations } from "../conversations/storage";
import { ConfirmAction } from "./confirm";
import { formatTime, Section, Value, type Viewer } from "./layout";

/**
 * The chatbot page's Actions section: the custom actions of this chatbot and of every
 * chatbot, each with its editor, a Run form and its last runs. Read here from storage (three
 * bounded statements); saving, creating, running and deleting go to /v1/actions from
 * src/dashboard/client/actions.ts, which shows the API's problems next to the fields.
 */

/** Runs listed per action, newest first (storage keeps 20). */
const RUNS_SHOWN = 5;
/** Conversations offered to run against: the chatbot's newest. */
const CONVERSATIONS_OFFERED = 20;

const NEW_ACTION_CODE = `import { getConversationMetadata } from "chat-context";

export default async function (context) {
  const userId = await getConversationMetadata(context, "chat-widget:user_id");
  console.log("user", userId);
  return { userId, input: context.input };
}
`;

export type ChatbotActions = {
  actions: Action[];
  runs: Map<string, ActionRun[]>;
  conversations: ConversationRow[];
};

export async function loadChatbotActions(db: D1Database, chatbot: Chatbot): Promise<ChatbotActions> {
  const [actions, conversations] = await Promise.all([
    listChatbotActions(db, chatbot.team_id, chatbot.id, MAX_ACTIONS),
    listConversations(db, { teamId: chatbot.team_id, chatbotId: chatbot.id, limit: CONVERSATIONS_OFFERED }),
  ]);
  const runs = await listRecentActionRuns(
    db,
    chatbot.team_id,
    actions.map((action) => action.id),
    RUNS_SHOWN,
  );
  return { actions, runs, conversations: conversations.rows };
}

function FieldError({ id }: { id: string }) {
  return <p id={`${id}-error`} class="field-error" hidden />;
}

/** A stored result is JSON text (cut where long): shown indented where it still parses. */
function prettyResult(text: string | null): string {
  if (text === null) return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Name, code, hosts and timeout: the fields of the create form and of each editor. */
function ActionFields({ prefix, action }: { prefix: string; action: Action | null }) {
  return (
    <>
      <label for={`${prefix}-name`}>Name</label>
      <input
        id={`${prefix}-name`}
        name="name"
        required
        maxlength={100}
        autocomplete="off"
        value={action?.name ?? ""}
        data-pointer="/name"
        aria-describedby={`${prefix}-name-error`}
      />
      <FieldError id={`${prefix}-name`} />
      <label for={`${prefix}-code`}>Code (JavaScript module)</label>
      <textarea
        id={`${prefix}-code`}
        name="code"
        class="code"
        rows={12}
        spellcheck={false}
        autocomplete="off"
        data-pointer="/code"
        aria-describedby={`${prefix}-code-help ${prefix}-code-error`}
      >
        {action?.code ?? NEW_ACTION_CODE}
      </textarea>
      <p id={`${prefix}-code-help`} class="help">
        Export a default function of the run's context. Helpers come from "chat-context"; the result must be JSON.
      </p>
      <FieldError id={`${prefix}-code`} />
      <label for={`${prefix}-hosts`}>Allowed hosts, one per line</label>
      <textarea
        id={`${prefix}-hosts`}
        name="allowed_hosts"
        rows={3}
        spellcheck={false}
        autocomplete="off"
        data-pointer="/allowed_hosts"
        aria-describedby={`${prefix}-hosts-help ${prefix}-hosts-error`}
      >
        {(action?.allowed_hosts ?? []).join("\n")}
      </textarea>
      <p id={`${prefix}-hosts-help`} class="help">
        The only hosts the action's fetch may reach, over https (api.example.com). None: no network.
      </p>
      <FieldError id={`${prefix}-hosts`} />
      <label for={`${prefix}-timeout`}>Timeout in milliseconds</label>
      <input
        id={`${prefix}-timeout`}
        name="timeout_ms"
        type="number"
        inputmode="numeric"
        min={100}
        max={TIMEOUT_MAX_MS}
        step={1}
        value={String(action?.timeout_ms ?? TIMEOUT_DEFAULT_MS)}
        data-pointer="/timeout_ms"
        aria-describedby={`${prefix}-timeout-error`}
      />
      <FieldError id={`${prefix}-timeout`} />
    </>
  );
}

function RunsList({ action, runs }: { action: Action; runs: ActionRun[] }) {
  return (
    <div id={`action-${action.id}-runs`} data-refresh>
      {runs.length === 0 ? (
        <p>No runs yet.</p>
      ) : (
        <ol class="action-runs">
          {runs.map((run) => (
            <li class={run.status === "ok" ? "run-ok" : "run-failed"}>
              <p class="run-line">
                <span class="run-status">{run.status === "ok" ? "OK" : "Failed"}</span> {formatTime(run.created_at)}, {run.duration_ms} ms,
                version {run.version},{" "}
                {run.conversation_id === null ? (
                  "no conversation"
                ) : (
                  <a href={`/dashboard/conversations/${run.conversation_id}`}>
                    <code>{run.conversation_id}</code>
                  </a>
                )}
              </p>
              <pre class="run-text">
                <Value>{run.status === "ok" ? prettyResult(run.result) : (run.error ?? "")}</Value>
              </pre>
              {run.logs.length === 0 ? (
                <p class="muted">No logs.</p>
              ) : (
                <details>
                  <summary>
                    Logs ({run.logs.length} {run.logs.length === 1 ? "line" : "lines"})
                  </summary>
                  <pre class="run-logs">
                    <Value>{run.logs.join("\n")}</Value>
                  </pre>
                </details>
              )}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function RunForm({ action, conversations }: { action: Action; conversations: ConversationRow[] }) {
  const prefix = `action-${action.id}-run`;
  return (
    <form class="settings action-run" data-action-run data-action-id={action.id} novalidate>
      <h4 id={`${prefix}-heading`}>Run</h4>
      <label for={`${prefix}-conversation`}>Conversation</label>
      <select
        id={`${prefix}-conversation`}
        name="conversation_id"
        data-pointer="/conversation_id"
        aria-describedby={`${prefix}-conversation-error`}
      >
        <option value="">No conversation (a dry run with the input only)</option>
        {conversations.map((conversation) => (
          <option value={conversation.id}>
            {conversation.id} — started {formatTime(conversation.started_at)}, {conversation.message_count} messages
          </option>
        ))}
      </select>
      <FieldError id={`${prefix}-conversation`} />
      <label for={`${prefix}-input`}>Input (JSON, optional)</label>
      <textarea
        id={`${prefix}-input`}
        name="input"
        class="code"
        rows={3}
        spellcheck={false}
        autocomplete="off"
        data-pointer="/input"
        aria-describedby={`${prefix}-input-error`}
      />
      <FieldError id={`${prefix}-input`} />
      <div class="actions">
        <button type="submit" class="primary" aria-label={`Run action ${action.name}`}>
          Run
        </button>
        <p class="form-status" role="status" />
      </div>
      <div class="run-output" data-run-output hidden>
        <h5>Result</h5>
        <pre class="run-text" data-run-result />
        <h5>Logs</h5>
        <pre class="run-logs" data-run-logs />
      </div>
    </form>
  );
}

function ActionItem({
  action,
  runs,
  conversations,
  canWrite,
}: {
  action: Action;
  runs: ActionRun[];
  conversations: ConversationRow[];
  canWrite: boolean;
}) {
  const prefix = `action-${action.id}`;
  return (
    <article class="custom-action" aria-labelledby={`${prefix}-heading`} data-action-id={action.id}>
      <h3 id={`${prefix}-heading`}>
        <Value>{action.name}</Value>
      </h3>
      <p class="muted">
        <code>{action.id}</code> · version <span data-action-version>{action.version}</span> ·{" "}
        {action.chatbot_id === null ? "for every chatbot" : "for this chatbot"} · edited {formatTime(action.updated_at)}
      </p>
      {canWrite ? (
        <>
          <form class="settings action-edit" data-action-edit data-action-id={action.id} novalidate>
            <ActionFields prefix={prefix} action={action} />
            <div class="actions">
              <button type="submit" class="primary" aria-label={`Save action ${action.name}`}>
                Save
              </button>
              <p class="form-status" role="status" />
            </div>
          </form>
          <ConfirmAction
            label="Delete"
            confirmLabel="Delete action"
            name={`action ${action.name}`}
            method="DELETE"
            url={`/v1/actions/${action.id}`}
            done="Action deleted."
          />
          <RunForm action={action} conversations={conversations} />
        </>
      ) : (
        <dl class="action-readonly">
          <dt>Code</dt>
          <dd>
            <pre class="run-text">
              <Value>{action.code}</Value>
            </pre>
          </dd>
          <dt>Allowed hosts</dt>
          <dd>{action.allowed_hosts.length === 0 ? "None" : <Value>{action.allowed_hosts.join(", ")}</Value>}</dd>
          <dt>Timeout</dt>
          <dd>{action.timeout_ms} ms</dd>
        </dl>
      )}
      <h4 id={`${prefix}-runs-heading`}>Last runs</h4>
      <div class="action-runs-wrap" data-runs-wrap>
        <RunsList action={action} runs={runs} />
      </div>
    </article>
  );
}

export function ActionsSection({ chatbot, data, viewer }: { chatbot: Chatbot; data: ChatbotActions; viewer: Viewer }) {
  const canWrite = viewer.scope === "write";
  return (
    <Section id="custom-actions" title="Actions">
      <p class="help">
        Your own code, run in an isolate of its own: it reads the conversation's metadata and the participant's data, and reaches only the
        hosts you allow. Triggers run them with "Run a custom action"; here you can run one against a recent conversation.
      </p>
      <div id="actions-list" data-refresh>
        {data.actions.length === 0 ? (
          <p>No actions yet.</p>
        ) : (
          data.actions.map((action) => (
            <ActionItem action={action} runs={data.runs.get(action.id) ?? []} conversations={data.conversations} canWrite={canWrite} />
          ))
        )}
      </div>
      <p class="form-status section-status" role="status" tabindex={-1} data-section-status />
      {canWrite ? (
        <form class="settings action-create" data-action-create data-chatbot-id={chatbot.id} novalidate>
          <h3 id="action-create-heading">Create action</h3>
          <ActionFields prefix="action-new" action={null} />
          <label for="action-new-scope">For</label>
          <select id="action-new-scope" name="chatbot_id" data-pointer="/chatbot_id" aria-describedby="action-new-scope-error">
            <option value={chatbot.id}>This chatbot only</option>
            <option value="">Every chatbot of the team</option>
          </select>
          <FieldError id="action-new-scope" />
          <div class="actions">
            <button type="submit" class="primary">
              Create action
            </button>
            <p class="form-status" role="status" />
          </div>
        </form>
      ) : null}
    </Section>
  );
}
