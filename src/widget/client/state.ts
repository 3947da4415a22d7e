// Everything the widget and the playground panel keep in the browser. Every
// localStorage access goes through here and is wrapped: storage may be absent
// (sandboxed iframes throw on `window.localStorage`), refused (private mode) or
// full (quota). The widget then keeps working from memory for this page view.
import { WIDGET_IDENTITY_TOKEN_KEY, WIDGET_STORAGE_PREFIX } from "../../shared/key-prefixes";

/** The widget's own state: outside the custom data prefix, one key per chatbot. */
const stateKey = (chatbotId: string) => `chat-context:state:${chatbotId}`;

/**
 * A message typed by the visitor that the server has not yet acknowledged. Its
 * `client_message_id` goes with every attempt, so an attempt that reached the server
 * but whose answer was lost is not stored twice when retried, even after a reload.
 */
export type Outgoing = { id: string; text: string; client_message_id: string };

/**
 * A new client_message_id (1-64 printable ASCII): a UUID, or where randomUUID is missing
 * (a page that is not a secure context) 128 random bits in hex, or last a time and Math.random.
 */
export function newClientMessageId(): string {
  try {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b + 256).toString(16).slice(1)).join("");
  } catch {
    return Date.now().toString(36) + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  }
}

/** A stored id the server would refuse (edited, or from before the ids existed) is replaced. */
export const isClientMessageId = (id: unknown): id is string => typeof id === "string" && /^[\x20-\x7e]{1,64}$/.test(id);

export type WidgetState = {
  /** Issued and signed by the server; the one in each start's answer replaces it. */
  visitor_id?: string;
  conversation_id?: string;
  token?: string;
  /** key (prefix stripped) -> hash of the value the server last accepted in this conversation */
  acked?: Record<string, string>;
  /** typed but not yet acknowledged: survives a reload so nothing typed is lost */
  outbox?: Outgoing[];
  /** what is in the message box but not sent */
  draft?: string;
  open?: boolean;
};

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function readItem(key: string): string | null {
  try {
    return storage()?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

/** False where the write was refused (quota, private mode, no storage). */
function writeItem(key: string, value: string | null): boolean {
  try {
    const store = storage();
    if (!store) return false;
    if (value === null) store.removeItem(key);
    else store.setItem(key, value);
    return true;
  } catch {
    return false;
  }
}

export function readState(chatbotId: string): WidgetState | null {
  const raw = readItem(stateKey(chatbotId));
  if (!raw) return null;
  try {
    const state = JSON.parse(raw);
    return state && typeof state === "object" && !Array.isArray(state) ? (state as WidgetState) : null;
  } catch {
    return null;
  }
}

export function writeState(chatbotId: string, state: WidgetState): boolean {
  return writeItem(stateKey(chatbotId), JSON.stringify(state));
}

/**
 * The site's custom data: keys with exactly the prefix WIDGET_STORAGE_PREFIX
 * (case-sensitive) and a non-empty rest, read afresh on every call, the prefix stripped.
 * Nothing else is read: not the prefix alone, nor one with another case or an extra letter.
 */
export function readCustomData(): Record<string, string> {
  const data: Record<string, string> = Object.create(null);
  try {
    const store = storage();
    if (!store) return data;
    const keys: string[] = [];
    for (let i = 0; i < store.length; i++) {
      const key = store.key(i);
      if (key !== null && key.length > WIDGET_STORAGE_PREFIX.length && key.startsWith(WIDGET_STORAGE_PREFIX)) keys.push(key);
    }
    for (const key of keys) {
      const value = store.getItem(key);
      if (value !== null) data[key.slice(WIDGET_STORAGE_PREFIX.length)] = value;
    }
  } catch {
    // unreadable storage: no custom data this time
  }
  return data;
}

/** The site's identity token, read afresh at each call; undefined where none is set. */
export function readIdentityToken(): string | undefined {
  return readItem(WIDGET_IDENTITY_TOKEN_KEY) || undefined;
}

/**
 * A 53-bit hash (cyrb53) with the length: the state remembers what the server
 * accepted without storing a second copy of values of up to 50,000 characters.
 */
export function hashValue(value: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return `${(4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)}.${value.length.toString(36)}`;
}
