/** What the conversation object and its callers exchange. */
import { z } from "zod";
import type { Cost } from "../shared/cost";
import type { RejectionReason, Warning } from "./metadata-rules";

export type Message = { id: string; role: "visitor" | "bot"; text: string; created_at: string };
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

export type StartInput = {
  conversationId: string;
  teamId: string;
  chatbotId: string;
  visitorId: string;
  data: Record<string, unknown>;
  timezone: string | null;
  warnings: Warning[];
};
export type StartResult = { info: ConversationInfo; metadata: MetadataAnswer; cost: Cost };

export type MessageInput = { text: string; data: Record<string, unknown>; timezone: string | null; warnings: Warning[] };
/** `json` is the answer's body, serialized once in the object. */
export type MessageResult = { json: string; cost: Cost };

export type Snapshot = { info: ConversationInfo; metadata: Record<string, string>; message_count: number; last_message_at: string | null };

export type PutMetadataResult =
  | { ok: true; created: boolean; entry: MetadataEntry; warnings: Warning[] }
  | { ok: false; reason: RejectionReason };

export type MessagePage = { messages: Message[]; next_cursor: string | null };

/** The page of messages both the API and the widget read: oldest first, `limit` after `after`. */
export const MessagesPageQuery = z.object({
  after: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
export type MessagesPage = z.output<typeof MessagesPageQuery>;
