/**
 * The events a webhook can subscribe to (the design's list, names exact) and the shape in
 * which any part of the service hands one to `publishEvents`.
 */
import { newId } from "../shared/ids";

export const EVENT_TYPES = [
  "conversation.started",
  "message.created",
  "conversation.metadata.updated",
  "conversation.ended",
  "conversation.inactive",
  "participant.created",
  "participant.data.updated",
  "schedule.fired",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export type DomainEvent = {
  /** `evt_…`, made once where the event happens: the same event published again keeps its deliveries' ids. */
  id: string;
  type: EventType;
  teamId: string;
  /** The chatbot the event is about; null for none (then only webhooks of all chatbots get it). */
  chatbotId: string | null;
  /** ISO 8601: when it happened. */
  timestamp: string;
  /** The delivery body's `data`. */
  data: Record<string, unknown>;
};

export const newEventId = (now = Date.now()) => newId("evt", now);

/**
 * `participant.created` or `participant.data.updated`: `data.participant` is the participant
 * as `GET /v1/participants/:id` answers it, after the write.
 */
export function participantEvent(
  type: "participant.created" | "participant.data.updated",
  teamId: string,
  participant: { id: string; chatbot_id: string; updated_at: string; [field: string]: unknown },
): DomainEvent {
  const at = Date.parse(participant.updated_at);
  return {
    id: newEventId(Number.isFinite(at) ? at : Date.now()),
    type,
    teamId,
    chatbotId: participant.chatbot_id,
    timestamp: participant.updated_at,
    data: { participant },
  };
}
