// The widget's state for this page view: read from storage at start, written back on
// every change, and kept in memory alone once storage refuses a write. One widget per
// run of the bundle (one per script tag), so this module's state is that widget's.
import { isClientMessageId, newClientMessageId, type Outgoing, readState, type WidgetState, writeState } from "./state";

/** The chatbot of the script tag (`data-chatbot-id`). */
export let chatbotId = "";
let expose = false;
/** False once storage refuses a write: memory is then the only truth for this page view. */
let persisted = true;

/** One object for the page view: set by openSession, then changed in place only. */
export let state: WidgetState = {};
/** Typed but not yet acknowledged, oldest first; stored with the state. */
export const outbox: Outgoing[] = [];

/** Reads the chatbot's stored state; `exposeConversation` lets announce() tell the page. */
export function openSession(id: string, exposeConversation: boolean): void {
  chatbotId = id;
  expose = exposeConversation;
  state = readState(id) ?? {};
  if (!Array.isArray(state.outbox)) return;
  let assigned = false;
  for (const item of state.outbox) {
    if (!item || typeof item.text !== "string") continue;
    if (!isClientMessageId(item.client_message_id)) {
      item.client_message_id = newClientMessageId();
      assigned = true;
    }
    outbox.push(item);
  }
  // Stored before any attempt with it, so a reload cannot send the same message under another id.
  if (assigned) save();
}

export function save(): void {
  persisted = writeState(chatbotId, { ...state, outbox });
}

/** Another tab may have started the conversation since: storage wins for the conversation fields. */
export function sync(): void {
  if (!persisted) return;
  const stored = readState(chatbotId);
  if (stored)
    Object.assign(state, {
      visitor_id: stored.visitor_id,
      conversation_id: stored.conversation_id,
      token: stored.token,
      acked: stored.acked,
    });
}

/** The server no longer knows the conversation (or its token): the next send starts a new one. */
export function forget(): void {
  Object.assign(state, { conversation_id: undefined, token: undefined, acked: {} });
  save();
}

/** Tells the page the conversation, where the script tag has `data-expose-conversation`. */
export function announce(): void {
  if (!expose || !state.conversation_id) return;
  window.dispatchEvent(
    new CustomEvent("chat-context:conversation", {
      detail: { chatbot_id: chatbotId, conversation_id: state.conversation_id, token: state.token },
    }),
  );
}
