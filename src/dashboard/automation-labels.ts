/**
 * How the dashboard names triggers, their actions and their firings: one wording for the
 * chatbot page (the triggers) and the conversation page (what fired).
 */
import type { Trigger, TriggerAction, TriggerEvent } from "../triggers/model";

export const TRIGGER_EVENT_LABELS: Record<TriggerEvent, string> = {
  conversation_started: "Conversation started",
  message_received: "Visitor message received",
  conversation_inactive: "Conversation inactive",
  conversation_ended: "Conversation ended",
};

export const ACTION_LABELS: Record<TriggerAction["type"], string> = {
  send_message: "Send a message",
  update_participant_data: "Update participant data",
  end_conversation: "End the conversation",
  run_action: "Run a custom action",
};

/** Longest part of a person's value shown in a summary (the whole is in the API). */
const SUMMARY_UNITS = 200;

/** The first `units` UTF-16 units of `text`, never half of a surrogate pair, with "…" where cut. */
export function shorten(text: string, units = SUMMARY_UNITS): string {
  if (text.length <= units) return text;
  const code = text.charCodeAt(units - 1);
  return `${text.slice(0, code >= 0xd800 && code <= 0xdbff ? units - 1 : units)}…`;
}

/** What an action does, beyond its type: the message, the patch, the action id (shortened). */
export function actionDetail(action: TriggerAction): string | null {
  switch (action.type) {
    case "send_message":
      return shorten(action.text);
    case "update_participant_data":
      return shorten(JSON.stringify(action.patch));
    case "run_action":
      return shorten(action.action_id);
    case "end_conversation":
      return null;
  }
}

/** "10 minutes", "1 hour 30 minutes", "45 seconds": a delay as a person reads it. */
export function formatDelay(seconds: number): string {
  const parts: string[] = [];
  const units: [number, string][] = [
    [86_400, "day"],
    [3_600, "hour"],
    [60, "minute"],
    [1, "second"],
  ];
  let left = seconds;
  for (const [size, name] of units) {
    const count = Math.floor(left / size);
    left -= count * size;
    if (count > 0) parts.push(`${count} ${name}${count === 1 ? "" : "s"}`);
  }
  return parts.length === 0 ? "0 seconds" : parts.join(" ");
}

/** A trigger in a few words, for the accessible names of its buttons. */
export function triggerName(trigger: Trigger): string {
  return `${TRIGGER_EVENT_LABELS[trigger.on]}: ${ACTION_LABELS[trigger.action.type].toLowerCase()}`;
}
