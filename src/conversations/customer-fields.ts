import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { z } from "zod";
import { codePointLength } from "../shared/encoding";

export type CustomerField = "name" | "email" | "phone";
export type CustomerWarning = "invalid_email" | "invalid_phone" | "invalid_name";

const Email = z.email();
const NAME_MAX_CODE_POINTS = 500;

/**
 * The customer record's form of a special key's value: emails trimmed and checked,
 * phones in E.164 (international form with a leading +, since a visitor's country is
 * not known), names trimmed and non-empty. An invalid value stays metadata only.
 */
export function normalizeCustomerField(field: CustomerField, raw: string): Normalized {
  // The widget re-sends the same email, name and phone with every message; parsing
  // them (a regex, a phone metadata lookup) once per distinct value is enough.
  const memoKey = `${field}:${raw}`;
  let result = memo.get(memoKey);
  if (!result) {
    result = normalize(field, raw);
    if (memo.size >= MEMO_MAX) memo.clear();
    if (raw.length <= 1_000) memo.set(memoKey, result);
  }
  return result;
}

type Normalized = { ok: true; value: string } | { ok: false; warning: CustomerWarning };
const MEMO_MAX = 5_000;
const memo = new Map<string, Normalized>();

function normalize(field: CustomerField, raw: string): Normalized {
  const value = raw.trim();
  switch (field) {
    case "email":
      return value.length <= 254 && Email.safeParse(value).success ? { ok: true, value } : { ok: false, warning: "invalid_email" };
    case "phone": {
      const phone = value.length <= 64 ? parsePhoneNumberFromString(value) : undefined;
      return phone?.isValid() ? { ok: true, value: phone.number } : { ok: false, warning: "invalid_phone" };
    }
    case "name":
      return value.length > 0 && codePointLength(value) <= NAME_MAX_CODE_POINTS
        ? { ok: true, value }
        : { ok: false, warning: "invalid_name" };
  }
}
