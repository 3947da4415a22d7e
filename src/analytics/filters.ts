/** The filters of `POST /v1/analytics/conversations` and of the conversation list's `filter` parameter. */
import { z } from "zod";
import type { Condition, Field } from "./storage";

/** At most this many filters a request; at most this many values in an `in` list, edges in `buckets`. */
export const ANALYTICS_LIMITS = { filters: 10, inValues: 100, buckets: 50 };

// Metadata keys and values are bounded like the metadata rules bound them (in UTF-16 units here).
export const Key = z.string().min(1).max(512);
const Text = z.string().max(8192);
export const finite = z.number().refine(Number.isFinite, "must be a finite number");

const OnKey = { key: Key };
const FilterSchema = z.discriminatedUnion("op", [
  z.strictObject({ ...OnKey, op: z.enum(["eq", "neq", "contains"]), value: Text }),
  z.strictObject({ ...OnKey, op: z.literal("in"), value: z.array(Text).min(1).max(ANALYTICS_LIMITS.inValues) }),
  z.strictObject({ ...OnKey, op: z.enum(["exists", "missing"]) }),
  z.strictObject({
    key: Key.refine((key) => key !== "outcome" && key !== "status", "numeric operators apply to metadata keys, not outcome or status"),
    op: z.enum(["gt", "gte", "lt", "lte"]),
    value: finite,
  }),
]);

/** The filters of the analytics body and of the list's `filter` parameter: every one must hold. */
export const Filters = z.array(FilterSchema).max(ANALYTICS_LIMITS.filters);

/** `key` names the outcome, the status, or else a metadata key. */
function fieldOf(key: string): Field {
  return key === "outcome" || key === "status" ? key : { key };
}

export function conditionsOf(filters: z.output<typeof Filters>): Condition[] {
  return filters.map((filter) => ({ ...filter, field: fieldOf(filter.key) }) as Condition);
}
