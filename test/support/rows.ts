// Plain-object rows from synfin's output, with the same rendering the CLI's NDJSON uses.

import type { Table } from "apache-arrow";
import { ndjsonLines } from "../../src/output/format.js";
import { RECORD_BUCKETS, type Stats } from "../../src/public.js";

export type Row = Record<string, string | number | boolean | null>;

export function rowsOf(table: Table): Row[] {
  const rows: Row[] = [];
  for (const batch of table.batches) for (const line of ndjsonLines(batch)) rows.push(JSON.parse(line) as Row);
  return rows;
}

/** The per-reason buckets add up to the records read. */
export function bucketSum(stats: Stats): number {
  return RECORD_BUCKETS.reduce((sum, key) => sum + stats[key], 0);
}
