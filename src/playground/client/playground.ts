// The playground's panel (/playground/:chatbot_id): shows what the widget's conversation
// stored, polling a token-authenticated route, and copies the DevTools snippets.
// Everything from the server or from storage is written with textContent, into an element
// with dir="auto": a value's own bidi controls (U+202E) cannot reorder the text around it.
import { WIDGET_KEY_PREFIX, WIDGET_STORAGE_PREFIX } from "../../shared/key-prefixes";
import { readCustomData, readState, writeState } from "../../widget/client/state";

const POLL_MS = 2000;

type Snapshot = {
  conversation_id: string;
  metadata: Record<string, string>;
  customer: Record<string, string | null>;
  message_count: number;
};

const main = document.getElementById("playground");
const chatbotId = main?.dataset.chatbotId ?? "";
let conversation: { id: string; token: string } | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;

const byId = (id: string) => document.getElementById(id)!;

function fillTable(id: string, pairs: [string, string][], emptyText: string): void {
  const body = byId(id).querySelector("tbody")!;
  const rows = pairs.map(([key, value]) => {
    const row = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.dir = "auto";
    th.textContent = key;
    const td = document.createElement("td");
    td.dir = "auto";
    td.textContent = value;
    row.append(th, td);
    return row;
  });
  if (!rows.length) {
    const row = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 2;
    td.className = "none";
    td.textContent = emptyText;
    row.append(td);
    rows.push(row);
  }
  body.replaceChildren(...rows);
}

function showLocal(): void {
  fillTable(
    "local",
    Object.entries(readCustomData())
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [WIDGET_STORAGE_PREFIX + k, v]),
    `No ${WIDGET_STORAGE_PREFIX} keys set.`,
  );
}

function pickConversation(): void {
  const state = readState(chatbotId);
  if (state?.conversation_id && state.token) conversation = { id: state.conversation_id, token: state.token };
}

async function refresh(): Promise<void> {
  showLocal();
  if (!conversation) pickConversation();
  if (!conversation) return;
  byId("conversation-id").textContent = conversation.id;
  try {
    const response = await fetch(`/playground/api/conversations/${encodeURIComponent(conversation.id)}`, {
      headers: { Authorization: `Bearer ${conversation.token}` },
      cache: "no-store",
    });
    if (!response.ok) {
      byId("conversation-status").textContent = `The conversation could not be read (${response.status}).`;
      if (response.status === 401) conversation = null;
      return;
    }
    const snapshot = (await response.json()) as Snapshot;
    const pairs = Object.entries(snapshot.metadata).sort(([a], [b]) => (a < b ? -1 : 1));
    fillTable("metadata", pairs, `No ${WIDGET_KEY_PREFIX} metadata yet.`);
    for (const cell of byId("customer").querySelectorAll<HTMLElement>("td[data-field]")) {
      const value = snapshot.customer[cell.dataset.field!];
      cell.textContent = value ?? "not set";
      cell.classList.toggle("none", value == null);
    }
    byId("conversation-status").textContent =
      snapshot.message_count +
      (snapshot.message_count === 1 ? " message" : " messages") +
      ", " +
      pairs.length +
      " " +
      WIDGET_KEY_PREFIX +
      " keys. Updated " +
      new Date().toLocaleTimeString() +
      ".";
  } catch {
    byId("conversation-status").textContent = "The service could not be reached; retrying.";
  }
}

function schedule(delay: number): void {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (document.visibilityState !== "hidden") await refresh();
    schedule(POLL_MS);
  }, delay);
}

async function copy(button: HTMLButtonElement): Promise<void> {
  const code = button.parentElement?.querySelector("code");
  if (!code) return;
  const text = code.textContent ?? "";
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    // No clipboard permission: select the text so Ctrl+C / Cmd+C copies it.
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
  }
  button.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
  setTimeout(() => (button.textContent = "Copy"), 2000);
}

if (main && chatbotId) {
  for (const button of document.querySelectorAll<HTMLButtonElement>("button.copy"))
    button.addEventListener("click", () => void copy(button));
  // The widget announces its conversation (data-expose-conversation): refresh at once.
  window.addEventListener("chat-context:conversation", (event) => {
    const detail = (event as CustomEvent<{ chatbot_id?: string; conversation_id?: string; token?: string }>).detail;
    if (detail?.chatbot_id === chatbotId && detail.conversation_id && detail.token) {
      conversation = { id: detail.conversation_id, token: detail.token };
      schedule(0);
    }
  });
  // Storage changed in another tab (or DevTools in another window): show it.
  window.addEventListener("storage", () => schedule(0));
  byId("new-conversation").addEventListener("click", () => {
    const state = readState(chatbotId) ?? {};
    // Keeps the visitor id: a new conversation of the same participant.
    writeState(chatbotId, { visitor_id: state.visitor_id, open: true });
    location.reload();
  });
  schedule(0);
}
