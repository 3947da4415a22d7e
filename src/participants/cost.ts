/**
 * What a request costs the storage layers, threaded through storage functions and
 * sent by `setCostHeader` (src/shared/cost-header.ts) so tests and the bench can assert it.
 */
export type StorageCost = { d1RowsRead: number; d1RowsWritten: number; kvReads: number; kvWrites: number };

export const newCost = (): StorageCost => ({ d1RowsRead: 0, d1RowsWritten: 0, kvReads: 0, kvWrites: 0 });

/** Adds one D1 result's metered rows. */
export function tallyD1(cost: StorageCost | undefined, result: { meta: { rows_read?: number; rows_written?: number } }): void {
  if (!cost) return;
  cost.d1RowsRead += result.meta.rows_read ?? 0;
  cost.d1RowsWritten += result.meta.rows_written ?? 0;
}
