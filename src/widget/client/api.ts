// The widget's API client: JSON over fetch to the service that served widget.js. Every
// failure is an HttpError; status 0 means the network was unreachable.

type Role = "visitor" | "bot" | "agent";
export type Message = { id: string; role: Role; text: string };
/** A custom data key (prefix stripped) the server rejected or warned about, and why. */
export type Pair = { key: string; reason: string };
/** What the server did with the custom data pairs sent with a start or a message. */
export type MetadataAnswer = { accepted?: string[]; rejected?: Pair[]; warnings?: Pair[] };

type Started = { visitor_id: string; conversation_id: string; token: string; metadata?: MetadataAnswer };
type Sent = { message: Message; reply?: Message; metadata?: MetadataAnswer; replayed: boolean };
type HistoryPage = { messages?: Message[]; next_cursor?: string };

const CONVERSATIONS = "/v1/widget/conversations";

export class HttpError extends Error {
  // Declared and assigned, not a parameter property: at ES2020 that would bundle a
  // defineProperty helper into widget.js for this one field.
  declare readonly status: number;
  /** The problem's type (`/problems/<slug>`), where the server answered one. */
  declare readonly type?: string;
  constructor(status: number, detail: string, type?: string) {
    super(detail);
    this.status = status;
    this.type = type;
  }
}

let base = "";
let conversationToken: () => string | undefined = () => undefined;

/** `origin`: the service's; `token` reads the conversation token at each request. */
export function configureApi(origin: string, token: () => string | undefined): void {
  base = origin;
  conversationToken = token;
}

/**
 * A GET without a body, else a POST of the body as JSON; answers the response's JSON (null
 * if none), with `replayed` set where the server answered 200 to a POST: a repeat it had
 * already stored, whose first answer this is.
 */
// biome-ignore lint/suspicious/noExplicitAny: each caller names the fields it reads of the server's JSON
async function request(path: string, body?: unknown): Promise<any> {
  let response: Response;
  try {
    const headers: Record<string, string> = {};
    const token = conversationToken();
    if (token && path !== CONVERSATIONS) headers.Authorization = `Bearer ${token}`;
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
  // biome-ignore lint/suspicious/noExplicitAny: read as JSON, checked by the callers
  let json: any = null;
  try {
    json = await response.json();
  } catch {
    // not JSON
  }
  if (!response.ok) throw new HttpError(response.status, json?.detail || `The server answered ${response.status}.`, json?.type);
  // The status, not the Idempotent-Replayed header: CORS does not expose that header to the page.
  if (typeof json === "object" && json && body !== undefined) json.replayed = response.status === 200;
  return json;
}

const conversationPath = (conversationId: string) => `${CONVERSATIONS}/${encodeURIComponent(conversationId)}`;
const messagesPath = (conversationId: string) => `${conversationPath(conversationId)}/messages`;

/** The conversation's live socket: a browser cannot set headers on it, so the token is a parameter. */
export const liveUrl = (conversationId: string, token: string): string =>
  `${base.replace(/^http/, "ws")}${conversationPath(conversationId)}/live?token=${encodeURIComponent(token)}`;

/** Starts a conversation: the one request without the conversation token. */
export const startConversation = (body: {
  chatbot_id: string;
  visitor_id?: string;
  data: Record<string, string>;
  timezone?: string;
  identity_token?: string;
}): Promise<Started> => request(CONVERSATIONS, body);

/** One page of 200 of the conversation's messages, oldest first, after the cursor `after`. */
export const readMessages = (conversationId: string, after: string): Promise<HistoryPage> =>
  request(`${messagesPath(conversationId)}?limit=200${after ? `&after=${encodeURIComponent(after)}` : ""}`);

export const sendMessage = (
  conversationId: string,
  body: { text: string; data: Record<string, string>; timezone?: string; identity_token?: string; client_message_id: string },
): Promise<Sent> => request(messagesPath(conversationId), body);
