/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { z } from "zod";
import { listTeamChatbots } from "../chatbots/storage";
import { conversationClient } from "../conversations/client";
import type { ConversationState, Message } from "../conversations/model";
import { type ConversationView, findConversationView, listConversations } from "../conversations/storage";
import { findCustomersByIds } from "../participants/storage";
import { Cursor } from "../shared/cursor";
import { codePointLength, sha256, toHex } from "../shared/encoding";
import { ID_PATTERN } from "../shared/ids";
import { parseWith } from "../shared/json-body";
import { WIDGET_KEY_PREFIX } from "../shared/key-prefixes";
import { notFound } from "../shared/problem";
import type { TriggerFiring } from "../triggers/model";
import type { DashboardEnv } from "./auth";
import { ACTION_LABELS, shorten, TRIGGER_EVENT_LABELS } from "./automation-labels";
import { formatTime, Layout, notFoundPage, PAGE_HEADERS, Pager, Section, Value } from "./layout";

/** /dashboard/conversations: the list, and each conversation's page. */
export const conversationPages = new Hono<DashboardEnv>();

const PAGE_SIZE = 50;

// A filter that does not parse is ignored, not an error page: the form shows what applies.
const ListQuery = z.object({
  chatbot_id: z.string().max(64).optional().catch(undefined),
  metadata_key: z.string().min(1).max(400).optional().catch(undefined),
  metadata_value: z.string().max(1000).optional().catch(undefined),
  cursor: Cursor.optional().catch(undefined),
});

conversationPages.get("/", async (c) => {
  const viewer = c.var.viewer;
  const query = ListQuery.parse(c.req.query());
  const chatbots = await listTeamChatbots(c.env.DB, viewer.teamId);
  const chatbotId = chatbots.some((bot) => bot.id === query.chatbot_id) ? query.chatbot_id : undefined;
  const metadataKey = query.metadata_key?.trim() || undefined;
  const metadataValue = metadataKey && query.metadata_value !== undefined && query.metadata_value !== "" ? query.metadata_value : undefined;
  const page = await listConversations(c.env.DB, {
    teamId: viewer.teamId,
    chatbotId,
    cursor: query.cursor,
    limit: PAGE_SIZE,
    metadata: metadataKey ? { key: metadataKey, value: metadataValue } : undefined,
  });
  const customers = await findCustomersByIds(c.env.DB, [...new Set(page.rows.map((row) => row.participant_id))]);
  const names = new Map(chatbots.map((bot) => [bot.id, bot.name]));
  const keep = new URLSearchParams();
  if (chatbotId) keep.set("chatbot_id", chatbotId);
  if (metadataKey) keep.set("metadata_key", metadataKey);
  if (metadataValue !== undefined) keep.set("metadata_value", metadataValue);
  const nextHref = page.nextCursor ? `?${new URLSearchParams([...keep, ["cursor", page.nextCursor]])}` : null;
  return c.html(
    <Layout title="Conversations" current="conversations" viewer={viewer}>
      <h1>Conversations</h1>
      <search aria-label="Filter conversations">
        <form method="get" class="filters">
          <div>
            <label for="f-chatbot">Chatbot</label>
            <select id="f-chatbot" name="chatbot_id">
              <option value="">All chatbots</option>
              {chatbots.map((bot) => (
                <option value={bot.id} selected={bot.id === chatbotId}>
                  {bot.name}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="f-key">Metadata key</label>
            <input id="f-key" name="metadata_key" value={metadataKey ?? ""} placeholder="chat-widget:plan" dir="auto" spellcheck={false} />
          </div>
          <div>
            <label for="f-value">Metadata value</label>
            <input id="f-value" name="metadata_value" value={metadataValue ?? ""} placeholder="any value" dir="auto" spellcheck={false} />
          </div>
          <button type="submit">Filter</button>
        </form>
      </search>
      {metadataKey ? (
        <p class="help">Metadata filters read the listing index, which follows each conversation within about 30 seconds.</p>
      ) : null}
      {page.rows.length === 0 ? (
        <p>No conversations{metadataKey || chatbotId ? " match these filters" : " yet"}.</p>
      ) : (
        <table class="conversations">
          <caption class="visually-hidden">Conversations, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Conversation</th>
              <th scope="col">Customer</th>
              <th scope="col">Chatbot</th>
              <th scope="col">Started</th>
              <th scope="col">Last message</th>
              <th scope="col" class="count">
                Messages
              </th>
            </tr>
          </thead>
          <tbody>
            {page.rows.map((row) => {
              const customer = customers.get(row.participant_id);
              return (
                <tr>
                  <td>
                    <a href={`/dashboard/conversations/${row.id}`}>{row.id}</a>
                  </td>
                  <td>
                    <Value>{customer?.name ?? customer?.email ?? "Anonymous"}</Value>
                  </td>
                  <td>
                    <Value>{names.get(row.chatbot_id) ?? row.chatbot_id}</Value>
                  </td>
                  <td>{formatTime(row.started_at)}</td>
                  <td>{row.last_message_at ? formatTime(row.last_message_at) : "—"}</td>
                  <td class="count">{row.message_count}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager keep={keep} cursor={query.cursor} nextHref={nextHref} />
    </Layout>,
    200,
    PAGE_HEADERS,
  );
});

// ---- one conversation -----------------------------------------------------------

/** Messages per page of the conversation page: oldest first, then "Newer messages". */
const MESSAGES_PER_PAGE = 200;
/** Messages one live update carries at most; the page asks again at once where more follow. */
const LIVE_MESSAGES_MAX = 100;
/**
 * A metadata value longer than this (in UTF-16 units) is shown by its start, with a
 * button that loads the rest: 200 values of 50,000 characters make a page of a few
 * hundred KB instead of 10 MB.
 */
const PREVIEW_UNITS = 300;
/** Participant data shown on this page at most (characters of its pretty JSON); the whole is on the participant's page. */
const PARTICIPANT_DATA_SHOWN = 20_000;

const PageQuery = z.object({ after: Cursor.optional().catch(undefined) });
// `after` absent: the sidebar only (a page that is not the last one); empty: from the first message.
const UpdatesQuery = z.object({ after: z.union([z.literal(""), Cursor]).optional() });

/** What the page and its live updates show of one metadata pair. */
type PairView = {
  key: string;
  /** The value, pretty-printed where it is a JSON object or array; only its start where `truncated`. */
  text: string;
  json: boolean;
  truncated: boolean;
  /** The whole value's length in characters (code points). */
  length: number;
  /** Identifies the whole value, so the page sees a change past the preview. */
  sig: string;
};

/** The first `units` UTF-16 units of `text`, never ending in half of a surrogate pair. */
function cut(text: string, units: number): string {
  if (text.length <= units) return text;
  const code = text.charCodeAt(units - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? units - 1 : units);
}

/** A JSON object or array, pretty-printed; null for anything else (a plain string stays as it is). */
function prettyJson(text: string): string | null {
  const start = text.trimStart()[0];
  if (start !== "{" && start !== "[") return null;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}

async function pairView(key: string, value: string): Promise<PairView> {
  const sig = toHex(await sha256(value)).slice(0, 16);
  if (value.length > PREVIEW_UNITS) {
    return { key, text: cut(value, PREVIEW_UNITS), json: false, truncated: true, length: codePointLength(value), sig };
  }
  const pretty = prettyJson(value);
  return { key, text: pretty ?? value, json: pretty !== null, truncated: false, length: codePointLength(value), sig };
}

/** `chat-widget:*` keys first, then the others; each group sorted by code unit, as the page's script sorts. */
function displayOrder(a: string, b: string): number {
  const widgetA = a.startsWith(WIDGET_KEY_PREFIX);
  const widgetB = b.startsWith(WIDGET_KEY_PREFIX);
  if (widgetA !== widgetB) return widgetA ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function metadataViews(metadata: Record<string, string>): Promise<PairView[]> {
  return Promise.all(
    Object.keys(metadata)
      .sort(displayOrder)
      .map((key) => pairView(key, metadata[key]!)),
  );
}

type CustomerView = { name: string | null; email: string | null; phone: string | null; timezone: string | null; verified: boolean };

function customerOf(view: ConversationView): CustomerView {
  return { name: view.name, email: view.email, phone: view.phone, timezone: view.timezone, verified: view.verified === 1 };
}

const ROLE_LABELS: Record<string, string> = { visitor: "Visitor", bot: "Bot", agent: "Agent" };

function MessageItem({ message }: { message: Message }) {
  return (
    <li class={`message ${message.role}`} data-id={message.id}>
      <span class="meta">
        <span class="role">{ROLE_LABELS[message.role] ?? message.role}</span> ·{" "}
        <time datetime={message.created_at}>{formatTime(message.created_at)}</time>
      </span>
      <Value>{message.text}</Value>
    </li>
  );
}

function PairItem({ pair, index }: { pair: PairView; index: number }) {
  const valueId = `md-value-${index}`;
  return (
    <div class="pair" data-key={pair.key} data-sig={pair.sig}>
      <dt>
        <Value>{pair.key}</Value>
      </dt>
      <dd>
        <div class={pair.json ? "value json" : "value"} id={valueId}>
          <Value>{pair.text}</Value>
          {pair.truncated ? <span class="ellipsis">…</span> : null}
        </div>
        {pair.truncated ? (
          <p class="collapsed">
            <span class="help">{pair.length.toLocaleString("en-US")} characters</span>{" "}
            <button
              type="button"
              class="show-full"
              aria-controls={valueId}
              aria-expanded="false"
              aria-label={`Show full value of ${pair.key}`}
            >
              Show full value
            </button>
          </p>
        ) : null}
      </dd>
    </div>
  );
}

/** A customer field, or a muted "Not set". */
function Field({ label, field, value }: { label: string; field: string; value: string | null }) {
  return (
    <>
      <dt>{label}</dt>
      <dd data-field={field}>{value === null ? <span class="unset">Not set</span> : <Value>{value}</Value>}</dd>
    </>
  );
}

/** The participant's data as pretty JSON, cut where it is long (the participant's page has it whole). */
function participantDataText(data: string | undefined): { text: string; cutShort: boolean; mayScroll: boolean } {
  let pretty: string;
  try {
    pretty = JSON.stringify(JSON.parse(data ?? "{}"), null, 2);
  } catch {
    pretty = data ?? "";
  }
  const text = cut(pretty, PARTICIPANT_DATA_SHOWN);
  // A box that may scroll is reachable by keyboard; a short one is not a Tab stop.
  const mayScroll = text.length > 500 || text.split("\n", 21).length > 20;
  return { text, cutShort: text.length < pretty.length, mayScroll };
}

/** Trigger firings the page shows, newest first (the API lists them all). */
const EVENTS_SHOWN = 50;

/** One firing as the page and its live updates show it. */
type EventView = {
  id: string;
  on: string;
  action: string;
  status: "ok" | "failed";
  detail: string;
  fired_at: string;
  time: string;
};

function eventViews(firings: TriggerFiring[]): EventView[] {
  return firings
    .slice(-EVENTS_SHOWN)
    .reverse()
    .map((firing) => ({
      id: firing.id,
      on: TRIGGER_EVENT_LABELS[firing.on] ?? firing.on,
      action: ACTION_LABELS[firing.action_type] ?? firing.action_type,
      status: firing.status,
      detail: shorten(firing.detail, 500),
      fired_at: firing.fired_at,
      time: formatTime(firing.fired_at),
    }));
}

/** The conversation's state as the header and its live updates show it. */
function stateView(state: ConversationState) {
  return { ...state, ended_label: state.ended_at ? formatTime(state.ended_at) : "" };
}

function EventItem({ event }: { event: EventView }) {
  return (
    <li class={`event event-${event.status}`} data-id={event.id}>
      <span class="meta">
        <time datetime={event.fired_at}>{event.time}</time> · <span class="event-status">{event.status === "ok" ? "OK" : "Failed"}</span>
      </span>
      <span class="event-what">
        {event.on} → {event.action}
      </span>
      {event.detail ? (
        <span class="event-detail">
          <Value>{event.detail}</Value>
        </span>
      ) : null}
    </li>
  );
}

/** Status, outcome and when it ended; with End or Reopen and the outcome field for a write session. */
function StateFacts({ state }: { state: ConversationState }) {
  return (
    <>
      <div>
        <dt>Status</dt>
        <dd data-live="status">{state.status === "ended" ? "Ended" : "Open"}</dd>
      </div>
      <div>
        <dt>Outcome</dt>
        <dd data-live="outcome">{state.outcome === null ? <span class="unset">None</span> : <Value>{state.outcome}</Value>}</dd>
      </div>
      <div data-live="ended" hidden={state.ended_at === null}>
        <dt>Ended</dt>
        <dd data-live="ended-at">{state.ended_at ? <time datetime={state.ended_at}>{formatTime(state.ended_at)}</time> : null}</dd>
      </div>
    </>
  );
}

function StateForm({ state }: { state: ConversationState }) {
  const ended = state.status === "ended";
  return (
    <form class="conversation-state" data-conversation-state novalidate>
      <button type="button" data-set-status={ended ? "open" : "ended"}>
        {ended ? "Reopen conversation" : "End conversation"}
      </button>
      <div class="outcome-field">
        <label for="conversation-outcome">Outcome</label>
        <input
          id="conversation-outcome"
          name="outcome"
          value={state.outcome ?? ""}
          maxlength={64}
          autocomplete="off"
          spellcheck={false}
          placeholder="resolved"
          data-pointer="/outcome"
          aria-describedby="conversation-outcome-help conversation-outcome-error"
        />
        <button type="submit">Set outcome</button>
      </div>
      <p id="conversation-outcome-help" class="help">
        A label of a-z, 0-9, _ and -, such as <code>resolved</code> or <code>handoff</code>; empty clears it.
      </p>
      <p id="conversation-outcome-error" class="field-error" hidden />
      <p class="form-status" role="status" />
    </form>
  );
}

function AgentForm() {
  return (
    <form class="agent-answer" data-agent-answer novalidate>
      <label for="agent-text">Answer as agent</label>
      <textarea
        id="agent-text"
        name="text"
        rows={3}
        dir="auto"
        required
        data-pointer="/text"
        aria-describedby="agent-text-help agent-text-error"
      />
      <p id="agent-text-help" class="help">
        The visitor sees it in the widget at once. Ctrl+Enter sends.
      </p>
      <p id="agent-text-error" class="field-error" hidden />
      <div class="actions">
        <button type="submit" class="primary">
          Send as agent
        </button>
        <p class="form-status" role="status" />
      </div>
    </form>
  );
}

conversationPages.get("/:id", async (c) => {
  const viewer = c.var.viewer;
  const id = c.req.param("id");
  const view = ID_PATTERN.test(id) ? await findConversationView(c.env.DB, viewer.teamId, id, { withData: true }) : null;
  if (!view)
    return notFoundPage(c, {
      thing: "Conversation",
      current: "conversations",
      back: { href: "/dashboard/conversations", label: "All conversations" },
    });
  const { after } = PageQuery.parse(c.req.query());
  const client = conversationClient(c.env, id);
  const [snapshot, page, firings] = await Promise.all([
    client.snapshot(),
    client.listMessages({ after, limit: MESSAGES_PER_PAGE }),
    client.listEvents(),
  ]);
  const events = eventViews(firings);
  const canWrite = viewer.scope === "write";
  const pairs = await metadataViews(snapshot.metadata);
  const customer = customerOf(view);
  const data = participantDataText(view.data);
  const last = page.messages.at(-1);
  // Only the last page grows as messages arrive; an earlier one links to the newer messages instead.
  const liveAfter = page.next_cursor === null ? (last?.id ?? after ?? "") : undefined;
  const summary =
    page.messages.length === 0
      ? after
        ? "No messages after this point."
        : "No messages yet."
      : after
        ? `${page.messages.length} of ${snapshot.message_count} messages, after the earlier ones.`
        : `Messages 1 to ${page.messages.length} of ${snapshot.message_count}, oldest first.`;
  return c.html(
    <Layout title={`Conversation ${id}`} current="conversations" viewer={viewer}>
      <div class="conversation" data-conversation-id={id} data-participant-id={view.participant_id}>
        <p class="crumbs">
          <a href="/dashboard/conversations">Conversations</a>
        </p>
        <header class="conversation-head">
          <h1>
            Conversation <code>{id}</code>
          </h1>
          <dl class="facts">
            <div>
              <dt>Chatbot</dt>
              <dd>
                <Value>{view.chatbot_name}</Value>
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>
                <time datetime={view.started_at}>{formatTime(view.started_at)}</time>
              </dd>
            </div>
            <div>
              <dt>Messages</dt>
              <dd data-live="message-count">{snapshot.message_count}</dd>
            </div>
            <div>
              <dt>Last message</dt>
              <dd data-live="last-message">{snapshot.last_message_at ? formatTime(snapshot.last_message_at) : "None yet"}</dd>
            </div>
            <StateFacts state={snapshot.state} />
          </dl>
          {canWrite ? <StateForm state={snapshot.state} /> : null}
          <p class="live-status help" role="status" />
        </header>
        <div class="columns">
          <Section id="messages" title="Messages">
            <p class="help messages-summary" data-from={after ? undefined : "1"}>
              {summary}
            </p>
            <ol
              class="messages"
              aria-live="polite"
              aria-relevant="additions"
              aria-label="Messages, oldest first"
              data-live-after={liveAfter}
            >
              {page.messages.map((message) => (
                <MessageItem message={message} />
              ))}
            </ol>
            <nav class="pager" aria-label="Message pages">
              {after ? (
                <a href="?">
                  <span aria-hidden="true">← </span>Earliest messages
                </a>
              ) : null}
              {page.next_cursor ? (
                <a href={`?${new URLSearchParams({ after: page.next_cursor })}`}>
                  Newer messages<span aria-hidden="true"> →</span>
                </a>
              ) : null}
            </nav>
            {canWrite ? <AgentForm /> : null}
          </Section>
          <aside class="sidebar conversation-sidebar" aria-label="Conversation details">
            <Section id="metadata" title="Metadata">
              <p class="help empty-metadata" hidden={pairs.length > 0}>
                No metadata.
              </p>
              <dl class="metadata">
                {pairs.map((pair, index) => (
                  <PairItem pair={pair} index={index} />
                ))}
              </dl>
            </Section>
            <Section id="customer" title="Customer">
              <dl class="pairs customer">
                <Field label="Name" field="name" value={customer.name} />
                <Field label="Email" field="email" value={customer.email} />
                <Field label="Phone" field="phone" value={customer.phone} />
                <Field label="Timezone" field="timezone" value={customer.timezone} />
                <dt>Verified</dt>
                <dd data-field="verified">{customer.verified ? "Yes" : "No"}</dd>
              </dl>
            </Section>
            <Section id="participant-data" title="Participant data">
              <p>
                <a href={`/dashboard/participants/${view.participant_id}`} class="participant-link">
                  Participant <code>{view.participant_id}</code>
                </a>
              </p>
              <pre class="participant-data" tabindex={data.mayScroll ? 0 : undefined}>
                <Value>{data.text}</Value>
              </pre>
              {data.cutShort ? <p class="help">Only the start is shown here; the participant's page has the whole data.</p> : null}
            </Section>
            <Section id="events" title="Events">
              <p class="help empty-events" hidden={events.length > 0}>
                No trigger has fired in this conversation.
              </p>
              <ol class="events" aria-label={`What the chatbot's triggers did, newest first (at most ${EVENTS_SHOWN})`}>
                {events.map((event) => (
                  <EventItem event={event} />
                ))}
              </ol>
            </Section>
          </aside>
        </div>
      </div>
    </Layout>,
    200,
    PAGE_HEADERS,
  );
});

/**
 * What the open page polls: messages after the last one it shows, and the sidebar as it
 * is now. Values come as previews, never whole (a value is loaded on demand through the
 * API), and an unchanged answer is a 304, so an open page costs little however large
 * the conversation's metadata.
 */
conversationPages.get("/:id/updates", async (c) => {
  const viewer = c.var.viewer;
  const id = c.req.param("id");
  const view = ID_PATTERN.test(id) ? await findConversationView(c.env.DB, viewer.teamId, id, { withData: false }) : null;
  if (!view) throw notFound("No conversation with that id.");
  const { after } = parseWith(UpdatesQuery, c.req.query(), "query");
  const client = conversationClient(c.env, id);
  const [snapshot, page, firings] = await Promise.all([
    client.snapshot(),
    after === undefined ? null : client.listMessages({ after: after || undefined, limit: LIVE_MESSAGES_MAX }),
    client.listEvents(),
  ]);
  const body = JSON.stringify({
    message_count: snapshot.message_count,
    last_message_at: snapshot.last_message_at,
    last_message_label: snapshot.last_message_at ? formatTime(snapshot.last_message_at) : "None yet",
    ...(page
      ? {
          messages: page.messages.map((message) => ({ ...message, time: formatTime(message.created_at) })),
          more_messages: page.next_cursor !== null,
        }
      : {}),
    metadata: await metadataViews(snapshot.metadata),
    customer: customerOf(view),
    participant_id: view.participant_id,
    state: stateView(snapshot.state),
    events: eventViews(firings),
  });
  const etag = `"${toHex(await sha256(body)).slice(0, 32)}"`;
  const headers = { "Cache-Control": "no-store", ETag: etag, "X-Content-Type-Options": "nosniff" };
  if (c.req.header("If-None-Match") === etag) return c.body(null, 304, headers);
  return c.body(body, 200, { ...headers, "Content-Type": "application/json; charset=utf-8" });
});
