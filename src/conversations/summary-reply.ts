import { WIDGET_KEY_PREFIX } from "../shared/key-prefixes";
import type { MetadataOutcome } from "./metadata-rules";

const VALUE_PREVIEW_CODE_POINTS = 60;

function preview(value: unknown): string {
  const text = String(value);
  const codePoints = [...text];
  const shown = JSON.stringify(
    codePoints.length > VALUE_PREVIEW_CODE_POINTS ? `${codePoints.slice(0, VALUE_PREVIEW_CODE_POINTS).join("")}…` : text,
  );
  // First-strong isolate: a right-to-left override inside a value cannot reorder the reply around it.
  return `\u2068${shown}\u2069`;
}

/**
 * The stand-in bot's answer until a chatbot has a bot of its own: what this message's
 * custom data did and what the customer record holds, so a site's developer sees at
 * once what arrived. Built from what the message already computed: no extra reads.
 */
export function summaryReply(
  data: Record<string, unknown>,
  outcome: Pick<MetadataOutcome, "accepted" | "rejected" | "warnings">,
  customer: { name: string | null; email: string | null; phone: string | null; timezone: string | null },
  pairCount: number,
): string {
  const lines: string[] = [];
  if (outcome.accepted.length) {
    lines.push(`Custom data received: ${outcome.accepted.map((key) => `${WIDGET_KEY_PREFIX}${key} = ${preview(data[key])}`).join(", ")}.`);
  } else if (!outcome.rejected.length) {
    lines.push("No custom data came with this message.");
  }
  if (outcome.rejected.length) lines.push(`Refused: ${outcome.rejected.map((r) => `${r.key} (${r.reason})`).join(", ")}.`);
  if (outcome.warnings.length) lines.push(`Warnings: ${outcome.warnings.map((w) => `${w.key} (${w.reason})`).join(", ")}.`);
  const fields = (["name", "email", "phone", "timezone"] as const)
    .filter((field) => customer[field])
    .map((field) => `${field} ${customer[field]}`);
  lines.push(fields.length ? `Customer record: ${fields.join(", ")}.` : "Customer record: no name, email or phone yet.");
  lines.push(`This conversation holds ${pairCount} metadata ${pairCount === 1 ? "key" : "keys"}.`);
  return lines.join("\n");
}
