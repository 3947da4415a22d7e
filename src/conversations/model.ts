/** What the conversation object and its callers exchange. */
import { z } from "zod";
import type { CustomerRecord } from "../participants/storage";
import type { Cost } from "../shared/cost";
import { Cursor } from "../shared/cursor";
import { codePointLength } from "../shared/encoding";
import type { Trigger } from "../triggers/model";
import type { RejectionReason, Warning } from "./metadata-rules";

export type Message = { id: string; role: "visitor" | "bot" | "agent"; text: string; created_at: string };

/** Where a conversation stands: `open` until ended (by the API, a trigger or a person). */
export type ConversationState = { status: "open" | "ended"; outcome: string | null; ended_at: string | null };
export type MetadataAnswer = { accepted: string[]; rejected: { key: string; reason: RejectionReason }[]; warnings: Warning[] };
export type MetadataEntry = { key: string; value: string; updated_at: string };

export type ConversationInfo = {
  conversation_id: string;
  team_id: string;
  chatbot_id: string;
  channel: string;
  participant_id: string;
  started_at: string;
};

/** A visitor proven by a valid identity token: its subject and the customer claims it carries. */
export type VerifiedIdentity = { sub: string; claims: Partial<Record<"name" | "email" | "phone", string>> };

/** Who is writing, as the widget route established it. */
type Visitor = {
  /** A verified identity from this request's token, or null. */
  identity: VerifiedIdentity | null;
  /** The chatbot's `identity_verification` is `required`: special keys change the record only as the claims say. */
  identityRequired: boolean;
};

/** Widget data after the route's check: a value that is not a string arrives as null (rejected as such). */
export type WidgetData = Record<string, string | null>;

export type StartInput = Visitor & {
  /** The chatbot's triggers as the route read them (a cached list). */
  triggers: Trigger[];
  conversationId: string;
  teamId: string;
  chatbotId: string;
  /** The anonymous participant's identifier (the unsigned visitor id), used where no identity is verified. */
  visitorIdentifier: string;
  data: WidgetData;
  timezone: string | null;
  warnings: Warning[];
};
export type StartResult = { info: ConversationInfo; metadata: MetadataAnswer; cost: Cost };

export type MessageInput = Visitor & {
  triggers: Trigger[];
  /** The chatbot's `stand_in_replies`: answer each visitor message with the summary bot's reply. */
  standInReply: boolean;
  text: string;
  data: WidgetData;
  timezone: string | null;
  warnings: Warning[];
  clientMessageId: string | null;
};
/** `json` is the answer's body, serialized once in the object; `replayed` where it is an earlier answer. */
export type MessageResult = { json: string; cost: Cost; replayed: boolean };

export type Snapshot = {
  info: ConversationInfo;
  metadata: Record<string, string>;
  message_count: number;
  last_message_at: string | null;
  /** The customer fields this conversation itself wrote: all a visitor may be shown. */
  customer_written: CustomerRecord;
  verified: boolean;
  state: ConversationState;
};

/** Who watches a live socket: the visitor (messages only) or the team (messages and metadata). */
export type LiveAudience = "visitor" | "staff";

/** What a live socket receives. */
export type LiveEvent =
  | { type: "message"; message: Message }
  | { type: "metadata"; metadata: Record<string, string | null> }
  | { type: "state"; state: ConversationState };

/** A message from the team's side: its bot, or a person answering. */
export type StaffMessageInput = { role: "bot" | "agent"; text: string; clientMessageId: string | null };
export type StaffMessageResult = { message: Message; replayed: boolean };
export type StatePatch = { status?: "open" | "ended"; outcome?: string | null };

export type PutMetadataResult =
  | { ok: true; created: boolean; entry: MetadataEntry; warnings: Warning[] }
  | { ok: false; reason: RejectionReason };

export type MessagePage = { messages: Message[]; next_cursor: string | null };

/** Longest message, in code points (a design decision: docs/conversations.md). */
export const MESSAGE_TEXT_MAX_CODE_POINTS = 10_000;

/** A message's text, from a visitor, a bot or an agent. */
export const MessageText = z
  .string()
  .refine((text) => text.trim().length > 0, "must not be empty")
  .refine((text) => codePointLength(text) <= MESSAGE_TEXT_MAX_CODE_POINTS, `must be at most ${MESSAGE_TEXT_MAX_CODE_POINTS} characters`)
  .refine((text) => text.isWellFormed(), "must be well-formed Unicode");

/** A sender's id for one message, so a retry is stored once. */
export const ClientMessageId = z.string().regex(/^[\x20-\x7e]{1,64}$/, "must be 1 to 64 printable ASCII characters");

/** The page of messages both the API and the widget read: oldest first, `limit` after `after`. */
export const MessagesPageQuery = z.object({
  after: Cursor.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
export type MessagesPage = z.output<typeof MessagesPageQuery>;
