// The embeddable widget: `<script src="https://HOST/widget.js" data-chatbot-id="..." async></script>`.
// Built by scripts/build.mjs into dist/assets/widget.js (see docs/widget.md).
import { CSS } from "./styles";
import { hashValue, readCustomData, readState, writeState, type Outgoing, type WidgetState } from "./state";

type Role = "visitor" | "bot";
type Message = { id: string; role: Role; text: string };
type Pair = { key: string; reason: string };
type MetadataAnswer = { accepted?: string[]; rejected?: Pair[]; warnings?: Pair[] };

/** Pages of 200 read when a conversation resumes: bounded, newest pages beyond are not shown. */
const MAX_HISTORY_PAGES = 25;
const MESSAGE_MAX_LENGTH = 10_000;
const TAG = "[chat-context]";

class HttpError extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(detail);
  }
}

function timezone(): string | undefined {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
  } catch {
    return undefined;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function boot(script: HTMLScriptElement): void {
  const chatbotId = script.getAttribute("data-chatbot-id") ?? "";
  if (!chatbotId) return console.warn(TAG, "the script tag needs a data-chatbot-id attribute");
  const registry = window as unknown as Record<string, unknown>;
  const flag = "__chatContext:" + chatbotId;
  if (registry[flag]) return; // the same chatbot's script included twice
  registry[flag] = true;

  const base = new URL(script.src, location.href).origin;
  const expose = script.hasAttribute("data-expose-conversation");
  let state: WidgetState = readState(chatbotId) ?? {};
  const outbox: Outgoing[] = Array.isArray(state.outbox) ? state.outbox.filter((o) => o && typeof o.text === "string") : [];
  /** key|reason|value hash already reported on the console in this page view */
  const reported = new Set<string>();
  let historyLoaded = false;
  let busy = false;
  let counter = 0;

  /** False once storage refuses a write: memory is then the only truth for this page view. */
  let persisted = true;
  const save = () => {
    persisted = writeState(chatbotId, { ...state, outbox });
  };

  /** Another tab may have started the conversation since: storage wins for the conversation fields. */
  function sync(): void {
    if (!persisted) return;
    const stored = readState(chatbotId);
    if (stored) state = { ...state, visitor_id: stored.visitor_id, conversation_id: stored.conversation_id, token: stored.token, acked: stored.acked };
  }

  function announce(): void {
    if (!expose || !state.conversation_id) return;
    window.dispatchEvent(
      new CustomEvent("chat-context:conversation", {
        detail: { chatbot_id: chatbotId, conversation_id: state.conversation_id, token: state.token },
      }),
    );
  }

  async function api(path: string, body?: unknown): Promise<any> {
    let response: Response;
    try {
      const headers: Record<string, string> = {};
      if (state.token && path !== "/v1/widget/conversations") headers.Authorization = "Bearer " + state.token;
      // text/plain: the server reads JSON whatever the type, and the start needs no preflight.
      if (body !== undefined) headers["Content-Type"] = "text/plain;charset=UTF-8";
      response = await fetch(base + path, {
        method: body === undefined ? "GET" : "POST",
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
      });
    } catch {
      throw new HttpError(0, "The network is unreachable.");
    }
    let json: any = null;
    try {
      json = await response.json();
    } catch {
      // not JSON
    }
    if (!response.ok) throw new HttpError(response.status, (json && json.detail) || "The server answered " + response.status + ".");
    return json;
  }

  /** Remembers what the server accepted and reports what it refused or warned about. */
  function acknowledge(sent: Record<string, string>, answer: MetadataAnswer | undefined): void {
    const acked = (state.acked ??= {});
    for (const key of answer?.accepted ?? []) if (key in sent) acked[key] = hashValue(sent[key]!);
    const report = (pair: Pair, what: string) => {
      const id = pair.key + "|" + pair.reason + "|" + (pair.key in sent ? hashValue(sent[pair.key]!) : "");
      if (reported.has(id)) return;
      reported.add(id);
      console.warn(TAG, 'custom data key "' + pair.key + '" ' + what + ": " + pair.reason);
    };
    for (const pair of answer?.rejected ?? []) report(pair, "was rejected");
    for (const pair of answer?.warnings ?? []) report(pair, "has a warning");
  }

  // ---- the DOM, in a shadow root -------------------------------------------------
  const host = document.createElement("chat-context-widget");
  // CSSOM, not a style attribute: allowed under a strict style-src.
  host.style.setProperty("all", "initial", "important");
  host.style.setProperty("display", "block", "important");
  const shadow = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(el("style", "", CSS));
  }

  const root = el("div", "root");
  const launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "panel");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  svg.append(path);
  launcher.append(svg);

  const panel = el("section", "panel");
  panel.id = "panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", script.getAttribute("data-title") || "Chat");
  const header = el("header");
  const title = el("h2", "", script.getAttribute("data-title") || "Chat");
  const close = el("button", "close", "\u00d7");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.append(title, close);

  const log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  const empty = el("p", "empty", "Ask us anything.");
  log.append(empty);
  const status = el("p", "status");
  status.setAttribute("role", "status");

  const form = el("form");
  const input = el("textarea");
  input.setAttribute("aria-label", "Message");
  input.rows = 1;
  input.maxLength = MESSAGE_MAX_LENGTH;
  input.placeholder = "Write a message\u2026";
  input.value = typeof state.draft === "string" ? state.draft : "";
  const send = el("button", "send", "Send");
  send.type = "submit";
  form.append(input, send);
  panel.append(header, log, status, form);
  root.append(panel, launcher);
  shadow.append(root);

  const bubbles = new Map<string, HTMLElement>();

  function show(message: { id: string; role: Role; text: string }, pending?: "sending" | "failed", detail?: string): void {
    empty.remove();
    let bubble = bubbles.get(message.id);
    if (!bubble) {
      bubble = el("div");
      bubbles.set(message.id, bubble);
      log.append(bubble);
    }
    bubble.className = "msg " + message.role + (pending ? " " + pending : "");
    bubble.textContent = message.text;
    if (pending === "sending") bubble.append(el("span", "note", "Sending\u2026"));
    if (pending === "failed") {
      bubble.append(el("span", "note", "Not sent. " + (detail ?? "")));
      const retry = el("button", "retry", "Retry");
      retry.type = "button";
      retry.addEventListener("click", () => {
        void pump();
        input.focus();
      });
      bubble.append(retry);
    }
    log.scrollTop = log.scrollHeight;
  }

  function setOpen(open: boolean, focus: boolean): void {
    panel.hidden = !open;
    root.classList.toggle("open", open);
    launcher.setAttribute("aria-expanded", String(open));
    state.open = open;
    save();
    if (open) {
      void loadHistory();
      if (focus) input.focus();
    } else if (focus) {
      launcher.focus();
    }
  }

  async function loadHistory(): Promise<void> {
    if (historyLoaded) return;
    historyLoaded = true;
    sync();
    if (state.conversation_id) {
      const messages: Message[] = [];
      try {
        let after = "";
        for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
          const answer = await api("/v1/widget/conversations/" + encodeURIComponent(state.conversation_id) + "/messages?limit=200" + (after ? "&after=" + encodeURIComponent(after) : ""));
          messages.push(...(answer?.messages ?? []));
          if (!answer?.next_cursor) break;
          after = answer.next_cursor;
        }
        announce();
      } catch (error) {
        const http = error as HttpError;
        if (http.status === 401 || http.status === 404) forgetConversation();
        else {
          status.textContent = "Earlier messages could not be loaded.";
          historyLoaded = false;
        }
      }
      for (const message of messages) show(message);
    }
    // What was typed but never acknowledged before a reload: shown, to be retried.
    for (const item of outbox) show({ id: item.id, role: "visitor", text: item.text }, "failed");
  }

  function forgetConversation(): void {
    state = { ...state, conversation_id: undefined, token: undefined, acked: {} };
    save();
  }

  /** Sends one typed message; starts the conversation first where there is none. */
  async function deliver(item: Outgoing): Promise<void> {
    sync();
    const tz = timezone();
    // Two rounds at most: the second after the server no longer knows the conversation.
    for (let round = 0; round < 2; round++) {
      const data = readCustomData();
      let fresh = false;
      if (!state.conversation_id || !state.token) {
        const started = await api("/v1/widget/conversations", { chatbot_id: chatbotId, visitor_id: state.visitor_id, data, timezone: tz });
        state = { ...state, visitor_id: started.visitor_id, conversation_id: started.conversation_id, token: started.token, acked: {} };
        acknowledge(data, started.metadata);
        save();
        announce();
        fresh = true;
      }
      // The first message of a conversation repeats every pair, so its reply sees them;
      // after that only pairs whose value differs from what the server accepted.
      const acked = state.acked ?? {};
      const delta: Record<string, string> = Object.create(null);
      for (const key in data) if (fresh || acked[key] !== hashValue(data[key]!)) delta[key] = data[key]!;
      try {
        const answer = await api("/v1/widget/conversations/" + encodeURIComponent(state.conversation_id!) + "/messages", {
          text: item.text,
          data: delta,
          timezone: tz,
        });
        acknowledge(delta, answer?.metadata);
        bubbles.set(answer.message.id, bubbles.get(item.id)!);
        bubbles.delete(item.id);
        show(answer.message);
        if (answer.reply) show(answer.reply);
        announce();
        return;
      } catch (error) {
        const status = (error as HttpError).status;
        if (round === 0 && !fresh && (status === 401 || status === 404)) {
          forgetConversation();
          continue;
        }
        throw error;
      }
    }
  }

  /** Sends the outbox in order, one at a time; stops at the first failure, which stays retryable. */
  async function pump(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      while (outbox.length) {
        const item = outbox[0]!;
        show({ id: item.id, role: "visitor", text: item.text }, "sending");
        try {
          await deliver(item);
          outbox.shift();
          save();
          status.textContent = "";
        } catch (error) {
          const detail = error instanceof HttpError ? error.message : "Something went wrong.";
          console.warn(TAG, "sending failed:", detail);
          show({ id: item.id, role: "visitor", text: item.text }, "failed", detail);
          for (const waiting of outbox.slice(1)) show({ id: waiting.id, role: "visitor", text: waiting.text }, "failed");
          break;
        }
      }
    } finally {
      busy = false;
    }
  }

  function submit(): void {
    const text = input.value;
    if (!text.trim()) return;
    const item: Outgoing = { id: "local-" + Date.now().toString(36) + "-" + counter++, text };
    outbox.push(item);
    input.value = "";
    state.draft = "";
    save();
    show({ id: item.id, role: "visitor", text }, "sending");
    void pump();
  }

  launcher.addEventListener("click", () => setOpen(panel.hidden, true));
  close.addEventListener("click", () => setOpen(false, true));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      setOpen(false, true);
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    state.draft = input.value;
    save();
  });

  const mount = () => {
    document.body.append(host);
    if (state.open || script.hasAttribute("data-open")) setOpen(true, false);
    else announce();
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
}

try {
  const script = (document.currentScript as HTMLScriptElement | null) ?? document.querySelector<HTMLScriptElement>("script[data-chatbot-id]");
  if (script) boot(script);
} catch (error) {
  // Never let the widget break the host page.
  console.warn(TAG, "the widget could not start:", error);
}
