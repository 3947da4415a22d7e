/** @jsxImportSource hono/jsx */
import type { Chatbot } from "../chatbots/storage";
import { TRIGGER_EVENTS, type Trigger } from "../triggers/model";
import { listTriggers, MAX_TRIGGERS_PER_CHATBOT } from "../triggers/storage";
import { EVENT_TYPES } from "../webhooks/events";
import { type DeliveryView, listRecentDeliveries, listTeamWebhooks, type Webhook } from "../webhooks/storage";
import { ACTION_LABELS, actionDetail, formatDelay, shorten, TRIGGER_EVENT_LABELS, triggerName } from "./automation-labels";
import { ConfirmAction } from "./confirm";
import { formatTime, Section, Value, type Viewer } from "./layout";

/**
 * The chatbot page's Triggers and Webhooks sections. Read here from storage (a few bounded
 * statements); every change goes to the JSON API from src/dashboard/client/triggers.ts and
 * webhooks.ts, which then re-read this page and swap in the lists marked `data-refresh`.
 */

/** Deliveries shown per webhook, newest first (the API pages through all of them). */
const DELIVERIES_SHOWN = 10;

export type ChatbotAutomation = {
  triggers: Trigger[];
  /** The team's live webhooks that get this chatbot's events: its own and those for every chatbot. */
  webhooks: Webhook[];
  deliveries: Map<string, DeliveryView[]>;
};

/** Three statements: the triggers and the team's webhooks together, then their recent deliveries in one. */
export async function loadChatbotAutomation(db: D1Database, chatbot: Chatbot): Promise<ChatbotAutomation> {
  const [triggers, teamWebhooks] = await Promise.all([listTriggers(db, chatbot.id), listTeamWebhooks(db, chatbot.team_id)]);
  const webhooks = teamWebhooks.filter((webhook) => webhook.chatbot_id === null || webhook.chatbot_id === chatbot.id);
  const deliveries = await listRecentDeliveries(
    db,
    webhooks.map((webhook) => webhook.id),
    DELIVERIES_SHOWN,
  );
  return { triggers, webhooks, deliveries };
}

/** A problem's message under the field it names (`<id>-error`, found through aria-describedby). */
function FieldError({ id }: { id: string }) {
  return <p id={`${id}-error`} class="field-error" hidden />;
}

function TriggerRow({ trigger, chatbotId, canWrite }: { trigger: Trigger; chatbotId: string; canWrite: boolean }) {
  const detail = actionDetail(trigger.action);
  return (
    <tr>
      <th scope="row">
        {TRIGGER_EVENT_LABELS[trigger.on] ?? trigger.on}
        <br />
        <code class="muted">{trigger.on}</code>
      </th>
      <td>{trigger.delay_seconds === null ? "—" : formatDelay(trigger.delay_seconds)}</td>
      <td class="count">{trigger.max_fires}</td>
      <td>
        {ACTION_LABELS[trigger.action.type] ?? trigger.action.type}
        {detail === null ? null : (
          <>
            :{" "}
            {trigger.action.type === "run_action" ? (
              <code>{detail}</code>
            ) : (
              <span class={trigger.action.type === "update_participant_data" ? "action-detail json" : "action-detail"}>
                <Value>{detail}</Value>
              </span>
            )}
          </>
        )}
      </td>
      <td class="nowrap">{formatTime(trigger.created_at)}</td>
      {canWrite ? (
        <td>
          <ConfirmAction
            label="Delete"
            confirmLabel="Confirm delete"
            name={`trigger ${triggerName(trigger)}`}
            method="DELETE"
            url={`/v1/chatbots/${chatbotId}/triggers/${trigger.id}`}
            done="The trigger was deleted."
          />
        </td>
      ) : null}
    </tr>
  );
}

export function TriggersSection({ chatbot, triggers, viewer }: { chatbot: Chatbot; triggers: Trigger[]; viewer: Viewer }) {
  const canWrite = viewer.scope === "write";
  return (
    <Section id="triggers" title="Triggers">
      <p class="help">
        What happens by itself in this chatbot's conversations. A trigger fires at most its "max fires" times in each conversation; a new
        visitor message re-arms an inactivity trigger. What fired is listed on each conversation's page.
      </p>
      <div id="triggers-list" data-refresh>
        {triggers.length === 0 ? (
          <p>No triggers yet.</p>
        ) : (
          <table class="automation triggers">
            <caption class="visually-hidden">The chatbot's triggers, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Delay</th>
                <th scope="col" class="count">
                  Max fires
                </th>
                <th scope="col">Action</th>
                <th scope="col">Created</th>
                {canWrite ? <th scope="col">Change</th> : null}
              </tr>
            </thead>
            <tbody>
              {triggers.map((trigger) => (
                <TriggerRow trigger={trigger} chatbotId={chatbot.id} canWrite={canWrite} />
              ))}
            </tbody>
          </table>
        )}
      </div>
      <p class="form-status section-status" role="status" tabindex={-1} data-section-status />
      {canWrite ? (
        <form class="settings automation-form" data-trigger-create novalidate>
          <h3 id="trigger-create-heading">Add a trigger</h3>
          <label for="trigger-on">When</label>
          <select id="trigger-on" name="on" data-pointer="/on" aria-describedby="trigger-on-error">
            {TRIGGER_EVENTS.map((on) => (
              <option value={on}>{TRIGGER_EVENT_LABELS[on]}</option>
            ))}
          </select>
          <FieldError id="trigger-on" />
          <div data-shown-for="conversation_inactive" hidden>
            <label for="trigger-delay">Delay in seconds</label>
            <input
              id="trigger-delay"
              name="delay_seconds"
              type="number"
              inputmode="numeric"
              min={10}
              max={604800}
              step={1}
              data-pointer="/delay_seconds"
              aria-describedby="trigger-delay-help trigger-delay-error"
            />
            <p id="trigger-delay-help" class="help">
              Quiet time after the visitor's last message, 10 to 604,800 seconds (a week).
            </p>
            <FieldError id="trigger-delay" />
          </div>
          <label for="trigger-max-fires">Max fires per conversation</label>
          <input
            id="trigger-max-fires"
            name="max_fires"
            type="number"
            inputmode="numeric"
            min={1}
            max={1000}
            step={1}
            value="1"
            data-pointer="/max_fires"
            aria-describedby="trigger-max-fires-error"
          />
          <FieldError id="trigger-max-fires" />
          <label for="trigger-action-type">Action</label>
          <select id="trigger-action-type" name="action_type" data-pointer="/action" aria-describedby="trigger-action-type-error">
            {Object.entries(ACTION_LABELS).map(([type, label]) => (
              <option value={type}>{label}</option>
            ))}
          </select>
          <FieldError id="trigger-action-type" />
          <div data-shown-for-action="send_message">
            <label for="trigger-text">Message</label>
            <textarea
              id="trigger-text"
              name="text"
              rows={3}
              dir="auto"
              data-pointer="/action/text"
              aria-describedby="trigger-text-help trigger-text-error"
            />
            <p id="trigger-text-help" class="help">
              Posted as a bot message in the conversation.
            </p>
            <FieldError id="trigger-text" />
          </div>
          <div data-shown-for-action="update_participant_data" hidden>
            <label for="trigger-patch">Merge patch (JSON)</label>
            <textarea
              id="trigger-patch"
              name="patch"
              rows={4}
              spellcheck={false}
              data-pointer="/action/patch"
              aria-describedby="trigger-patch-help trigger-patch-error"
            >
              {"{}"}
            </textarea>
            <p id="trigger-patch-help" class="help">
              An RFC 7396 merge patch of the participant's data, such as <code>{'{"followed_up": true}'}</code>, checked against the data
              schema when it fires.
            </p>
            <FieldError id="trigger-patch" />
          </div>
          <div data-shown-for-action="run_action" hidden>
            <label for="trigger-action-id">Custom action id</label>
            <input
              id="trigger-action-id"
              name="action_id"
              autocomplete="off"
              spellcheck={false}
              data-pointer="/action/action_id"
              aria-describedby="trigger-action-id-error"
            />
            <FieldError id="trigger-action-id" />
          </div>
          <div class="actions">
            <button type="submit" class="primary">
              Add trigger
            </button>
            <p class="form-status" role="status" />
          </div>
          <p class="help">A chatbot has at most {MAX_TRIGGERS_PER_CHATBOT} triggers.</p>
        </form>
      ) : null}
    </Section>
  );
}

const DELIVERY_STATUS_LABELS: Record<DeliveryView["status"], string> = { pending: "Pending", delivered: "Delivered", failed: "Failed" };

function Deliveries({ webhook, deliveries }: { webhook: Webhook; deliveries: DeliveryView[] }) {
  if (deliveries.length === 0) return <p class="help">No deliveries yet.</p>;
  return (
    <div class="table-scroll">
      <table class="automation deliveries">
        <caption>
          Recent deliveries, newest first (the {DELIVERIES_SHOWN} newest; <code>GET /v1/webhooks/{webhook.id}/deliveries</code> lists them
          all)
        </caption>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col" class="count">
              Attempts
            </th>
            <th scope="col">Last status code</th>
            <th scope="col">Last error</th>
            <th scope="col">Created</th>
            <th scope="col">Delivered</th>
          </tr>
        </thead>
        <tbody>
          {deliveries.map((delivery) => (
            <tr data-delivery-status={delivery.status}>
              <td>
                <code>{delivery.event_type}</code>
              </td>
              <td class={`delivery-${delivery.status}`}>{DELIVERY_STATUS_LABELS[delivery.status] ?? delivery.status}</td>
              <td class="count">{delivery.attempts}</td>
              <td>{delivery.last_status_code ?? "—"}</td>
              <td>{delivery.last_error === null ? "—" : <Value>{shorten(delivery.last_error, 120)}</Value>}</td>
              <td class="nowrap">{formatTime(delivery.created_at)}</td>
              <td class="nowrap">{delivery.delivered_at ? formatTime(delivery.delivered_at) : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function WebhookItem({ webhook, deliveries, canWrite }: { webhook: Webhook; deliveries: DeliveryView[]; canWrite: boolean }) {
  const headingId = `webhook-${webhook.id}`;
  return (
    <li class="webhook">
      <h3 id={headingId} class="webhook-url">
        <Value>{webhook.url}</Value>
      </h3>
      <dl class="pairs">
        <dt>Chatbots</dt>
        <dd>{webhook.chatbot_id === null ? "All of the team's chatbots" : "This chatbot"}</dd>
        <dt>Events</dt>
        <dd>
          <ul class="event-list">
            {webhook.events.map((type) => (
              <li>
                <code>{type}</code>
              </li>
            ))}
          </ul>
        </dd>
        <dt>Created</dt>
        <dd>{formatTime(webhook.created_at)}</dd>
        <dt>Webhook id</dt>
        <dd>
          <code>{webhook.id}</code>
        </dd>
      </dl>
      {canWrite ? (
        <ConfirmAction
          label="Delete webhook"
          confirmLabel="Confirm delete"
          name={`webhook to ${shorten(webhook.url, 80)}${webhook.chatbot_id === null ? " (all chatbots)" : ""}`}
          method="DELETE"
          url={`/v1/webhooks/${webhook.id}`}
          done="The webhook was deleted: it gets no more events."
        />
      ) : null}
      <Deliveries webhook={webhook} deliveries={deliveries} />
    </li>
  );
}

export function WebhooksSection({ automation, viewer }: { automation: ChatbotAutomation; viewer: Viewer }) {
  const canWrite = viewer.scope === "write";
  return (
    <Section id="webhooks" title="Webhooks">
      <p class="help">
        The team's webhooks that receive this chatbot's events: those made for it and those for all chatbots. Every delivery is signed
        (Standard Webhooks) and retried with back-off for a day.
      </p>
      <div id="webhooks-list" data-refresh>
        {automation.webhooks.length === 0 ? (
          <p>No webhooks receive this chatbot's events yet.</p>
        ) : (
          <ul class="webhooks">
            {automation.webhooks.map((webhook) => (
              <WebhookItem webhook={webhook} deliveries={automation.deliveries.get(webhook.id) ?? []} canWrite={canWrite} />
            ))}
          </ul>
        )}
      </div>
      <p class="form-status section-status" role="status" tabindex={-1} data-section-status />
      {canWrite ? (
        <>
          <form class="settings automation-form" data-webhook-create novalidate>
            <h3 id="webhook-create-heading">Add a webhook for this chatbot</h3>
            <label for="webhook-url">URL</label>
            <input
              id="webhook-url"
              name="url"
              type="url"
              inputmode="url"
              autocomplete="off"
              spellcheck={false}
              placeholder="https://example.com/hooks/chat-context"
              data-pointer="/url"
              aria-describedby="webhook-url-help webhook-url-error"
            />
            <p id="webhook-url-help" class="help">
              An <code>https:</code> address that answers 2xx within a few seconds.
            </p>
            <FieldError id="webhook-url" />
            <fieldset data-pointer="/events" aria-describedby="webhook-events-error">
              <legend>Events</legend>
              <div class="event-choices">
                {EVENT_TYPES.map((type) => {
                  const id = `webhook-event-${type.replaceAll(".", "-")}`;
                  return (
                    <div class="choice">
                      <input type="checkbox" id={id} name="events" value={type} checked={type === "message.created"} />
                      <label for={id}>
                        <code>{type}</code>
                      </label>
                    </div>
                  );
                })}
              </div>
            </fieldset>
            <FieldError id="webhook-events" />
            <div class="actions">
              <button type="submit" class="primary">
                Add webhook
              </button>
              <p class="form-status" role="status" />
            </div>
          </form>
          <div id="webhook-secret-output" class="secret" hidden>
            <p>
              <strong>Copy this signing secret now: it will not be shown again.</strong> Your receiver verifies each delivery's{" "}
              <code>webhook-signature</code> with it.
            </p>
            <div class="copyable">
              <pre>
                <code id="webhook-secret-value" />
              </pre>
              <button type="button" data-copy="webhook-secret-value">
                Copy webhook secret
              </button>
              <p class="form-status" role="status" />
            </div>
          </div>
        </>
      ) : null}
    </Section>
  );
}
