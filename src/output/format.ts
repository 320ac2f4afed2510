// Text renderings of connection batches: NDJSON and CSV with the schema's column names,
// timestamps as ISO-8601 UTC with nanoseconds, durations as seconds.

import type { Data, RecordBatch } from "apache-arrow";
import { COLUMNS, EVENT_COLUMNS, PACKET_COLUMNS, STATS_COLUMNS, type ColumnDef } from "./schema.js";

/** A column value as plain JSON: string, number, boolean or null. */
export type Cell = string | number | boolean | null;
type CellReader = (row: number) => Cell;

/** ISO-8601 UTC with nine fractional digits, from nanoseconds since the epoch (BigInt arithmetic). */
function isoFromBigInt(ns: bigint): string {
  const seconds = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const frac = ns - seconds * 1_000_000_000n;
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${frac.toString().padStart(9, "0")}Z`;
}

// Times read as the two 32-bit halves of the i64, without a BigInt per cell: a time from 1970 on
// splits exactly into seconds and nanoseconds with doubles (every intermediate below 2^53), and
// the date's text is made once per day.

let splitSeconds = 0;
let splitNanos = 0;

/** Seconds and nanoseconds of the time hi·2³² + lo (hi ≥ 0, lo unsigned), exactly. */
export function splitTime(hi: number, lo: number): { seconds: number; nanos: number } {
  splitNs(hi, lo);
  return { seconds: splitSeconds, nanos: splitNanos };
}

function splitNs(hi: number, lo: number): void {
  // hi·2³² = hi·4·10⁹ + hi·294·10⁶ + hi·967296, and hi·294·10⁶ = ⌊hi·294/1000⌋·10⁹ + (hi·294 mod 1000)·10⁶.
  const x = hi * 294;
  const xk = Math.floor(x / 1000);
  const z = (x - xk * 1000) * 1e6 + hi * 967296 + lo;
  let zs = Math.floor(z / 1e9);
  let nanos = z - zs * 1e9;
  if (nanos < 0) { zs--; nanos += 1e9; } else if (nanos >= 1e9) { zs++; nanos -= 1e9; }
  splitSeconds = hi * 4 + xk + zs;
  splitNanos = nanos;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
let cachedDay = -1;
let cachedDayText = "";

/** "YYYY-MM-DDTHH:MM:SS" of a non-negative number of seconds (the largest i64 is in the year 2262). */
function isoSeconds(seconds: number): string {
  const day = Math.floor(seconds / 86400);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedDayText = new Date(day * 86_400_000).toISOString().slice(0, 11);
  }
  const t = seconds - day * 86400;
  const h = Math.floor(t / 3600), m = Math.floor((t - h * 3600) / 60);
  return `${cachedDayText}${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[t - h * 3600 - m * 60]}`;
}

/** Three digits, zero-padded. */
function threeDigits(n: number): string {
  return (n < 100 ? (n < 10 ? "00" : "0") : "") + n;
}

/** Six digits, zero-padded. */
export function sixDigits(n: number): string {
  const hi = Math.floor(n / 1000);
  return threeDigits(hi) + threeDigits(n - hi * 1000);
}

/** isoFromNs of the i64 whose 32-bit halves are hi (signed) and lo (unsigned). */
export function isoFromHalves(hi: number, lo: number): string {
  // A time before 1970.
  if (hi < 0) return isoFromBigInt((BigInt(hi) << 32n) | BigInt(lo));
  splitNs(hi, lo);
  const ms = Math.floor(splitNanos / 1e6);
  return `${isoSeconds(splitSeconds)}.${threeDigits(ms)}${sixDigits(splitNanos - ms * 1e6)}Z`;
}

/**
 * The i64 at `row` of `words` (its 32-bit halves) as the nearest double: hi·2³² is exact and the
 * sum is rounded once, the same double as Number(bigint).
 */
export function int64At(words: Int32Array, row: number): number {
  return words[2 * row + 1]! * 4294967296 + (words[2 * row]! >>> 0);
}

/** The same for a u64. */
export function uint64At(words: Int32Array, row: number): number {
  return (words[2 * row + 1]! >>> 0) * 4294967296 + (words[2 * row]! >>> 0);
}

/** A 64-bit column's values as 32-bit halves. */
export function halvesOf(values: BigInt64Array | BigUint64Array): Int32Array {
  return new Int32Array(values.buffer, values.byteOffset, 2 * values.length);
}

/**
 * Whether each row of `data` is valid, as Data.getValid says (the bitmap is read only when the
 * column has nulls), without a call through Arrow's accessors per cell.
 */
function validity(data: Data): (row: number) => boolean {
  if (!(data.nullable && data.nullCount > 0)) return () => true;
  const bitmap = data.nullBitmap!, offset = data.offset;
  return (row) => ((bitmap[(offset + row) >> 3]! >> ((offset + row) & 7)) & 1) !== 0;
}

const latin1 = new TextDecoder("latin1");
const utf8Decoder = new TextDecoder();

/**
 * A Utf8 column's strings: the whole data buffer decoded at once and cut at the offsets when it is
 * all ASCII (as every string synfin writes is), else one decode per cell.
 */
function utf8Cells(data: Data): (row: number) => string {
  const offsets = data.valueOffsets as Int32Array;
  const bytes = data.values as Uint8Array;
  const first = offsets[0]!;
  const region = bytes.subarray(first, offsets[data.length]!);
  if (region.some((b) => b > 0x7f)) return (row) => utf8Decoder.decode(bytes.subarray(offsets[row]!, offsets[row + 1]!));
  const text = latin1.decode(region);
  return (row) => text.slice(offsets[row]! - first, offsets[row + 1]! - first);
}

/** A dictionary column's strings, each entry decoded once. */
function dictionaryCells(data: Data): (row: number) => string {
  const codes = data.values as Int8Array | Int32Array;
  const dictionary = data.dictionary!;
  const entries: Array<string | undefined> = [];
  return (row) => {
    const code = codes[row]!;
    return (entries[code] ??= String(dictionary.get(code)));
  };
}

function cellReader(def: ColumnDef, batch: RecordBatch, index: number): CellReader {
  const data = batch.getChildAt(index)!.data[0] as Data;
  const valid = validity(data);
  switch (def.source.kind) {
    case "timestamp": {
      const words = halvesOf(data.values as BigInt64Array);
      return (row) => (valid(row) ? isoFromHalves(words[2 * row + 1]!, words[2 * row]! >>> 0) : null);
    }
    case "duration": {
      const words = halvesOf(data.values as BigInt64Array);
      return (row) => (valid(row) ? int64At(words, row) / 1e9 : null);
    }
    case "u64": {
      const words = halvesOf(data.values as BigUint64Array);
      return (row) => (valid(row) ? uint64At(words, row) : null);
    }
    case "index": {
      const words = halvesOf(data.values as BigInt64Array);
      return (row) => (valid(row) ? int64At(words, row) : null);
    }
    case "seconds":
    case "f64":
    case "u32":
    case "u16":
    case "u8": {
      const values = data.values as Float64Array | Uint32Array | Uint16Array | Uint8Array;
      return (row) => (valid(row) ? values[row]! : null);
    }
    case "bool":
    case "flag": {
      const bits = data.values as Uint8Array, offset = data.offset;
      return (row) => (valid(row) ? ((bits[(offset + row) >> 3]! >> ((offset + row) & 7)) & 1) !== 0 : null);
    }
    case "enum":
    case "history": {
      const cells = dictionaryCells(data);
      return (row) => (valid(row) ? cells(row) : null);
    }
    case "address":
    case "community-id":
    case "first-packets":
    case "sack": {
      const cells = utf8Cells(data);
      return (row) => (valid(row) ? cells(row) : null);
    }
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

/** A column's cells as text of one style: JSON values, or CSV fields. */
type TextReader = (row: number) => string;
type Style = "json" | "csv";

/** Strings JSON.stringify would escape a character of (quote, backslash, control, surrogate). */
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;
/** Fields CSV quotes. */
const CSV_QUOTED = /[",\n\r]/;

function quoted(text: string, style: Style): string {
  if (style === "json") return JSON_ESCAPED.test(text) ? JSON.stringify(text) : `"${text}"`;
  return CSV_QUOTED.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The text of a column's cells: what JSON.stringify makes of each value of a row object (ndjson),
 * or the CSV field of it. Dictionary strings are quoted once per batch; numbers need no quoting.
 */
function textReader(def: ColumnDef, batch: RecordBatch, index: number, style: Style): TextReader {
  const cell = cellReader(def, batch, index);
  const none = style === "json" ? "null" : "";
  switch (def.source.kind) {
    case "timestamp":
      if (style === "csv") return (row) => (cell(row) as string | null) ?? none;
      return (row) => { const v = cell(row); return v === null ? none : `"${v}"`; };
    case "enum":
    case "history": {
      const texts = new Map<string, string>();
      return (row) => {
        const v = cell(row) as string | null;
        if (v === null) return none;
        let text = texts.get(v);
        if (text === undefined) texts.set(v, (text = quoted(v, style)));
        return text;
      };
    }
    case "address":
    case "community-id":
    case "first-packets":
    case "sack":
      return (row) => { const v = cell(row) as string | null; return v === null ? none : quoted(v, style); };
    case "bool":
    case "flag":
      return (row) => { const v = cell(row); return v === null ? none : v ? "true" : "false"; };
    default:
      // Numbers. JSON writes a NaN or an infinity as null (the core's NaN is a null already).
      if (style === "csv") return (row) => { const v = cell(row) as number | null; return v === null ? none : numberText(v); };
      return (row) => { const v = cell(row) as number | null; return v === null || !Number.isFinite(v) ? none : numberText(v); };
  }
}

/** The text of 0 to 999, made once: most counts of most rows are small (most are 0). */
const SMALL_NUMBERS = Array.from({ length: 1000 }, (_, i) => String(i));

/** String(v), from the table for a small whole number. */
function numberText(v: number): string {
  return (v | 0) === v && v >= 0 && v < 1000 ? SMALL_NUMBERS[v]! : String(v);
}

/** One JSON object per row, as JSON.stringify of the row's cells keyed by column name. */
export function* ndjsonLines(batch: RecordBatch): Generator<string> {
  const columns = columnsOf(batch);
  const readers = columns.map((def, i) => textReader(def, batch, i, "json"));
  // Each line joined from an array of its pieces: a flat string (concatenating the pieces would
  // leave a rope of them per line, and the garbage collector busy with them).
  const parts: string[] = new Array(2 * readers.length + 1);
  columns.forEach((c, i) => { parts[2 * i] = `${i === 0 ? "{" : ","}${JSON.stringify(c.name)}:`; });
  parts[2 * readers.length] = "}";
  for (let row = 0; row < batch.numRows; row++) {
    for (let c = 0; c < readers.length; c++) parts[2 * c + 1] = readers[c]!(row);
    yield parts.join("");
  }
}

export function csvHeader(columns: readonly ColumnDef[] = COLUMNS): string {
  return columns.map((c) => c.name).join(",");
}

export function* csvLines(batch: RecordBatch): Generator<string> {
  const columns = columnsOf(batch);
  const readers = columns.map((def, i) => textReader(def, batch, i, "csv"));
  const cells: string[] = new Array(readers.length);
  for (let row = 0; row < batch.numRows; row++) {
    for (let c = 0; c < readers.length; c++) cells[c] = readers[c]!(row);
    yield cells.join(",");
  }
}
