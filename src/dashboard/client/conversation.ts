// The conversation page while it is open: new messages are appended and the sidebar's
// Metadata, Customer and Events and the header's state follow the conversation. The page
// listens on the conversation's live WebSocket (GET /v1/conversations/:id/live, the session
// cookie authenticates it): each event it pushes makes the page fetch its own updates at
// once (values arrive as previews; a long value loads on demand through the API). While the
// socket is healthy the updates are also fetched every 30 s as a safety net; where it fails,
// the page polls every 2 s and reconnects with back-off. Fetching stops while the tab is
// hidden and backs off on errors.
import { applyEvents, applyState, CHANGED_EVENT, type EventView, type StateView } from "./conversation-actions";
import { register } from "./enhance";

type PairView = { key: string; text: string; json: boolean; truncated: boolean; length: number; sig: string };
type Customer = { name: string | null; email: string | null; phone: string | null; timezone: string | null; verified: boolean };
type Message = { id: string; role: string; text: string; created_at: string; time: string };
type Updates = {
  message_count: number;
  last_message_label: string;
  messages?: Message[];
  more_messages?: boolean;
  metadata: PairView[];
  customer: Customer;
  participant_id: string;
  state?: StateView;
  events?: EventView[];
};

const POLL_MS = 2_000;
/** While the socket is healthy: a fetch this often anyway, in case an event was missed. */
const SAFETY_POLL_MS = 30_000;
/** Under the idle timeouts of common proxies; the runtime answers "pong" without waking the object. */
const PING_MS = 30_000;
/** A ping unanswered this long means the socket is dead even if it looks open. */
const PONG_TIMEOUT_MS = 10_000;
/**
 * After an event, one more fetch this soon: what the event's write does after telling the
 * sockets (the customer record written through to D1, a trigger that fires on the message)
 * lands a moment later. An unchanged answer is a 304.
 */
const SETTLE_MS = 1_500;
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;
/** A socket open this long has proved itself: the next drop reconnects from RECONNECT_MIN_MS. */
const SOCKET_PROVEN_MS = 60_000;
const MAX_BACKOFF_MS = 60_000;
const SLOW_POLL_MAX_MS = 10_000;
/** Messages the open page shows at most; past that it links to the newer ones instead of growing. */
const LIVE_LIST_MAX = 1_000;
const ROLE_LABELS: Record<string, string> = { visitor: "Visitor", bot: "Bot", agent: "Agent" };

let liveIds = 0;

/** An element with text isolated for bidi, as the server renders every value (`<bdi dir="auto">`). */
function bdi(text: string): HTMLElement {
  const element = document.createElement("bdi");
  element.dir = "auto";
  element.textContent = text;
  return element;
}

function element(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A JSON object or array, pretty-printed; null for anything else. */
function prettyJson(text: string): string | null {
  const start = text.trimStart()[0];
  if (start !== "{" && start !== "[") return null;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}

function messageItem(message: Message): HTMLElement {
  const item = element("li", `message ${message.role}`);
  item.dataset.id = message.id;
  const meta = element("span", "meta");
  meta.append(element("span", "role", ROLE_LABELS[message.role] ?? message.role), " · ");
  const time = element("time", "", message.time);
  time.setAttribute("datetime", message.created_at);
  meta.append(time);
  item.append(meta, bdi(message.text));
  return item;
}

/** The value part of a pair (`dd`), as the server renders it. */
function pairValue(pair: PairView): HTMLElement {
  const dd = document.createElement("dd");
  const valueId = `md-live-${++liveIds}`;
  const value = element("div", pair.json ? "value json" : "value");
  value.id = valueId;
  value.append(bdi(pair.text));
  if (pair.truncated) value.append(element("span", "ellipsis", "…"));
  dd.append(value);
  if (pair.truncated) {
    const collapsed = element("p", "collapsed");
    const button = element("button", "show-full", "Show full value");
    button.setAttribute("type", "button");
    button.setAttribute("aria-controls", valueId);
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-label", `Show full value of ${pair.key}`);
    collapsed.append(element("span", "help", `${pair.length.toLocaleString("en-US")} characters`), " ", button);
    dd.append(collapsed);
  }
  return dd;
}

function pairItem(pair: PairView): HTMLElement {
  const item = element("div", "pair");
  item.dataset.key = pair.key;
  item.dataset.sig = pair.sig;
  const dt = document.createElement("dt");
  dt.append(bdi(pair.key));
  item.append(dt, pairValue(pair));
  return item;
}

/** Brings the Metadata list to `pairs` (already in display order), touching only what changed. */
function applyMetadata(list: HTMLElement, empty: HTMLElement | null, pairs: PairView[]): void {
  const shown = new Map<string, HTMLElement>();
  for (const item of Array.from(list.children) as HTMLElement[]) shown.set(item.dataset.key ?? "", item);
  let previous: HTMLElement | null = null;
  for (const pair of pairs) {
    let item = shown.get(pair.key);
    shown.delete(pair.key);
    if (item && item.dataset.sig !== pair.sig) {
      const hadFocus = item.contains(document.activeElement);
      item.querySelector("dd")?.replaceWith(pairValue(pair));
      item.dataset.sig = pair.sig;
      if (hadFocus) (item.querySelector("button") ?? undefined)?.focus();
    }
    if (!item) item = pairItem(pair);
    // Keys keep their order, so only new ones are inserted: a focused button never moves.
    const expected: Element | null = previous ? previous.nextElementSibling : list.firstElementChild;
    if (expected !== item) list.insertBefore(item, expected);
    previous = item;
  }
  for (const gone of shown.values()) gone.remove();
  if (empty) empty.hidden = pairs.length > 0;
}

function applyCustomer(root: HTMLElement, customer: Customer): void {
  for (const field of ["name", "email", "phone", "timezone"] as const) {
    const dd = root.querySelector<HTMLElement>(`.customer [data-field="${field}"]`);
    if (!dd) continue;
    const value = customer[field];
    const current = dd.querySelector("bdi")?.textContent ?? null;
    if (current === value) continue;
    dd.replaceChildren(value === null ? element("span", "unset", "Not set") : bdi(value));
  }
  const verified = root.querySelector<HTMLElement>('.customer [data-field="verified"]');
  if (verified) verified.textContent = customer.verified ? "Yes" : "No";
}

/** "Show full value": loads the value through the API (the session cookie authenticates), then toggles. */
function enableFullValues(root: HTMLElement, conversationId: string): void {
  const fullValues = new WeakMap<HTMLElement, { preview: string; full: string }>();
  root.addEventListener("click", async (event) => {
    const button = (event.target as Element | null)?.closest<HTMLButtonElement>("button.show-full");
    if (!button || button.getAttribute("aria-busy") === "true") return;
    const item = button.closest<HTMLElement>(".pair");
    const value = item?.querySelector<HTMLElement>(".value");
    const key = item?.dataset.key;
    if (!item || !value || key === undefined) return;
    const text = value.querySelector("bdi");
    const ellipsis = value.querySelector<HTMLElement>(".ellipsis");
    let known = fullValues.get(value);
    if (button.getAttribute("aria-expanded") === "true") {
      if (text && known) text.textContent = known.preview;
      value.classList.remove("expanded", "json");
      value.removeAttribute("tabindex");
      if (ellipsis) ellipsis.hidden = false;
      button.textContent = "Show full value";
      button.setAttribute("aria-label", `Show full value of ${key}`);
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const error = item.querySelector<HTMLElement>(".field-error");
    error?.remove();
    if (!known) {
      button.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(`/v1/conversations/${encodeURIComponent(conversationId)}/metadata/${encodeURIComponent(key)}`, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          cache: "no-store",
        });
        const body = await response.json().catch(() => null);
        if (!response.ok || typeof body?.value !== "string") {
          const detail = typeof body?.detail === "string" ? body.detail : `The value could not be loaded (${response.status}).`;
          throw new Error(detail);
        }
        known = { preview: text?.textContent ?? "", full: prettyJson(body.value) ?? body.value };
        fullValues.set(value, known);
      } catch (failure) {
        const message = element("p", "field-error", failure instanceof Error ? failure.message : "The value could not be loaded.");
        message.setAttribute("role", "alert");
        button.closest(".collapsed")?.after(message);
        return;
      } finally {
        button.removeAttribute("aria-busy");
      }
    }
    // The pair may have changed while the value loaded: a new preview replaced this one.
    if (!value.isConnected) return;
    if (text) text.textContent = known.full;
    if (prettyJson(known.full) !== null) value.classList.add("json");
    // A long value scrolls inside its box, which the keyboard can reach.
    value.classList.add("expanded");
    value.tabIndex = 0;
    if (ellipsis) ellipsis.hidden = true;
    button.textContent = "Show less";
    button.setAttribute("aria-label", `Show less of ${key}`);
    button.setAttribute("aria-expanded", "true");
  });
}

function followConversation(root: HTMLElement): void {
  const conversationId = root.dataset.conversationId;
  if (!conversationId) return;
  enableFullValues(root, conversationId);
  const messages = root.querySelector<HTMLElement>("ol.messages");
  const metadata = root.querySelector<HTMLElement>("dl.metadata");
  const emptyMetadata = root.querySelector<HTMLElement>(".empty-metadata");
  const status = root.querySelector<HTMLElement>(".live-status");
  const summary = root.querySelector<HTMLElement>(".messages-summary");
  const count = root.querySelector<HTMLElement>('[data-live="message-count"]');
  const lastMessage = root.querySelector<HTMLElement>('[data-live="last-message"]');
  // Present only on the last page of messages: the id to append after ("" for none yet).
  let after = messages?.dataset.liveAfter;
  let etag: string | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let backoff = POLL_MS;
  let stopped = false;
  let inFlight = false;
  /** Something happened while a fetch was on its way (or the tab was hidden): fetch again after it. */
  let again = false;
  /** Fetches still owed at the settling pace since the last event. */
  let settling = 0;

  // The live socket: open and answering pings, or not (then the page polls).
  let socket: WebSocket | undefined;
  let socketOpen = false;
  let openedAt = 0;
  let reconnectDelay = RECONNECT_MIN_MS;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  root.dataset.liveChannel = "polling";

  const say = (text: string) => {
    if (status && status.textContent !== text) status.textContent = text;
  };
  const stop = (why: string) => {
    stopped = true;
    clearTimeout(timer);
    closeSocket();
    say(why);
  };
  const schedule = (ms: number) => {
    clearTimeout(timer);
    if (!stopped && !document.hidden) timer = setTimeout(poll, ms);
  };
  /**
   * Something changed: fetch now, or right after the fetch on its way; after an event
   * (`settle`), once more a moment later.
   */
  const fetchSoon = (settle = true) => {
    if (stopped) return;
    if (settle) settling = 1;
    if (inFlight || document.hidden) again = true;
    else schedule(0);
  };

  const apply = (updates: Updates) => {
    if (count) count.textContent = String(updates.message_count);
    if (lastMessage) lastMessage.textContent = updates.last_message_label;
    if (messages && updates.messages) {
      for (const message of updates.messages) {
        if (messages.querySelector(`li[data-id="${CSS.escape(message.id)}"]`)) continue;
        messages.append(messageItem(message));
        after = message.id;
      }
      messages.dataset.liveAfter = after;
      if (summary && messages.children.length > 0) {
        const shown = messages.children.length;
        const from = Number(summary.dataset.from);
        summary.textContent = from
          ? `Messages ${from} to ${from + shown - 1} of ${updates.message_count}, oldest first.`
          : `${shown} of ${updates.message_count} messages, after the earlier ones.`;
      }
      if (messages.children.length >= LIVE_LIST_MAX && after) {
        // A page open all day stops growing: the newer messages are a page away.
        const link = element("a", "", "Newer messages");
        link.setAttribute("href", `?${new URLSearchParams({ after })}`);
        root.querySelector('nav[aria-label="Message pages"]')?.append(link);
        after = undefined;
      }
    }
    if (metadata) applyMetadata(metadata, emptyMetadata, updates.metadata);
    applyCustomer(root, updates.customer);
    if (updates.state) applyState(root, updates.state);
    if (updates.events) applyEvents(root, updates.events);
    if (updates.participant_id !== root.dataset.participantId) {
      root.dataset.participantId = updates.participant_id;
      const link = root.querySelector<HTMLAnchorElement>(".participant-link");
      if (link) {
        link.href = `/dashboard/participants/${encodeURIComponent(updates.participant_id)}`;
        link.querySelector("code")?.replaceChildren(updates.participant_id);
      }
      root
        .querySelector(".participant-data")
        ?.replaceChildren("This conversation moved to another participant: reload the page to see its data.");
    }
  };

  async function poll(): Promise<void> {
    if (inFlight || stopped || document.hidden) return;
    inFlight = true;
    again = false;
    const began = performance.now();
    let next = POLL_MS;
    try {
      const query = after === undefined ? "" : `?${new URLSearchParams({ after })}`;
      const response = await fetch(`/dashboard/conversations/${encodeURIComponent(conversationId!)}/updates${query}`, {
        headers: etag ? { Accept: "application/json", "If-None-Match": etag } : { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
        // A signed-out session answers with a redirect to the sign-in page: seen here, not followed.
        redirect: "manual",
      });
      if (response.type === "opaqueredirect" || response.status === 401) {
        stop("Your session has ended: live updates stopped. Reload the page to sign in again.");
        return;
      }
      if (response.status === 404) {
        stop("This conversation is no longer available: live updates stopped.");
        return;
      }
      if (response.status !== 304) {
        if (!response.ok) throw new Error(String(response.status));
        const updates = (await response.json()) as Updates;
        etag = response.headers.get("ETag");
        apply(updates);
        if (updates.more_messages) next = 0;
      }
      backoff = POLL_MS;
      say("");
      if (next > 0) {
        // With a healthy socket, events say when to fetch; otherwise poll, less often where a
        // conversation is slow to read (very large metadata) or the server is busy.
        next = socketOpen ? SAFETY_POLL_MS : Math.min(Math.max(POLL_MS, (performance.now() - began) * 4), SLOW_POLL_MAX_MS);
        if (settling > 0) {
          settling--;
          next = Math.min(next, SETTLE_MS);
        }
      }
      if (again) next = 0;
    } catch {
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      next = backoff;
      say(`Live updates could not be fetched; trying again in ${Math.round(backoff / 1000)} seconds.`);
    } finally {
      inFlight = false;
    }
    schedule(next);
  }

  // ---- the live socket ---------------------------------------------------------------

  function closeSocket(): void {
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    clearTimeout(reconnectTimer);
    const was = socket;
    socket = undefined;
    socketOpen = false;
    root.dataset.liveChannel = "polling";
    try {
      was?.close(1000);
    } catch {
      // already closed
    }
  }

  /** The socket failed or closed: poll every 2 s meanwhile, and reconnect after a growing, jittered delay. */
  function lost(ws: WebSocket): void {
    if (socket !== ws) return;
    const proven = socketOpen && Date.now() - openedAt >= SOCKET_PROVEN_MS;
    closeSocket();
    if (stopped) return;
    // Unless fetches are failing (their own back-off stands), poll at the fast pace now.
    if (!inFlight && backoff === POLL_MS) schedule(POLL_MS);
    if (proven) reconnectDelay = RECONNECT_MIN_MS;
    const wait = reconnectDelay * (0.75 + Math.random() * 0.5);
    reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
    reconnectTimer = setTimeout(connect, wait);
  }

  function connect(): void {
    if (stopped || socket || typeof WebSocket === "undefined") return;
    const url = new URL(`/v1/conversations/${encodeURIComponent(conversationId!)}/live`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let ws: WebSocket;
    try {
      ws = new WebSocket(url.href);
    } catch {
      reconnectTimer = setTimeout(connect, RECONNECT_MAX_MS);
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      if (socket !== ws) return;
      socketOpen = true;
      openedAt = Date.now();
      root.dataset.liveChannel = "socket";
      pingTimer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send("ping");
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => lost(ws), PONG_TIMEOUT_MS);
      }, PING_MS);
      // Whatever happened while the socket was down or connecting: fetched now, then events say when.
      fetchSoon(false);
    });
    ws.addEventListener("message", (event) => {
      if (socket !== ws) return;
      if (event.data === "pong") {
        clearTimeout(pongTimer);
        return;
      }
      let type: unknown;
      try {
        type = (JSON.parse(String(event.data)) as { type?: unknown }).type;
      } catch {
        return;
      }
      if (type === "message" || type === "metadata" || type === "state") fetchSoon();
    });
    ws.addEventListener("close", () => lost(ws));
  }

  root.addEventListener(CHANGED_EVENT, () => fetchSoon());
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) clearTimeout(timer);
    else schedule(0);
  });
  schedule(POLL_MS);
  connect();
}

register({ selector: ".conversation[data-conversation-id]", run: followConversation });
