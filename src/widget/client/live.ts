// Live updates of the open conversation: its WebSocket (served by the conversation's object),
// else polling. Every message read or pushed goes to one callback, which shows each id once.
// The socket reconnects with exponential back-off and jitter, pings to keep intermediaries
// from closing it while idle, and lets go when the page stays hidden or the conversation is
// replaced. Reads ask only for what follows the last message read in order (`after`).
import { type HttpError, liveUrl, type Message, readMessages } from "./api";
import { state } from "./session";

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
/** A socket open this long has proved itself: the next drop retries from MIN_DELAY_MS. */
const HEALTHY_MS = 60_000;
/** Under the idle timeouts of common proxies; the runtime answers "pong" without waking the object. */
const PING_MS = 30_000;
const POLL_MS = 3000;
/** Polling while the panel is closed or the page hidden: slower, the visitor is not looking. */
const POLL_IDLE_MS = 30_000;
/** A page hidden this long closes its socket and stops polling until it is seen again. */
const HIDDEN_MS = 5 * 60_000;
const MAX_PAGES = 25;

type Receive = (messages: Message[]) => void;

let receive: Receive = () => {};
/** The conversation followed ("" none) and its token. */
let conversation = "";
let token = "";
/** The last message read in order: what a catch-up or a poll asks to follow. */
let lastId = "";
let socket: WebSocket | undefined;
/** Pushed before the socket's catch-up read is done: shown after it, so the list keeps its order. */
let queued: Message[] | undefined;
let opened = 0;
let delay = MIN_DELAY_MS;
let paused = false;
let listening = false;
let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
let pollTimer: ReturnType<typeof setTimeout> | undefined;
let pingTimer: ReturnType<typeof setInterval> | undefined;
let hiddenTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Follows a conversation whose messages up to `after` are shown; the one followed before,
 * if another, is let go. Following the same conversation again changes nothing.
 */
export function follow(id: string, conversationToken: string, after: string, onMessages: Receive): void {
  if (id === conversation) return;
  stopLive();
  conversation = id;
  token = conversationToken;
  lastId = after;
  receive = onMessages;
  delay = MIN_DELAY_MS;
  if (!listening) {
    listening = true;
    document.addEventListener("visibilitychange", onVisibility);
  }
  connect();
}

/** Lets the conversation go: the socket closed, no timer left. */
export function stopLive(): void {
  conversation = "";
  close();
  clearTimeout(reconnectTimer);
  clearTimeout(pollTimer);
}

/** The panel opened: where polling stands in for the socket, read at once. */
export function nudge(): void {
  if (conversation && !socket && !paused) schedulePoll(0);
}

function close(): void {
  const ws = socket;
  drop();
  try {
    ws?.close(1000);
  } catch {
    // already closing
  }
}

/** Forgets the socket; its close event, if any comes, is then ignored. */
function drop(): void {
  clearInterval(pingTimer);
  socket = undefined;
  queued = undefined;
  opened = 0;
}

function connect(): void {
  clearTimeout(reconnectTimer);
  if (!conversation || paused || socket) return;
  let ws: WebSocket;
  try {
    ws = new WebSocket(liveUrl(conversation, token));
  } catch {
    // No WebSocket in this page, or one it refuses: polling carries the conversation.
    retry();
    return;
  }
  socket = ws;
  queued = [];
  ws.onopen = () => {
    opened = Date.now();
    clearTimeout(pollTimer);
    pingTimer = setInterval(() => {
      try {
        ws.send("ping");
      } catch {
        // closing: its close event reconnects
      }
    }, PING_MS);
    // What was stored while no socket listened (before the first, or during a drop).
    void read().then((ok) => {
      if (socket !== ws) return;
      if (!ok) {
        ws.close(); // a gap the socket cannot fill: reconnect, polling meanwhile
        return;
      }
      const held = queued ?? [];
      queued = undefined;
      receive(held);
      // The socket's messages now follow lastId without a gap.
      if (held.length) lastId = held[held.length - 1]!.id;
    });
  };
  ws.onmessage = (event) => {
    let data: { type?: string; message?: Message } | undefined;
    try {
      data = JSON.parse(event.data);
    } catch {
      return; // "pong"
    }
    const message = data?.message;
    if (socket !== ws || data?.type !== "message" || !message?.id) return;
    if (queued) queued.push(message);
    else {
      receive([message]);
      lastId = message.id;
    }
  };
  ws.onclose = () => {
    if (socket !== ws) return; // closed on purpose
    if (opened && Date.now() - opened >= HEALTHY_MS) delay = MIN_DELAY_MS;
    drop();
    retry();
  };
}

/** Polls at once and tries the socket again after the back-off, with jitter (half to all of it). */
function retry(): void {
  schedulePoll(0);
  reconnectTimer = setTimeout(connect, delay * (0.5 + Math.random() / 2));
  delay = Math.min(delay * 2, MAX_DELAY_MS);
}

function schedulePoll(ms: number): void {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, ms);
}

async function poll(): Promise<void> {
  if (!conversation || paused || socket?.readyState === 1) return;
  await read();
  if (conversation && !paused && socket?.readyState !== 1) schedulePoll(state.open && !document.hidden ? POLL_MS : POLL_IDLE_MS);
}

/** Reads what follows lastId, page by page, and hands it on; false where the read failed. */
async function read(): Promise<boolean> {
  const id = conversation;
  try {
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await readMessages(id, lastId);
      if (id !== conversation) return false;
      const messages = answer?.messages ?? [];
      receive(messages);
      if (messages.length) lastId = messages[messages.length - 1]!.id;
      if (!answer?.next_cursor) break;
    }
    return true;
  } catch (error) {
    // The token no longer opens the conversation, or it is gone: stop; the next send starts anew.
    const status = (error as HttpError).status;
    if (id === conversation && (status === 401 || status === 404)) stopLive();
    return false;
  }
}

function onVisibility(): void {
  clearTimeout(hiddenTimer);
  if (document.hidden) {
    hiddenTimer = setTimeout(() => {
      paused = true;
      close();
      clearTimeout(reconnectTimer);
      clearTimeout(pollTimer);
    }, HIDDEN_MS);
  } else if (paused) {
    paused = false;
    delay = MIN_DELAY_MS;
    connect();
  }
}
