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

// ---- NDJSON and CSV, written as bytes ----
// Every line of a batch goes into one byte buffer: numbers, times and the core's strings are
// written as their characters' bytes, with no string per cell and no encoding pass (a string per
// cell, joined per line and encoded per batch, had cost 20 µs per connection row). The text is
// exactly what JSON.stringify of the row's cells, or their CSV fields, would be.

/** JSON values (NDJSON), or CSV fields. */
export type Style = "json" | "csv";

/** Strings JSON.stringify would escape a character of (quote, backslash, control, surrogate). */
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;
/** Fields CSV quotes. */
const CSV_QUOTED = /[",\n\r]/;

function quoted(text: string, style: Style): string {
  if (style === "json") return JSON_ESCAPED.test(text) ? JSON.stringify(text) : `"${text}"`;
  return CSV_QUOTED.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const textEncoder = new TextEncoder();
const QUOTE = 0x22;

/** A view of an array's bytes, to copy them four at a time. */
function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Text made once: a key, a dictionary entry, a literal. */
function piece(text: string): DataView {
  return viewOf(textEncoder.encode(text));
}

/** A buffer of `size` bytes (Node's CLI passes one that is not zeroed first). */
export type Allocate = (size: number) => Uint8Array;

/** A growing byte buffer that text is appended to. */
class TextBytes {
  bytes: Uint8Array;
  /** `bytes` as a DataView: copies move four bytes a step (a loop of byte stores is three times slower). */
  view: DataView;
  at = 0;

  constructor(size: number, private readonly allocate: Allocate) {
    this.bytes = allocate(Math.max(size, 64));
    this.view = viewOf(this.bytes);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    const grown = this.allocate(Math.max(2 * this.bytes.length, this.at + n));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
    this.view = viewOf(grown);
  }

  /** A string of ASCII characters (numbers' and times' text). */
  ascii(text: string): void {
    this.reserve(text.length);
    const bytes = this.bytes;
    let at = this.at;
    for (let i = 0; i < text.length; i++) bytes[at++] = text.charCodeAt(i);
    this.at = at;
  }

  /** Any string, UTF-8 encoded. */
  text(text: string): void {
    const encoded = textEncoder.encode(text);
    this.copy(viewOf(encoded), 0, encoded.length);
  }

  /** Bytes [from, to) of `source`. */
  copy(source: DataView, from: number, to: number): void {
    this.reserve(to - from);
    const view = this.view;
    let at = this.at, i = from;
    for (; i + 4 <= to; i += 4, at += 4) view.setUint32(at, source.getUint32(i));
    for (; i < to; i++) view.setUint8(at++, source.getUint8(i));
    this.at = at;
  }

  /** All of `source`. */
  piece(source: DataView): void {
    this.copy(source, 0, source.byteLength);
  }

  byte(b: number): void {
    this.reserve(1);
    this.bytes[this.at++] = b;
  }
}

/** Writes one cell of a column for `row`. */
type CellWriter = (row: number, out: TextBytes) => void;

/**
 * String(v), written: straight for a whole number from 0 to 2⁵³ − 1 and for a number of seconds
 * with at most nine decimals (durations and RTTs, the core's nanoseconds ÷ 10⁹), through
 * String(v) (a call into the engine's runtime, about a microsecond) for anything else.
 */
function writeNumber(v: number, out: TextBytes): void {
  if (v >= 0 && v < 2147483648 && (v | 0) === v) {
    writeDigits(v, out);
    return;
  }
  if (v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v) {
    // A whole number past 2³¹ (an ISN, a byte count): eight digits at a time.
    const high = Math.floor(v / 1e8);
    writeNumber(high, out);
    writePadded(v - high * 1e8, 8, out);
    return;
  }
  if (v >= 1e-6 && v < SECONDS_LIMIT) {
    const ns = Math.round(v * 1e9);
    if (ns / 1e9 === v) {
      writeSeconds(ns, out);
      return;
    }
  }
  out.ascii(String(v));
}

/**
 * Below 2²² s a double's spacing is under 10⁻⁹, so v = ns / 10⁹ (rounded) is the only double the
 * decimal ns·10⁻⁹ stands for, and no shorter decimal stands for v: String(v) is that decimal, in
 * plain notation from 10⁻⁶ on.
 */
const SECONDS_LIMIT = 4194304;

/** The digits of `n`, a whole number from 0 to 2³¹ − 1. */
function writeDigits(n: number, out: TextBytes): void {
  if (n < 10) {
    out.byte(0x30 + n);
    return;
  }
  const digits = n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : n < 1000000 ? 6 : n < 10000000 ? 7 : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10;
  out.reserve(digits);
  const bytes = out.bytes;
  let at = out.at + digits;
  out.at = at;
  do {
    const q = (n / 10) | 0;
    bytes[--at] = 0x30 + n - q * 10;
    n = q;
  } while (n > 0);
}

/** `ns` (10³ ≤ ns < SECONDS_LIMIT·10⁹) as seconds: the whole seconds, then the decimals without trailing zeros. */
function writeSeconds(ns: number, out: TextBytes): void {
  const whole = Math.floor(ns / 1e9);
  let frac = ns - whole * 1e9;
  writeDigits(whole, out);
  if (frac === 0) return;
  let width = 9;
  while (frac % 10 === 0) { frac /= 10; width--; }
  out.byte(0x2e); // "."
  writePadded(frac, width, out);
}

/** The text writeNumber writes for `v` (String(v)). */
export function numberText(v: number): string {
  const out = new TextBytes(32, (n) => new Uint8Array(n));
  writeNumber(v, out);
  return latin1.decode(out.bytes.subarray(0, out.at));
}

/** `width` digits of `n` (0 ≤ n < 10^width ≤ 10⁹), zero-padded. */
function writePadded(n: number, width: number, out: TextBytes): void {
  out.reserve(width);
  const bytes = out.bytes;
  let at = out.at + width;
  out.at = at;
  let x = n | 0; // every caller's n is below 10⁹
  for (let i = 0; i < width; i++) {
    const q = (x / 10) | 0;
    bytes[--at] = 0x30 + x - q * 10;
    x = q;
  }
}

let writtenDay = -1;
let writtenDayText = piece("");

/** isoFromHalves(hi, lo) written: the date's bytes made once per day. */
function writeIso(hi: number, lo: number, out: TextBytes): void {
  if (hi < 0) { out.ascii(isoFromBigInt((BigInt(hi) << 32n) | BigInt(lo))); return; }
  splitNs(hi, lo);
  const seconds = splitSeconds;
  const day = Math.floor(seconds / 86400);
  if (day !== writtenDay) {
    writtenDay = day;
    writtenDayText = piece(new Date(day * 86_400_000).toISOString().slice(0, 11));
  }
  out.piece(writtenDayText);
  const t = seconds - day * 86400;
  const h = Math.floor(t / 3600), m = Math.floor((t - h * 3600) / 60);
  writePadded(h, 2, out);
  out.byte(0x3a); // ":"
  writePadded(m, 2, out);
  out.byte(0x3a);
  writePadded(t - h * 3600 - m * 60, 2, out);
  out.byte(0x2e); // "."
  writePadded(splitNanos, 9, out);
  out.byte(0x5a); // "Z"
}

/** Whether bytes [from, to) go out as they are in `style` (ASCII, nothing to quote or escape). */
function plain(bytes: Uint8Array, from: number, to: number, style: Style): boolean {
  if (style === "json") {
    for (let i = from; i < to; i++) {
      const b = bytes[i]!;
      if (b < 0x20 || b >= 0x80 || b === QUOTE || b === 0x5c) return false;
    }
  } else {
    for (let i = from; i < to; i++) {
      const b = bytes[i]!;
      if (b >= 0x80 || b === QUOTE || b === 0x2c || b === 0x0a || b === 0x0d) return false;
    }
  }
  return true;
}

/**
 * The writer of a column's cells: what JSON.stringify makes of each value of a row object
 * (ndjson), or the CSV field of it. Dictionary strings are quoted and encoded once per batch.
 */
function cellWriter(def: ColumnDef, batch: RecordBatch, index: number, style: Style): CellWriter {
  const data = batch.getChildAt(index)!.data[0] as Data;
  const valid = validity(data);
  const none = style === "json" ? "null" : "";
  const json = style === "json";
  switch (def.source.kind) {
    case "timestamp": {
      const words = halvesOf(data.values as BigInt64Array);
      return (row, out) => {
        if (!valid(row)) { out.ascii(none); return; }
        if (json) out.byte(QUOTE);
        writeIso(words[2 * row + 1]!, words[2 * row]! >>> 0, out);
        if (json) out.byte(QUOTE);
      };
    }
    case "enum":
    case "history": {
      const codes = data.values as Int8Array | Int32Array;
      const dictionary = data.dictionary!;
      const texts: Array<DataView | undefined> = [];
      return (row, out) => {
        if (!valid(row)) { out.ascii(none); return; }
        const code = codes[row]!;
        out.piece(texts[code] ??= piece(quoted(String(dictionary.get(code)), style)));
      };
    }
    case "address":
    case "community-id":
    case "first-packets":
    case "sack": {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      const view = viewOf(bytes);
      return (row, out) => {
        if (!valid(row)) { out.ascii(none); return; }
        const from = offsets[row]!, to = offsets[row + 1]!;
        if (!plain(bytes, from, to, style)) { out.text(quoted(utf8Decoder.decode(bytes.subarray(from, to)), style)); return; }
        if (json) out.byte(QUOTE);
        out.copy(view, from, to);
        if (json) out.byte(QUOTE);
      };
    }
    case "bool":
    case "flag": {
      const bits = data.values as Uint8Array, offset = data.offset;
      return (row, out) => {
        if (!valid(row)) out.ascii(none);
        else out.piece(((bits[(offset + row) >> 3]! >> ((offset + row) & 7)) & 1) !== 0 ? TRUE : FALSE);
      };
    }
    // Numbers, read as cellReader reads them, but here each in its own closure: reading through
    // a shared per-kind reader (one call more per cell) made NDJSON 15–40% slower per row. JSON
    // writes a NaN or an infinity as null (the core's NaN is a null already).
    case "duration": {
      const words = halvesOf(data.values as BigInt64Array);
      return (row, out) => numberCell(valid(row) ? int64At(words, row) / 1e9 : null, json, out);
    }
    case "u64": {
      const words = halvesOf(data.values as BigUint64Array);
      return (row, out) => numberCell(valid(row) ? uint64At(words, row) : null, json, out);
    }
    case "index": {
      const words = halvesOf(data.values as BigInt64Array);
      return (row, out) => numberCell(valid(row) ? int64At(words, row) : null, json, out);
    }
    case "seconds":
    case "f64":
    case "u32":
    case "u16":
    case "u8": {
      const values = data.values as Float64Array | Uint32Array | Uint16Array | Uint8Array;
      return (row, out) => numberCell(valid(row) ? values[row]! : null, json, out);
    }
  }
}

/** A number's cell: its text, or the style's null. */
function numberCell(v: number | null, json: boolean, out: TextBytes): void {
  if (v === null || (json && !Number.isFinite(v))) out.ascii(json ? "null" : "");
  else writeNumber(v, out);
}

const TRUE = piece("true"), FALSE = piece("false");

/** Bytes per row of the last batch written, to size the next batch's buffer. */
let bytesPerRow = 256;

/**
 * Every row of a batch as a line of `style` ended by "\n", in one buffer (from `allocate`);
 * `ends` (if given) receives each line's end offset (past its "\n").
 */
export function textLines(batch: RecordBatch, style: Style, ends?: number[], allocate: Allocate = (n) => new Uint8Array(n)): Uint8Array {
  const columns = columnsOf(batch);
  const writers = columns.map((def, i) => cellWriter(def, batch, i, style));
  const json = style === "json";
  // What goes before each cell in JSON: the brace or a comma, and the key.
  const before = columns.map((c, i) => piece(`${i === 0 ? "{" : ","}${JSON.stringify(c.name)}:`));
  const out = new TextBytes(Math.ceil(batch.numRows * bytesPerRow * 1.1), allocate);
  for (let row = 0; row < batch.numRows; row++) {
    for (let c = 0; c < writers.length; c++) {
      if (json) out.piece(before[c]!);
      else if (c > 0) out.byte(0x2c); // ","
      writers[c]!(row, out);
    }
    if (json) out.byte(0x7d); // "}"
    out.byte(0x0a);
    ends?.push(out.at);
  }
  if (batch.numRows > 0) bytesPerRow = Math.ceil(out.at / batch.numRows);
  return out.bytes.subarray(0, out.at);
}

/** A batch's lines as strings (without their "\n"). */
function* linesOf(batch: RecordBatch, style: Style): Generator<string> {
  const ends: number[] = [];
  const bytes = textLines(batch, style, ends);
  let start = 0;
  for (const end of ends) {
    yield utf8Decoder.decode(bytes.subarray(start, end - 1));
    start = end;
  }
}

/** One JSON object per row, as JSON.stringify of the row's cells keyed by column name. */
export function ndjsonLines(batch: RecordBatch): Generator<string> {
  return linesOf(batch, "json");
}

export function csvHeader(columns: readonly ColumnDef[] = COLUMNS): string {
  return columns.map((c) => c.name).join(",");
}

export function csvLines(batch: RecordBatch): Generator<string> {
  return linesOf(batch, "csv");
}
