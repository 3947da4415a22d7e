// The conversation's messages: what the server already has (read back when a conversation
// resumes, then pushed or polled by live.ts) and the outbox, what the visitor typed that the server has not acknowledged,
// sent in order, one at a time, each with its client_message_id (so a retry is stored
// once) and the site's identity token where there is one. With each message go the custom
// data pairs whose value the server has not accepted yet; what it refused or warned about
// is reported on the console, once per key, reason and value in a page view.
import { HttpError, type Message, type MetadataAnswer, type Pair, readMessages, sendMessage, startConversation } from "./api";
import { follow } from "./live";
import { warn } from "./log";
import { announce, chatbotId, forget, outbox, save, state, sync } from "./session";
import { hashValue, newClientMessageId, type Outgoing, readCustomData, readIdentityToken } from "./state";
import { known, note, rekey, setStatus, show } from "./view";

/** Pages of 200 read when a conversation resumes: bounded, newest pages beyond are not shown. */
const MAX_HISTORY_PAGES = 25;
const ENDED = "/problems/conversation-ended";

/** key|reason|value hash already reported on the console in this page view */
const reported = new Set<string>();
let historyLoaded = false;
let busy = false;
/** Pushed or read while a message is being sent: shown once its answer is, see receive(). */
const held: Message[] = [];
let counter = 0;

function timezone(): string | undefined {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
  } catch {
    return undefined;
  }
}

function showOutgoing(item: Outgoing, pending: "sending" | "failed", detail?: string): void {
  show({ id: item.id, role: "visitor", text: item.text }, pending, detail);
}

/** Remembers what the server accepted and reports what it refused or warned about. */
function acknowledge(sent: Record<string, string>, answer: MetadataAnswer | undefined): void {
  state.acked ??= {};
  const acked = state.acked;
  for (const key of answer?.accepted ?? []) if (key in sent) acked[key] = hashValue(sent[key]!);
  const report = (pair: Pair, what: string) => {
    // A stored visitor id the server refused (one from an older widget) is routine: the
    // answer's new id has replaced it, and the site has nothing to fix.
    if (pair.reason === "invalid_visitor_id") return;
    const id = `${pair.key}|${pair.reason}|${pair.key in sent ? hashValue(sent[pair.key]!) : ""}`;
    if (reported.has(id)) return;
    reported.add(id);
    // The token itself is a credential: never on the console.
    const subject = pair.reason === "invalid_identity_token" ? "the identity token" : `custom data key "${pair.key}"`;
    warn(`${subject} ${what}: ${pair.reason}`);
  };
  for (const pair of answer?.rejected ?? []) report(pair, "was rejected");
  for (const pair of answer?.warnings ?? []) report(pair, "has a warning");
}

/**
 * Messages read or pushed by the server (live.ts), in the server's order: each id shown once.
 * While a message is being sent they wait for its answer, which shows it and its reply first:
 * the socket usually brings them sooner, and the visitor would see the message twice. The
 * list keeps the server's order: a message not shown yet goes before the next one of its
 * batch that is (an agent's message stored just before the visitor's, held meanwhile).
 */
function receive(messages: Message[]): void {
  if (busy) held.push(...messages);
  else showInOrder(messages);
}

function showInOrder(messages: Message[]): void {
  const placed: [Message, string | undefined][] = [];
  let next: string | undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (known(message.id)) next = message.id;
    else placed.push([message, next]);
  }
  for (let i = placed.length - 1; i >= 0; i--) show(placed[i]![0], undefined, undefined, placed[i]![1]);
}

/** Live updates of the conversation in the state, whose messages up to `after` are shown. */
function followConversation(after: string): void {
  if (state.conversation_id && state.token) follow(state.conversation_id, state.token, after, receive);
}

/** Shows the conversation so far (once per page view, again after a failure), then the outbox. */
export async function loadHistory(): Promise<void> {
  if (historyLoaded) return;
  historyLoaded = true;
  sync();
  if (state.conversation_id) {
    const messages: Message[] = [];
    try {
      let after = "";
      for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
        const answer = await readMessages(state.conversation_id, after);
        messages.push(...(answer?.messages ?? []));
        if (!answer?.next_cursor) break;
        after = answer.next_cursor;
      }
      announce();
    } catch (error) {
      const http = error as HttpError;
      if (http.status === 401 || http.status === 404) forget();
      else {
        setStatus("Earlier messages could not be loaded.");
        historyLoaded = false;
      }
    }
    for (const message of messages) show(message);
    if (historyLoaded) followConversation(messages[messages.length - 1]?.id ?? "");
  }
  // What was typed but never acknowledged before a reload: shown, to be retried.
  for (const item of outbox) showOutgoing(item, "failed");
}

/**
 * Sends one typed message; starts the conversation first where there is none. Where the
 * conversation has ended, or the server no longer knows it, a new one is started and the
 * message sent there with the same client_message_id: nothing typed is lost.
 */
async function deliver(item: Outgoing): Promise<void> {
  sync();
  const tz = timezone();
  let replaced = false;
  // Two rounds at most: the second in a new conversation.
  for (let round = 0; round < 2; round++) {
    const data = readCustomData();
    let fresh = false;
    if (!state.conversation_id || !state.token) {
      const started = await startConversation({
        chatbot_id: chatbotId,
        visitor_id: state.visitor_id,
        data,
        timezone: tz,
        identity_token: readIdentityToken(),
      });
      Object.assign(state, { visitor_id: started.visitor_id, conversation_id: started.conversation_id, token: started.token, acked: {} });
      acknowledge(data, started.metadata);
      save();
      announce();
      fresh = true;
      if (replaced) note("A new conversation started");
      followConversation("");
    }
    // The first message of a conversation repeats every pair, so its reply sees them;
    // after that only pairs whose value differs from what the server accepted.
    const acked = state.acked ?? {};
    const delta: Record<string, string> = Object.create(null);
    for (const key in data) if (fresh || acked[key] !== hashValue(data[key]!)) delta[key] = data[key]!;
    try {
      const answer = await sendMessage(state.conversation_id!, {
        text: item.text,
        data: delta,
        timezone: tz,
        identity_token: readIdentityToken(),
        client_message_id: item.client_message_id,
      });
      // A replay is the first attempt's answer: its `accepted` is about the values sent then,
      // which may since have changed, so it acknowledges nothing and they are sent again.
      acknowledge(answer.replayed ? {} : delta, answer.metadata);
      rekey(item.id, answer.message.id);
      show(answer.message);
      // A chatbot without stand-in replies answers through its bot, live.
      if (answer.reply) show(answer.reply);
      announce();
      // Another tab may have replaced the conversation: follow the one just written to.
      followConversation("");
      return;
    } catch (error) {
      const { status, type } = error as HttpError;
      if (round === 0 && (type === ENDED || (!fresh && (status === 401 || status === 404)))) {
        forget();
        replaced = true;
        // The old conversation's late messages would show under the new one.
        held.length = 0;
        continue;
      }
      throw error;
    }
  }
}

/** Sends the outbox in order, one at a time; stops at the first failure, which stays retryable. */
export async function pump(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    while (outbox.length) {
      const item = outbox[0]!;
      showOutgoing(item, "sending");
      try {
        await deliver(item);
        outbox.shift();
        save();
        setStatus("");
      } catch (error) {
        const detail = error instanceof HttpError ? error.message : "Something went wrong.";
        warn("sending failed:", detail);
        showOutgoing(item, "failed", detail);
        for (const waiting of outbox.slice(1)) showOutgoing(waiting, "failed");
        break;
      } finally {
        // What arrived meanwhile, after the answer (or the failure) it waited for.
        showInOrder(held.splice(0));
      }
    }
  } finally {
    busy = false;
  }
}

/** Queues what the visitor typed (the draft is then empty) and sends it. */
export function submit(text: string): void {
  const item: Outgoing = { id: `local-${Date.now().toString(36)}-${counter++}`, text, client_message_id: newClientMessageId() };
  outbox.push(item);
  state.draft = "";
  save();
  showOutgoing(item, "sending");
  void pump();
}
