import { z } from "zod";

export const TRIGGER_EVENTS = ["conversation_started", "message_received", "conversation_inactive", "conversation_ended"] as const;
export type TriggerEvent = (typeof TRIGGER_EVENTS)[number];

/** What a trigger does; `patch` is an RFC 7396 merge patch of the participant's data. */
export type TriggerAction =
  | { type: "send_message"; text: string }
  | { type: "update_participant_data"; patch: Record<string, unknown> }
  | { type: "end_conversation" }
  | { type: "run_action"; action_id: string };

export type Trigger = {
  id: string;
  on: TriggerEvent;
  delay_seconds: number | null;
  max_fires: number;
  action: TriggerAction;
  created_at: string;
};

/** One firing, as `GET /v1/conversations/:id/events` lists it. */
export type TriggerFiring = {
  id: string;
  trigger_id: string;
  on: TriggerEvent;
  action_type: TriggerAction["type"];
  status: "ok" | "failed";
  detail: string;
  fired_at: string;
  /** When it was due (inactivity triggers): `fired_at - due_at` is its lateness. */
  due_at: string | null;
};

export const INACTIVITY_DELAY = { min: 10, max: 604_800 } as const;

export const TriggerActionSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("send_message"), text: z.string().trim().min(1).max(10_000) }),
  z.strictObject({
    type: z.literal("update_participant_data"),
    patch: z.custom<Record<string, unknown>>(
      (value) => typeof value === "object" && value !== null && !Array.isArray(value),
      "must be a JSON object (an RFC 7396 merge patch)",
    ),
  }),
  z.strictObject({ type: z.literal("end_conversation") }),
  z.strictObject({ type: z.literal("run_action"), action_id: z.string().min(1).max(64) }),
]);
