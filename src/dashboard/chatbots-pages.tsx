/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import type { Child } from "hono/jsx";
import { type Chatbot, findTeamChatbot, listTeamChatbots } from "../chatbots/storage";
import { ID_PATTERN } from "../shared/ids";
import { ROTATION_GRACE_MS } from "../widget/identity";
import type { DashboardEnv } from "./auth";
import { ActionsSection, type ChatbotActions, loadChatbotActions } from "./chatbot-actions";
import { type ChatbotAutomation, loadChatbotAutomation, TriggersSection, WebhooksSection } from "./chatbot-automation";
import { formatTime, Layout, notFoundPage, PAGE_HEADERS, Section, Value, type Viewer } from "./layout";

/**
 * /dashboard/chatbots: the team's chatbots and each one's settings. Pages only read;
 * every change is sent by src/dashboard/client/chatbots.ts to the JSON API (PATCH
 * /v1/chatbots/:id, POST /v1/chatbots, POST .../identity-secret), which validates it
 * and refuses read keys, so the page shows the API's own problems next to the fields.
 */
export const chatbotPages = new Hono<DashboardEnv>();

const GRACE_HOURS = ROTATION_GRACE_MS / 3_600_000;

/** The snippet a site pastes, exactly as docs/widget.md gives it, for this deployment's origin. */

/** One radio button of a group, with its label and its help (the input's description). */
function RadioChoice(props: {
  id: string;
  name: string;
  value: string;
  current: string;
  disabled: boolean;
  label: string;
  children: Child;
}) {
  return (
    <div class="choice">
      <input
        type="radio"
        id={props.id}
        name={props.name}
        value={props.value}
        checked={props.current === props.value}
        disabled={props.disabled}
        aria-describedby={`${props.id}-help`}
      />
      <label for={props.id}>{props.label}</label>
      <p id={`${props.id}-help`} class="help">
        {props.children}
      </p>
    </div>
  );
}

function widgetSnippet(origin: string, chatbotId: string): string {
  return `<script src="${origin}/widget.js" data-chatbot-id="${chatbotId}" async></script>`;
}

chatbotPages.get("/", async (c) => {
  const viewer = c.var.viewer;
  const chatbots = await listTeamChatbots(c.env.DB, viewer.teamId);
  return c.html(
    <Layout title="Chatbots" current="chatbots" viewer={viewer}>
      <h1>Chatbots</h1>
      {chatbots.length === 0 ? (
        <p>No chatbots yet.</p>
      ) : (
        <table class="chatbots">
          <caption class="visually-hidden">The team's chatbots, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Chatbot id</th>
              <th scope="col">Allowed origins</th>
              <th scope="col">Identity verification</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {chatbots.map((bot) => (
              <tr>
                <td>
                  <a href={`/dashboard/chatbots/${bot.id}`}>
                    <Value>{bot.name}</Value>
                  </a>
                </td>
                <td>
                  <code>{bot.id}</code>
                </td>
                <td>{bot.allowed_origins.length === 0 ? "Any site" : bot.allowed_origins.length}</td>
                <td>{bot.identity_verification === "required" ? "Required" : "Off"}</td>
                <td>{formatTime(bot.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {viewer.scope === "write" ? (
        <Section id="create" title="Create chatbot">
          <form class="settings" data-chatbot-create novalidate>
            <label for="new-chatbot-name">Name</label>
            <input
              id="new-chatbot-name"
              name="name"
              required
              maxlength={200}
              autocomplete="off"
              data-pointer="/name"
              aria-describedby="new-chatbot-name-error"
            />
            <p id="new-chatbot-name-error" class="field-error" hidden />
            <div class="actions">
              <button type="submit" class="primary">
                Create chatbot
              </button>
              <p class="form-status" role="status" />
            </div>
          </form>
        </Section>
      ) : (
        <p class="help">This session's key is read-only: it cannot create chatbots.</p>
      )}
    </Layout>,
    200,
    PAGE_HEADERS,
  );
});

chatbotPages.get("/:id", async (c) => {
  const viewer = c.var.viewer;
  const id = c.req.param("id");
  const chatbot = ID_PATTERN.test(id) ? await findTeamChatbot(c.env.DB, viewer.teamId, id) : null;
  if (!chatbot)
    return notFoundPage(c, { thing: "Chatbot", current: "chatbots", back: { href: "/dashboard/chatbots", label: "All chatbots" } });
  const origin = new URL(c.req.url).origin;
  const [automation, actions] = await Promise.all([loadChatbotAutomation(c.env.DB, chatbot), loadChatbotActions(c.env.DB, chatbot)]);
  return c.html(
    <SettingsPage chatbot={chatbot} viewer={viewer} origin={origin} automation={automation} actions={actions} />,
    200,
    PAGE_HEADERS,
  );
});

function SettingsPage({
  chatbot,
  viewer,
  origin,
  automation,
  actions,
}: {
  chatbot: Chatbot;
  viewer: Viewer;
  origin: string;
  automation: ChatbotAutomation;
  actions: ChatbotActions;
}) {
  const canWrite = viewer.scope === "write";
  const schemaText = chatbot.participant_data_schema === null ? "" : JSON.stringify(chatbot.participant_data_schema, null, 2);
  const secretSet = chatbot.identity_secrets.current !== null;
  return (
    <Layout title={`${chatbot.name} · Chatbots`} current="chatbots" viewer={viewer}>
      <p class="chatbot-crumbs">
        <a href="/dashboard/chatbots">Chatbots</a>
      </p>
      <h1 id="chatbot-title">
        <Value>{chatbot.name}</Value>
      </h1>
      <p class="help">
        Chatbot id <code>{chatbot.id}</code>, created {formatTime(chatbot.created_at)}.
        {canWrite ? null : " This session's key is read-only: settings are shown, not changed."}
      </p>
      {/* Sections in a fixed order; later features add theirs where the comment below says. */}
      <div class="settings-page" data-chatbot-id={chatbot.id}>
        <Section id="general" title="Name and allowed origins">
          <form class="settings" data-chatbot-form="general" novalidate>
            <label for="chatbot-name">Name</label>
            <input
              id="chatbot-name"
              name="name"
              value={chatbot.name}
              required
              maxlength={200}
              autocomplete="off"
              dir="auto"
              readonly={!canWrite}
              data-pointer="/name"
              aria-describedby="chatbot-name-error"
            />
            <p id="chatbot-name-error" class="field-error" hidden />
            <label for="allowed-origins">Allowed origins</label>
            <textarea
              id="allowed-origins"
              name="allowed_origins"
              rows={Math.min(12, Math.max(3, chatbot.allowed_origins.length + 1))}
              spellcheck={false}
              readonly={!canWrite}
              data-pointer="/allowed_origins"
              data-lines
              aria-describedby="allowed-origins-help allowed-origins-error"
            >
              {chatbot.allowed_origins.join("\n")}
            </textarea>
            <p id="allowed-origins-help" class="help">
              One origin a line, such as <code>https://shop.example.com</code>. The widget runs only on these sites; with none, on any site.
            </p>
            <ul id="allowed-origins-error" class="field-error" hidden />
            {canWrite ? (
              <div class="actions">
                <button type="submit" class="primary">
                  Save name and origins
                </button>
                <p class="form-status" role="status" />
              </div>
            ) : null}
          </form>
        </Section>

        <Section id="widget" title="Widget">
          <p>Paste this into the pages of an allowed site, before the closing body tag:</p>
          <div class="copyable">
            <pre>
              <code id="widget-snippet">{widgetSnippet(origin, chatbot.id)}</code>
            </pre>
            <button type="button" data-copy="widget-snippet">
              Copy snippet
            </button>
            <p class="form-status" role="status" />
          </div>
          <p>
            <a href={`/playground/${chatbot.id}`}>Open the playground</a>: the widget on a test page, beside what it sends.
          </p>
        </Section>

        <Section id="schema" title="Participant data schema">
          <form class="settings" data-chatbot-form="schema" novalidate>
            <label for="participant-data-schema">JSON Schema (draft 2020-12)</label>
            <textarea
              id="participant-data-schema"
              name="participant_data_schema"
              rows={Math.min(24, Math.max(6, schemaText.split("\n").length + 1))}
              spellcheck={false}
              readonly={!canWrite}
              data-pointer="/participant_data_schema"
              aria-describedby="participant-data-schema-help participant-data-schema-error"
            >
              {schemaText}
            </textarea>
            <p id="participant-data-schema-help" class="help">
              Every write of a participant's data is checked against it. Leave the box empty for no schema.
            </p>
            <ul id="participant-data-schema-error" class="field-error" hidden />
            {canWrite ? (
              <div class="actions">
                <button type="submit" class="primary">
                  Save schema
                </button>
                <p class="form-status" role="status" />
              </div>
            ) : null}
          </form>
        </Section>

        <Section id="replies" title="Stand-in replies">
          <form class="settings" data-chatbot-form="replies" novalidate>
            <div class="choice">
              <input
                type="checkbox"
                id="stand-in-replies"
                name="stand_in_replies"
                checked={chatbot.stand_in_replies}
                disabled={!canWrite}
                data-pointer="/stand_in_replies"
                aria-describedby="stand-in-replies-help stand-in-replies-error"
              />
              <label for="stand-in-replies">Answer visitor messages with the stand-in reply</label>
              <p id="stand-in-replies-help" class="help">
                The reply says what the message's data did and what the customer record holds. Turn it off once your own bot or agents
                answer through the API.
              </p>
            </div>
            <p id="stand-in-replies-error" class="field-error" hidden />
            {canWrite ? (
              <div class="actions">
                <button type="submit" class="primary">
                  Save stand-in replies
                </button>
                <p class="form-status" role="status" />
              </div>
            ) : null}
          </form>
        </Section>

        <Section id="identity" title="Identity verification">
          <form class="settings" data-chatbot-form="identity" novalidate>
            <fieldset data-pointer="/identity_verification" aria-describedby="identity-verification-error">
              <legend>Identity verification</legend>
              <RadioChoice
                id="identity-off"
                name="identity_verification"
                value="off"
                current={chatbot.identity_verification}
                disabled={!canWrite}
                label="Off"
              >
                Customer fields sent by the site (email, name, phone) are stored as sent.
              </RadioChoice>
              <RadioChoice
                id="identity-required"
                name="identity_verification"
                value="required"
                current={chatbot.identity_verification}
                disabled={!canWrite}
                label="Required"
              >
                Customer fields change only where a signed identity token vouches for them.
              </RadioChoice>
            </fieldset>
            <p id="identity-verification-error" class="field-error" hidden />
            {canWrite ? (
              <div class="actions">
                <button type="submit" class="primary">
                  Save identity verification
                </button>
                <p class="form-status" role="status" />
              </div>
            ) : null}
          </form>

          <h3 id="identity-secret-heading">Identity secret</h3>
          <p id="identity-secret-state" data-secret-set={secretSet ? "true" : "false"}>
            {secretSet ? "An identity secret is set." : "No identity secret is set yet."}
          </p>
          <p class="help">
            Your site signs identity tokens (HS256) with this secret. After a rotation the previous secret keeps working for {GRACE_HOURS}{" "}
            hours.
          </p>
          {canWrite ? (
            <div class="secret-controls">
              <button type="button" data-rotate-secret>
                {secretSet ? "Rotate identity secret" : "Create identity secret"}
              </button>
              <p class="form-status" role="status" />
              <div id="identity-secret-output" class="secret" hidden>
                <p>
                  <strong>Copy this secret now: it will not be shown again.</strong>
                </p>
                <div class="copyable">
                  <pre>
                    <code id="identity-secret-value" />
                  </pre>
                  <button type="button" data-copy="identity-secret-value">
                    Copy secret
                  </button>
                  <p class="form-status" role="status" />
                </div>
              </div>
            </div>
          ) : null}
        </Section>

        <TriggersSection chatbot={chatbot} triggers={automation.triggers} viewer={viewer} />

        <ActionsSection chatbot={chatbot} data={actions} viewer={viewer} />

        <WebhooksSection automation={automation} viewer={viewer} />
      </div>
    </Layout>
  );
}
