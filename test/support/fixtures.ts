// Test fixtures: captures built in memory with synfin's own writer (src/synth), connection rows
// as plain objects, and the accounting invariant every run must keep.

import { expect } from "vitest";
import type { Table } from "apache-arrow";
import { analyze, COLUMNS, RECORD_BUCKETS, type AnalyzeOptions, type Stats } from "../../src/node.js";
import { writePcap, writePcapng, type CapturedPacket, type PcapOptions, type PcapngInterface, type PcapngSection } from "../../src/synth/capture.js";
import { LINKTYPE } from "../../src/synth/packet.js";

export const NS_PER_US = 1_000n;
export const NS_PER_MS = 1_000_000n;
export const NS_PER_SECOND = 1_000_000_000n;

/** A cell of a connection row: timestamps and durations stay exact as bigint nanoseconds. */
export type Cell = string | number | boolean | bigint | null;
export type Row = Record<string, Cell>;

/** A libpcap file (Ethernet, µs, little-endian unless told otherwise) holding `packets`. */
export function pcapOf(packets: CapturedPacket[], opts: Partial<PcapOptions> = {}): Uint8Array {
  return writePcap(packets, { linkType: LINKTYPE.ETHERNET, ...opts });
}

/** A pcapng file of one section with one interface (Ethernet unless told otherwise). */
export function pcapngOf(
  packets: CapturedPacket[],
  opts: Partial<Omit<PcapngSection, "packets" | "interfaces">> & { iface?: Partial<PcapngInterface> } = {},
): Uint8Array {
  const { iface, ...section } = opts;
  return writePcapng([{ ...section, interfaces: [{ linkType: LINKTYPE.ETHERNET, ...iface }], packets }]);
}

/** Every connection row of an analysis as a plain object keyed by column name. */
export function rowsOf(table: Table): Row[] {
  const rows: Row[] = [];
  for (const batch of table.batches) {
    const readers = COLUMNS.map((def, i) => cellReader(def.source.kind, batch.getChildAt(i)!));
    for (let r = 0; r < batch.numRows; r++) {
      const row: Row = {};
      COLUMNS.forEach((def, c) => { row[def.name] = readers[c]!(r); });
      rows.push(row);
    }
  }
  return rows;
}

interface ColumnVector {
  data: ReadonlyArray<{ values: unknown; getValid(i: number): boolean }>;
  get(i: number): unknown;
}

/** Timestamps and durations as bigint ns from the raw column data; u64 counters as numbers. */
function cellReader(kind: string, vector: ColumnVector): (row: number) => Cell {
  const data = vector.data[0]!;
  switch (kind) {
    case "timestamp":
    case "duration": {
      const values = data.values as BigInt64Array;
      return (r) => (data.getValid(r) ? values[r]! : null);
    }
    case "u64": {
      const values = data.values as BigUint64Array;
      return (r) => Number(values[r]!);
    }
    default:
      return (r) => (vector.get(r) ?? null) as Cell;
  }
}

/** Records read must equal the sum of the per-reason buckets: nothing is dropped silently. */
export function assertAccounting(stats: Stats): void {
  const sum = RECORD_BUCKETS.reduce((total, key) => total + stats[key], 0);
  expect(sum, `records ${stats.records} vs buckets ${JSON.stringify(stats)}`).toBe(stats.records);
}

/** Analyzes a capture and returns its rows and stats, checking the accounting on the way. */
export async function analyzeRows(source: Parameters<typeof analyze>[0], options: AnalyzeOptions = {}): Promise<{ rows: Row[]; stats: Stats }> {
  const { table, stats } = await analyze(source, options);
  assertAccounting(stats);
  expect(stats.connections).toBe(table.numRows);
  return { rows: rowsOf(table), stats };
}

/** The only row of a one-connection capture. */
export async function onlyRow(source: Parameters<typeof analyze>[0], options: AnalyzeOptions = {}): Promise<Row> {
  const { rows } = await analyzeRows(source, options);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

/** A row without the listed columns (for comparing captures that differ only there). */
export function without(row: Row, ...names: string[]): Row {
  const copy: Row = { ...row };
  for (const name of names) delete copy[name];
  return copy;
}

/** Yields `bytes` in chunks whose sizes cycle through `sizes`. */
export async function* chunksOf(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield bytes.slice(at, at + size);
    at += size;
  }
}
