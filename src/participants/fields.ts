import { z } from "zod";
import { type CustomerField, normalizeCustomerField } from "../conversations/customer-fields";
import { codePointLength } from "../shared/encoding";
import { ID_PATTERN } from "../shared/ids";
import { isIanaTimezone } from "../shared/time";
import { isJsonObject, type JsonObject } from "./json-data";
import { TOOL_KEY_MAX_CODE_POINTS } from "./limits";

/** Field rules shared by the participant routes and the CSV import. */
export const Id = z.string().regex(ID_PATTERN, "must be an id such as part_01jc...");

export const Channel = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "must be a channel name such as web, whatsapp or api: 1 to 32 of a-z, 0-9, _ and -");

// Identifiers are kept exactly as sent (phone numbers, emails, platform ids): no trimming.
export const Identifier = z
  .string()
  .min(1, "must not be empty")
  .refine((value) => codePointLength(value) <= 255, "must be at most 255 characters")
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), "must not contain control characters");

/** A customer field, normalized as the widget's special keys are (one rule for both ways in). */
function customerField(field: CustomerField, message: string) {
  return z.string().transform((value, context) => {
    const result = normalizeCustomerField(field, value);
    if (result.ok) return result.value;
    context.addIssue({ code: "custom", message });
    return z.NEVER;
  });
}

export const Name = customerField("name", "must be a non-empty name of at most 500 characters");
export const Email = customerField("email", "must be a valid email address");
export const Phone = customerField("phone", "must be a valid phone number in international form, such as +14155550123");

export const Timezone = z.string().refine(isIanaTimezone, "must be an IANA time zone name such as Europe/Vilnius");

export const DataObject = z.custom<JsonObject>(isJsonObject, "must be a JSON object");

export const ToolKey = z
  .string()
  .min(1, "must not be empty")
  .refine((value) => codePointLength(value) <= TOOL_KEY_MAX_CODE_POINTS, `must be at most ${TOOL_KEY_MAX_CODE_POINTS} characters`);
