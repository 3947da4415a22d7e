import { codePointLength } from "../shared/encoding";
import { WIDGET_KEY_PREFIX } from "../shared/key-prefixes";
import { type CustomerField, type CustomerWarning, normalizeCustomerField } from "./customer-fields";

/** The design's limits, in Unicode code points. */
export const METADATA_LIMITS = { keyMaxCodePoints: 200, valueMaxCodePoints: 50_000, maxPairs: 200 } as const;

export type RejectionReason =
  | "key_empty"
  | "key_too_long"
  | "key_invalid_unicode"
  | "value_not_string"
  | "value_too_long"
  | "value_invalid_unicode"
  | "pair_limit_reached";

type Rejection = { key: string; reason: RejectionReason };
export type Warning = {
  key: string;
  reason:
    | CustomerWarning
    | "invalid_timezone"
    | "invalid_visitor_id"
    | "invalid_identity_token"
    | "unverified_customer_field"
    | "customer_update_pending";
};

/** What the rules need of a conversation's stored metadata; every call is synchronous. */
export interface MetadataStore {
  compare(key: string, value: string): "absent" | "same" | "different";
  pairCount(): number;
  upsert(key: string, value: string): void;
}

export type MetadataOutcome = {
  accepted: string[];
  rejected: Rejection[];
  warnings: Warning[];
  /** Valid special keys, normalized for the customer record. */
  customer: Partial<Record<CustomerField, string>>;
  /** The key as sent that carried each customer field (for warnings about it). */
  customerKeys: Partial<Record<CustomerField, string>>;
  changed: number;
};

/**
 * Why a pair cannot be stored, before looking at the conversation (rules 2 and 3).
 * `storedKey` is the key as stored, prefix included.
 */
export function pairRejection(storedKey: string, prefixLength: number, value: unknown): RejectionReason | null {
  if (storedKey.length === prefixLength) return "key_empty";
  if (!storedKey.isWellFormed()) return "key_invalid_unicode";
  if (codePointLength(storedKey) > METADATA_LIMITS.keyMaxCodePoints) return "key_too_long";
  if (typeof value !== "string") return "value_not_string";
  if (!value.isWellFormed()) return "value_invalid_unicode";
  if (value.length > METADATA_LIMITS.valueMaxCodePoints && codePointLength(value) > METADATA_LIMITS.valueMaxCodePoints) {
    return "value_too_long";
  }
  return null;
}

const SPECIAL_KEYS = new Map<string, CustomerField>([
  [`${WIDGET_KEY_PREFIX}email`, "email"],
  [`${WIDGET_KEY_PREFIX}name`, "name"],
  [`${WIDGET_KEY_PREFIX}phone`, "phone"],
]);

/**
 * Applies rules 1 to 6 to a batch of pairs, in order. `entries` are [key as sent,
 * value]; `prefix` is prepended to make the stored key (`chat-widget:` for the
 * widget, empty for the API, which names keys in full). Must run inside one
 * synchronous storage transaction so that rule 7 holds under concurrency.
 */
export function applyMetadata(store: MetadataStore, entries: Iterable<[string, unknown]>, prefix: string): MetadataOutcome {
  const outcome: MetadataOutcome = { accepted: [], rejected: [], warnings: [], customer: {}, customerKeys: {}, changed: 0 };
  for (const [sentKey, value] of entries) {
    const storedKey = prefix + sentKey;
    const reason = pairRejection(storedKey, prefix.length, value);
    if (reason) {
      outcome.rejected.push({ key: sentKey, reason });
      continue;
    }
    const text = value as string;
    const existing = store.compare(storedKey, text);
    if (existing === "absent" && store.pairCount() >= METADATA_LIMITS.maxPairs) {
      outcome.rejected.push({ key: sentKey, reason: "pair_limit_reached" });
      continue;
    }
    if (existing !== "same") {
      store.upsert(storedKey, text);
      outcome.changed++;
    }
    outcome.accepted.push(sentKey);

    const field = SPECIAL_KEYS.get(storedKey);
    if (field) {
      const normalized = normalizeCustomerField(field, text);
      if (normalized.ok) {
        outcome.customer[field] = normalized.value;
        outcome.customerKeys[field] = sentKey;
      } else outcome.warnings.push({ key: sentKey, reason: normalized.warning });
    }
  }
  return outcome;
}
