/**
 * What a request costs the storage layers: rows of the conversation object's SQLite,
 * rows of D1, and KV operations. Threaded through storage calls and sent as the
 * `Chat-Context-Cost` header, so tests and the bench can assert it.
 */
export type Cost = {
  doRowsRead: number;
  doRowsWritten: number;
  d1RowsRead: number;
  d1RowsWritten: number;
  kvReads: number;
  kvWrites: number;
};

export const newCost = (): Cost => ({ doRowsRead: 0, doRowsWritten: 0, d1RowsRead: 0, d1RowsWritten: 0, kvReads: 0, kvWrites: 0 });

/** Adds one D1 result's metered rows. */
export function tallyD1(cost: Cost | undefined, result: { meta: { rows_read?: number; rows_written?: number } }): void {
  if (!cost) return;
  cost.d1RowsRead += result.meta.rows_read ?? 0;
  cost.d1RowsWritten += result.meta.rows_written ?? 0;
}

/** The counters a widget message reports: what the object did, and what it wrote to D1. */
export const OBJECT_COST_COUNTERS = ["doRowsRead", "doRowsWritten", "d1RowsWritten"] as const;
/** The counters a prompt render reports. */
export const RENDER_COST_COUNTERS = ["d1RowsRead", "d1RowsWritten", "kvReads", "kvWrites"] as const;

/** Each counter's name in the header, worked out once (the header is sent on every message). */
const HEADER_NAMES = Object.fromEntries(
  Object.keys(newCost()).map((name) => [name, name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)]),
) as Record<keyof Cost, string>;

/**
 * The `Chat-Context-Cost` value: one `kebab-name=count` per counter named, in that
 * order: `{ doRowsRead: 2 }` with `["doRowsRead"]` becomes `do-rows-read=2`.
 */
export function costHeader(cost: Cost, counters: readonly (keyof Cost)[]): string {
  let header = "";
  for (const name of counters) header += `${header ? ", " : ""}${HEADER_NAMES[name]}=${cost[name]}`;
  return header;
}
