// Text renderings of connection batches: NDJSON and CSV with the schema's column names,
// timestamps as ISO-8601 UTC with nanoseconds, durations as seconds.

import type { Data, RecordBatch } from "apache-arrow";
import { COLUMNS, EVENT_COLUMNS, PACKET_COLUMNS, STATS_COLUMNS, type ColumnDef } from "./schema.js";

/** A column value as plain JSON: string, number, boolean or null. */
export type Cell = string | number | boolean | null;
type CellReader = (row: number) => Cell;

/** ISO-8601 UTC with nine fractional digits, from nanoseconds since the epoch. */
export function isoFromNs(ns: bigint): string {
  const seconds = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const frac = ns - seconds * 1_000_000_000n;
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${frac.toString().padStart(9, "0")}Z`;
}

function cellReader(def: ColumnDef, batch: RecordBatch, index: number): CellReader {
  const vector = batch.getChildAt(index)!;
  const data = vector.data[0] as Data;
  const valid = (row: number) => data.getValid(row);
  switch (def.source.kind) {
    case "timestamp": {
      const values = data.values as BigInt64Array;
      return (row) => (valid(row) ? isoFromNs(values[row]!) : null);
    }
    case "duration": {
      const values = data.values as BigInt64Array;
      return (row) => (valid(row) ? Number(values[row]!) / 1e9 : null);
    }
    case "u64":
    case "index": {
      const values = data.values as BigUint64Array | BigInt64Array;
      return (row) => (valid(row) ? Number(values[row]!) : null);
    }
    default:
      return (row) => (vector.get(row) ?? null) as Cell;
  }
}

/** The column list of a batch: the connection table's (with packetStats or not), the events table's or the packets table's. */
export function columnsOf(batch: RecordBatch): readonly ColumnDef[] {
  const names = batch.schema.fields.map((f) => f.name);
  const same = (columns: readonly ColumnDef[]) => columns.length === names.length && columns.every((c, i) => c.name === names[i]);
  return [EVENT_COLUMNS, PACKET_COLUMNS, STATS_COLUMNS].find(same) ?? COLUMNS;
}

/** Readers for every column of a batch, in schema order. */
export function batchReaders(batch: RecordBatch): CellReader[] {
  return columnsOf(batch).map((def, i) => cellReader(def, batch, i));
}

export function* ndjsonLines(batch: RecordBatch): Generator<string> {
  const readers = batchReaders(batch);
  const columns = columnsOf(batch);
  for (let row = 0; row < batch.numRows; row++) {
    const obj: Record<string, Cell> = {};
    for (let c = 0; c < columns.length; c++) obj[columns[c]!.name] = readers[c]!(row);
    yield JSON.stringify(obj);
  }
}

export function csvHeader(columns: readonly ColumnDef[] = COLUMNS): string {
  return columns.map((c) => c.name).join(",");
}

function csvCell(v: Cell): string {
  if (v === null) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function* csvLines(batch: RecordBatch): Generator<string> {
  const readers = batchReaders(batch);
  for (let row = 0; row < batch.numRows; row++) yield readers.map((read) => csvCell(read(row))).join(",");
}
