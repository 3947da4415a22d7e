/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { z } from "zod";
import { type Chatbot, findTeamChatbot, listTeamChatbots } from "../chatbots/storage";
import { listConversations } from "../conversations/storage";
import { Channel, Identifier } from "../participants/fields";
import { findTeamParticipant, listParticipants, type ParticipantRow } from "../participants/storage";
import { Cursor } from "../shared/cursor";
import { ID_PATTERN } from "../shared/ids";
import type { DashboardEnv } from "./auth";
import { jsonText } from "./client/json-text";
import { formatTime, Layout, notFoundPage, PAGE_HEADERS, Pager, Section, Value, type Viewer } from "./layout";
import { loadSchedules, SchedulesSection } from "./participant-schedules";

/**
 * /dashboard/participants: the list (filters, create, CSV export and import) and each
 * participant's page (customer record, data editor, conversations). Pages only read;
 * every change is sent by src/dashboard/client/participants.ts to the JSON API, which
 * validates it, checks `If-Match` and the chatbot's schema, and refuses read keys, so
 * what the page shows next to a field is the API's own problem.
 */
export const participantPages = new Hono<DashboardEnv>();

const PAGE_SIZE = 50;
/** The participant page lists this many conversations, newest first. */
const CONVERSATIONS_SHOWN = 20;

// A filter that does not parse is ignored, not an error page: the form shows what applies.
const ListQuery = z.object({
  chatbot_id: z.string().max(64).optional().catch(undefined),
  channel: Channel.optional().catch(undefined),
  identifier: Identifier.optional().catch(undefined),
  cursor: Cursor.optional().catch(undefined),
});

/** One labelled field with the place its problem is shown (`data-pointer` names the API's JSON pointer). */
function Field({
  id,
  name,
  label,
  value,
  help,
  type = "text",
  required = false,
  autocomplete = "off",
}: {
  id: string;
  name: string;
  label: string;
  value?: string | null;
  help?: string;
  type?: "text" | "email" | "tel";
  required?: boolean;
  autocomplete?: string;
}) {
  const describedBy = [help ? `${id}-help` : null, `${id}-error`].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        value={value ?? ""}
        dir="auto"
        required={required}
        autocomplete={autocomplete}
        spellcheck={false}
        data-pointer={`/${name}`}
        aria-describedby={describedBy}
      />
      {help ? (
        <p id={`${id}-help`} class="help">
          {help}
        </p>
      ) : null}
      <p id={`${id}-error`} class="field-error" hidden />
    </div>
  );
}

function ChatbotOptions({ chatbots, selected }: { chatbots: Chatbot[]; selected?: string }) {
  return (
    <>
      {chatbots.map((bot) => (
        <option value={bot.id} selected={bot.id === selected}>
          {bot.name}
        </option>
      ))}
    </>
  );
}

function CreateSection({ chatbots, chosen }: { chatbots: Chatbot[]; chosen?: string }) {
  return (
    <Section id="create" title="Create participant">
      <form class="participant-create" data-participant-create novalidate>
        <div class="field">
          <label for="new-chatbot">Chatbot</label>
          <select id="new-chatbot" name="chatbot_id" data-pointer="/chatbot_id" aria-describedby="new-chatbot-error">
            <ChatbotOptions chatbots={chatbots} selected={chosen} />
          </select>
          <p id="new-chatbot-error" class="field-error" hidden />
        </div>
        <Field
          id="new-channel"
          name="channel"
          label="Channel"
          required
          help="Such as web, whatsapp or api: lower-case letters, digits, _ and -."
        />
        <Field
          id="new-identifier"
          name="identifier"
          label="Identifier"
          required
          help="The person's id on that channel: a phone number, an email, a platform id."
        />
        <Field id="new-name" name="name" label="Name (optional)" />
        <div class="actions">
          <button type="submit" class="primary">
            Create participant
          </button>
        </div>
        <output class="form-outcome" data-outcome tabindex={-1} />
      </form>
    </Section>
  );
}

function CsvSection({ chatbots, chosen, viewer }: { chatbots: Chatbot[]; chosen: string; viewer: Viewer }) {
  return (
    <Section id="csv" title="Export and import CSV">
      <div class="participant-csv" data-participant-csv>
        <label for="csv-chatbot">Chatbot</label>
        <select id="csv-chatbot" name="chatbot_id" data-csv-chatbot>
          <ChatbotOptions chatbots={chatbots} selected={chosen} />
        </select>
        <p class="help">
          Columns <code>identifier,channel,name,data.&lt;key&gt;…</code>. An import merges each row's data into the participant (created
          where missing); a bad row is reported and skipped.
        </p>
        <p>
          <a class="button" href={`/v1/participants/export?chatbot_id=${encodeURIComponent(chosen)}`} download data-csv-export>
            Export CSV
          </a>
        </p>
        {viewer.scope === "write" ? (
          <form class="csv-import" data-csv-import novalidate>
            <label for="csv-file">CSV file to import</label>
            <input id="csv-file" name="file" type="file" accept=".csv,text/csv" required aria-describedby="csv-file-error" />
            <p id="csv-file-error" class="field-error" hidden />
            <div class="actions">
              <button type="submit">Import CSV</button>
            </div>
            <div class="import-report" data-import-report tabindex={-1} hidden />
          </form>
        ) : null}
      </div>
    </Section>
  );
}

participantPages.get("/", async (c) => {
  const viewer = c.var.viewer;
  const query = ListQuery.parse(c.req.query());
  const chatbots = await listTeamChatbots(c.env.DB, viewer.teamId);
  const chatbotId = chatbots.some((bot) => bot.id === query.chatbot_id) ? query.chatbot_id : undefined;
  const channel = query.channel;
  const identifier = query.identifier === "" ? undefined : query.identifier;
  const page = await listParticipants(c.env.DB, {
    teamId: viewer.teamId,
    chatbotId,
    channel,
    identifier,
    cursor: query.cursor,
    limit: PAGE_SIZE,
    newestFirst: true,
  });
  const names = new Map(chatbots.map((bot) => [bot.id, bot.name]));
  const keep = new URLSearchParams();
  if (chatbotId) keep.set("chatbot_id", chatbotId);
  if (channel) keep.set("channel", channel);
  if (identifier) keep.set("identifier", identifier);
  const nextHref = page.nextCursor ? `?${new URLSearchParams([...keep, ["cursor", page.nextCursor]])}` : null;
  const filtered = Boolean(chatbotId || channel || identifier);
  const chosen = chatbotId ?? chatbots[0]?.id;
  return c.html(
    <Layout title="Participants" current="participants" viewer={viewer}>
      <h1>Participants</h1>
      {chatbots.length > 0 ? (
        <nav class="page-actions" aria-label="Participant actions">
          {viewer.scope === "write" ? <a href="#create">Create participant</a> : null}
          <a href="#csv">Export or import CSV</a>
        </nav>
      ) : null}
      <search aria-label="Filter participants">
        <form method="get" class="filters">
          <div>
            <label for="f-chatbot">Chatbot</label>
            <select id="f-chatbot" name="chatbot_id">
              <option value="">All chatbots</option>
              <ChatbotOptions chatbots={chatbots} selected={chatbotId} />
            </select>
          </div>
          <div>
            <label for="f-channel">Channel</label>
            <input id="f-channel" name="channel" value={channel ?? ""} placeholder="web" spellcheck={false} />
          </div>
          <div>
            <label for="f-identifier">Identifier</label>
            <input id="f-identifier" name="identifier" value={identifier ?? ""} dir="auto" spellcheck={false} />
          </div>
          <button type="submit">Filter</button>
        </form>
      </search>
      {page.rows.length === 0 ? (
        <p>No participants{filtered ? " match these filters" : " yet"}.</p>
      ) : (
        <table class="participants">
          <caption class="visually-hidden">Participants, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Identifier</th>
              <th scope="col">Channel</th>
              <th scope="col">Chatbot</th>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Verified</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {page.rows.map((row) => (
              <tr>
                <td>
                  <a href={`/dashboard/participants/${row.id}`}>
                    <Value>{row.identifier}</Value>
                  </a>
                </td>
                <td>{row.channel}</td>
                <td>
                  <Value>{names.get(row.chatbot_id) ?? row.chatbot_id}</Value>
                </td>
                <td>{row.name === null ? "" : <Value>{row.name}</Value>}</td>
                <td>{row.email === null ? "" : <Value>{row.email}</Value>}</td>
                <td>{row.verified === 1 ? "Verified" : "No"}</td>
                <td class="participant-time">{formatTime(row.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager keep={keep} cursor={query.cursor} nextHref={nextHref} />
      {chosen ? (
        <div class="participant-tools">
          {viewer.scope === "write" ? <CreateSection chatbots={chatbots} chosen={chatbotId} /> : null}
          <CsvSection chatbots={chatbots} chosen={chosen} viewer={viewer} />
        </div>
      ) : (
        <p>
          Participants belong to a chatbot: <a href="/dashboard/chatbots">create a chatbot</a> first.
        </p>
      )}
    </Layout>,
    200,
    PAGE_HEADERS,
  );
});

function CustomerSection({ row, viewer }: { row: ParticipantRow; viewer: Viewer }) {
  const verified = (
    <p class="verified">
      {row.verified === 1 ? (
        <>
          <strong>Verified</strong>: an identity token proved who this is.
        </>
      ) : (
        <>Not verified: nothing has proved who this is.</>
      )}
    </p>
  );
  if (viewer.scope === "read") {
    return (
      <Section id="customer" title="Customer">
        <dl class="pairs">
          {(
            [
              ["Name", row.name],
              ["Email", row.email],
              ["Phone", row.phone],
              ["Timezone", row.timezone],
            ] as const
          ).map(([label, value]) => (
            <>
              <dt>{label}</dt>
              <dd>{value === null ? <span class="muted">Not set</span> : <Value>{value}</Value>}</dd>
            </>
          ))}
        </dl>
        {verified}
      </Section>
    );
  }
  return (
    <Section id="customer" title="Customer">
      <form class="customer-form" data-customer-form data-participant-id={row.id} novalidate>
        <Field id="c-name" name="name" label="Name" value={row.name} autocomplete="off" />
        <Field id="c-email" name="email" label="Email" type="email" value={row.email} />
        <Field id="c-phone" name="phone" label="Phone" type="tel" value={row.phone} help="International form, such as +14155550123." />
        <Field
          id="c-timezone"
          name="timezone"
          label="Timezone"
          value={row.timezone}
          help="An IANA time zone name, such as Europe/Vilnius."
        />
        <p class="help">An emptied field is cleared.</p>
        <div class="actions">
          <button type="submit" class="primary">
            Save customer record
          </button>
        </div>
        <output class="form-outcome" data-outcome tabindex={-1} />
      </form>
      {verified}
    </Section>
  );
}

function DataSection({ row, data, chatbot, viewer }: { row: ParticipantRow; data: string; chatbot: Chatbot | null; viewer: Viewer }) {
  const schema = chatbot?.participant_data_schema ?? null;
  return (
    <Section id="data" title="Participant data">
      {schema ? (
        <details class="schema">
          <summary>The chatbot's data schema</summary>
          <section class="json-view" tabindex={0} aria-label="Data schema (JSON)">
            <pre class="json-text">{jsonText(schema)}</pre>
          </section>
        </details>
      ) : (
        <p class="help">The chatbot has no data schema: any JSON object is accepted.</p>
      )}
      {viewer.scope === "read" ? (
        <>
          <p class="help">
            Version <span>{row.version}</span>.
          </p>
          <section class="json-view" tabindex={0} aria-label="Participant data (JSON)">
            <pre class="json-text">{data}</pre>
          </section>
        </>
      ) : (
        <>
          <form class="data-editor" data-data-editor data-participant-id={row.id} data-version={String(row.version)} novalidate>
            <label for="data-json">Data (JSON)</label>
            <p id="data-help" class="help">
              A JSON object. Saving replaces it whole{schema ? ", checked against the chatbot's schema," : ""} and only if nobody changed it
              since version <span data-version-label>{row.version}</span>, which you are editing.
            </p>
            <textarea id="data-json" name="data" rows={16} spellcheck={false} aria-describedby="data-help data-errors">
              {data}
            </textarea>
            <div id="data-errors" class="field-error" data-data-errors hidden />
            <div class="actions">
              <button type="submit" class="primary">
                Save data
              </button>
            </div>
            <output class="form-outcome" data-outcome tabindex={-1} />
          </form>
          <div class="notice conflict" data-data-conflict hidden />
        </>
      )}
    </Section>
  );
}

participantPages.get("/:id", async (c) => {
  const viewer = c.var.viewer;
  const id = c.req.param("id");
  const row = ID_PATTERN.test(id) ? await findTeamParticipant(c.env.DB, viewer.teamId, id) : null;
  if (!row)
    return notFoundPage(c, {
      thing: "Participant",
      current: "participants",
      back: { href: "/dashboard/participants", label: "All participants" },
    });
  const [chatbot, conversations, schedules] = await Promise.all([
    findTeamChatbot(c.env.DB, viewer.teamId, row.chatbot_id),
    listConversations(c.env.DB, { teamId: viewer.teamId, participantId: row.id, limit: CONVERSATIONS_SHOWN }),
    loadSchedules(c.env.DB, row, viewer.teamId),
  ]);
  const data = jsonText(JSON.parse(row.data));
  return c.html(
    <Layout title={`Participant ${row.identifier.slice(0, 80)}`} current="participants" viewer={viewer}>
      <p class="crumbs">
        <a href="/dashboard/participants">Participants</a>
      </p>
      <h1 class="participant-title">
        <Value>{row.identifier}</Value>
      </h1>
      <dl class="pairs participant-facts">
        <dt>Chatbot</dt>
        <dd>
          <a href={`/dashboard/chatbots/${row.chatbot_id}`}>
            <Value>{chatbot?.name ?? row.chatbot_id}</Value>
          </a>
        </dd>
        <dt>Channel</dt>
        <dd>{row.channel}</dd>
        <dt>Participant id</dt>
        <dd>
          <code>{row.id}</code>
        </dd>
        <dt>Created</dt>
        <dd>{formatTime(row.created_at)}</dd>
        <dt>Updated</dt>
        <dd>{formatTime(row.updated_at)}</dd>
      </dl>
      <div class="columns participant-columns">
        <div>
          <DataSection row={row} data={data} chatbot={chatbot} viewer={viewer} />
        </div>
        <div>
          <CustomerSection row={row} viewer={viewer} />
        </div>
      </div>
      <SchedulesSection participant={row} schedules={schedules} viewer={viewer} />
      <Section id="conversations" title="Conversations">
        {conversations.rows.length === 0 ? (
          <p>No conversations yet.</p>
        ) : (
          <>
            <table>
              <caption class="visually-hidden">The participant's conversations, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Conversation</th>
                  <th scope="col">Started</th>
                  <th scope="col">Last message</th>
                  <th scope="col">Messages</th>
                </tr>
              </thead>
              <tbody>
                {conversations.rows.map((conversation) => (
                  <tr>
                    <td>
                      <a href={`/dashboard/conversations/${conversation.id}`}>{conversation.id}</a>
                    </td>
                    <td>{formatTime(conversation.started_at)}</td>
                    <td>{formatTime(conversation.last_message_at)}</td>
                    <td>{conversation.message_count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {conversations.nextCursor ? <p class="help">The {CONVERSATIONS_SHOWN} newest conversations are shown.</p> : null}
          </>
        )}
      </Section>
    </Layout>,
    200,
    PAGE_HEADERS,
  );
});
