// Turns one output batch of the core (column regions in wasm memory) into an Arrow RecordBatch:
// numeric columns are copied once into typed arrays (or borrowed: BatchBuilder's `borrowed`) and
// wrapped with makeData; strings (addresses, history, community id) are made here, at the edge.

import { Data, RecordBatch, Struct, Utf8, Vector, makeData, makeVector, type DataType } from "apache-arrow";
import { Abi, ColBytes, ColI64, ColU16, ColU8, Group, PacketCol, Present } from "./abi.js";
import type { Core, OutputView } from "./core.js";
import { COLUMNS, EVENT_COLUMNS, EVENT_SCHEMA, PACKET_COLUMNS, PACKET_SCHEMA, SCHEMA, STATS_COLUMNS, STATS_SCHEMA, arrowType, type ColumnDef } from "../output/schema.js";
import { formatAddress } from "./address.js";
import { int64At } from "../output/format.js";
import { blockView, copyRows, type RowBlock } from "./rows.js";
import { COMMUNITY_DIGEST_BYTES, communityDigest } from "./community-id.js";

/** The high 32 bits of the core's null time, i64 min (its low bits are 0). */
const NULL_HIGH = -2147483648;
const HISTORY_WIDTH = Abi.HistoryBytes as number;
const FIRST_PACKETS = Abi.FirstPackets as number;
/** The direction word of an unused first_packets slot. */
const NO_PACKET = 0xffff;
const ADDRESS_WIDTH = 16;
/** Each byte value as a one-character string (history letters are ASCII). */
const HISTORY_CHARS = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b));

/**
 * A core's output as Arrow: the Arrow half of the Core wrapper, apart so that worker threads,
 * which only copy rows out, need not load apache-arrow.
 */
export class CoreBatches {
  private readonly builder = new BatchBuilder();

  constructor(private readonly core: Core) {}

  /**
   * The next BatchRows finished connections as a RecordBatch (taken out of the output), or null
   * when fewer are waiting; with `all`, whatever is waiting (up to BatchRows). Cutting batches at
   * exactly BatchRows, whatever made the core stop, keeps the Arrow output the same for any chunk
   * size and any number of workers.
   */
  takeBatch(all = false): RecordBatch | null {
    const view = this.core.outputView();
    if (view.rows === 0 || (!all && view.rows < Abi.BatchRows)) return null;
    const n = Math.min(view.rows, Abi.BatchRows);
    const batch = this.core.packetStats ? this.builder.build({ ...view, rows: n }, STATS_COLUMNS, STATS_SCHEMA) : this.builder.build({ ...view, rows: n });
    this.core.shiftOutput(n);
    return batch;
  }

  /**
   * The same rows as takeBatch takes, copied out as a RowBlock for another thread to build
   * (`BatchBuilder.buildRows` there makes the same RecordBatch); into a buffer of
   * `spares` (blocks handed back) where one is large enough.
   */
  takeRows(all = false, spares: ArrayBuffer[] = []): RowBlock | null {
    const view = this.core.outputView();
    if (view.rows === 0 || (!all && view.rows < Abi.BatchRows)) return null;
    const n = Math.min(view.rows, Abi.BatchRows);
    const block = copyRows(view, n, spares.pop());
    this.core.shiftOutput(n);
    return block;
  }

  /** The events written since the last call, as a RecordBatch (and clears them), or null. */
  takeEvents(): RecordBatch | null {
    const view = this.core.eventsView();
    if (view.rows === 0) return null;
    const batch = this.builder.buildEvents(view);
    this.core.clearEvents();
    return batch;
  }

  /** The packets table's rows written since the last call, as a RecordBatch (and clears them), or null. */
  takePackets(): RecordBatch | null {
    const view = this.core.packetsView();
    if (view.rows === 0) return null;
    const batch = this.builder.buildPackets(view);
    this.core.clearPackets();
    return batch;
  }
}

/** Builds RecordBatches; keeps the history dictionary growing across batches (delta dictionaries). */
export class BatchBuilder {
  /**
   * `borrowed`: the numeric columns are views of the rows the batch is built from, not copies,
   * for a caller that has written the batch out before those rows' memory changes (the output
   * thread, src/cli/output-worker.ts): copies made there are garbage a batch later, and with
   * many short connections they held the largest part of the command's peak memory.
   */
  constructor(private readonly borrowed = false) {}

  private readonly enumDictionaries = new Map<string, Vector>();
  private historyChunks: Data<Utf8>[] = [];
  /** The analysis bits any row of the packets batch being built has. */
  private flagsSeen = 0xffff;
  private readonly histories = new HistoryDictionary();

  /** The connection batch: COLUMNS, or with packetStats STATS_COLUMNS. */
  build(view: OutputView, columns: readonly ColumnDef[] = COLUMNS, schema = SCHEMA): RecordBatch {
    const n = view.rows;
    // Read here only, for the null bitmaps.
    const present = new Uint16Array(view.buffer, view.address(Group.U16, ColU16.Present), n);
    const ipVersion = this.u8(view, ColU8.IpVersion, n);
    const children = columns.map((def) => this.column(def, view, n, present, ipVersion));
    return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }));
  }

  /** A block of connection rows (src/core/rows.ts) as the connection batch: with STATS_COLUMNS when `packetStats`. */
  buildRows(block: RowBlock, packetStats = false): RecordBatch {
    const view = blockView(block);
    return packetStats ? this.build(view, STATS_COLUMNS, STATS_SCHEMA) : this.build(view);
  }

  /** The events batch: the view's i64 and u8 groups are the events region's. */
  buildEvents(view: OutputView): RecordBatch {
    const n = view.rows;
    const children = EVENT_COLUMNS.map((def) => this.column(def, view, n, new Uint16Array(n), new Uint8Array(n)));
    return new RecordBatch(EVENT_SCHEMA, makeData({ type: new Struct(EVENT_SCHEMA.fields), length: n, nullCount: 0, children }));
  }

  /** The packets batch: its nullable u32 columns take their presence from PacketCol.Present. */
  buildPackets(view: OutputView): RecordBatch {
    const n = view.rows;
    const present = new Uint16Array(view.buffer, view.address(Group.U16, PacketCol.Present), n).slice();
    // Most batches have few analysis flags set: a flag no row has is a bitmap of zeros, built without a pass.
    const analysis = new Uint16Array(view.buffer, view.address(Group.U16, PacketCol.Analysis), n);
    this.flagsSeen = 0;
    for (let i = 0; i < n; i++) this.flagsSeen |= analysis[i]!;
    const children = PACKET_COLUMNS.map((def) => this.column(def, view, n, present, new Uint8Array(n)));
    return new RecordBatch(PACKET_SCHEMA, makeData({ type: new Struct(PACKET_SCHEMA.fields), length: n, nullCount: 0, children }));
  }

  private column(def: ColumnDef, view: OutputView, n: number, present: Uint16Array, ipVersion: Uint8Array): Data {
    const type = arrowType(def);
    const s = def.source;
    switch (s.kind) {
      case "timestamp":
      case "duration": {
        const values = this.own(new BigInt64Array(view.buffer, view.address(Group.I64, s.col), n));
        // Read as 32-bit halves: a BigInt per cell would cost an allocation each.
        return makeData({ type, length: n, data: values, nullBitmap: timeBitmap(new Int32Array(values.buffer, values.byteOffset, 2 * n), n) } as never);
      }
      case "seconds": {
        const words = new Int32Array(view.buffer, view.address(Group.I64, s.col), 2 * n);
        const seconds = new Float64Array(n);
        for (let i = 0; i < n; i++) seconds[i] = int64At(words, i) / 1e9;
        return makeData({ type, length: n, data: seconds } as never);
      }
      case "u64":
        return makeData({ type, length: n, data: this.own(new BigUint64Array(view.buffer, view.address(Group.I64, s.col), n)) } as never);
      case "f64": {
        const values = this.own(new Float64Array(view.buffer, view.address(Group.I64, s.col), n));
        return makeData({ type, length: n, data: values, nullBitmap: numberBitmap(values) } as never);
      }
      case "sack": {
        const counts = new Uint8Array(view.buffer, view.address(Group.U8, PacketCol.SackBlocks), n);
        // Most batches carry no SACK option at all: a column of nulls, built without a pass over strings.
        if (counts.every((c) => c === 0)) {
          return makeData({ type, length: n, valueOffsets: new Int32Array(n + 1), data: new Uint8Array(0), nullBitmap: new Uint8Array((n + 7) >> 3) } as never);
        }
        const edges = Array.from({ length: 8 }, (_, k) => new Uint32Array(view.buffer, view.address(Group.U32, PacketCol.SackEdge0 + k), n));
        const data = utf8(n, (i) => {
          let text = "";
          for (let b = 0; b < counts[i]!; b++) text += `${b > 0 ? "," : ""}${edges[2 * b]![i]}-${edges[2 * b + 1]![i]}`;
          return text;
        });
        return makeData({ type, length: n, valueOffsets: data.valueOffsets, data: data.values, nullBitmap: maskBitmap(counts, 0xff) } as never);
      }
      case "first-packets": {
        const base = view.address(Group.Bytes, ColBytes.FirstPackets);
        const words = new Uint16Array(view.buffer, base, n * 2 * FIRST_PACKETS);
        return utf8(n, (i) => {
          const parts: string[] = [];
          for (let k = 0; k < FIRST_PACKETS; k++) {
            const at = (i * FIRST_PACKETS + k) * 2;
            const side = words[at + 1]!;
            if (side === NO_PACKET) break;
            parts.push(side === 0 ? String(words[at]) : `-${words[at]}`);
          }
          return parts.join(",");
        });
      }
      case "index": {
        const values = this.own(new BigInt64Array(view.buffer, view.address(Group.I64, s.col), n));
        return makeData({ type, length: n, data: values, nullBitmap: indexBitmap(new Int32Array(values.buffer, values.byteOffset, 2 * n), n) } as never);
      }
      case "u32":
        return withPresence(type, n, this.own(new Uint32Array(view.buffer, view.address(Group.U32, s.col), n)), present, s.present);
      case "u16":
        return withPresence(type, n, this.own(new Uint16Array(view.buffer, view.address(Group.U16, s.col), n)), present, s.present);
      case "u8":
        return withPresence(type, n, this.u8(view, s.col, n), present, s.present);
      case "bool": {
        const v = new Uint8Array(view.buffer, view.address(Group.U8, s.col), n);
        return makeData({ type, length: n, data: maskBitmap(v, 0xff) } as never);
      }
      case "flag": {
        const mask = s.mask;
        if ((this.flagsSeen & mask) === 0) return makeData({ type, length: n, data: new Uint8Array((n + 7) >> 3) } as never);
        const v = new Uint16Array(view.buffer, view.address(Group.U16, s.col), n);
        return makeData({ type, length: n, data: maskBitmap(v, mask) } as never);
      }
      case "enum": {
        const bytes = this.u8(view, s.col, n);
        const codes = new Int8Array(bytes.buffer, bytes.byteOffset, n);
        const dictionary = this.enumDictionary(def.name, s.names);
        const nullCode = s.nullCode;
        const nullBitmap = nullCode === undefined ? undefined : codeBitmap(codes, nullCode);
        return makeData({ type, length: n, data: codes, dictionary, nullBitmap } as never);
      }
      case "address": {
        return addressColumn(new Uint8Array(view.buffer), view.address(Group.Bytes, s.col), ipVersion, n);
      }
      case "history":
        return this.history(view, n);
      case "community-id": {
        const origPorts = new Uint16Array(view.buffer, view.address(Group.U16, ColU16.OrigPort), n);
        const respPorts = new Uint16Array(view.buffer, view.address(Group.U16, ColU16.RespPort), n);
        return communityColumn(new Uint8Array(view.buffer), view.address(Group.Bytes, ColBytes.OrigAddr), origPorts,
          view.address(Group.Bytes, ColBytes.RespAddr), respPorts, ipVersion, n);
      }
    }
  }

  private u8(view: OutputView, col: ColU8, n: number): Uint8Array {
    return this.own(new Uint8Array(view.buffer, view.address(Group.U8, col), n));
  }

  /** A column's values as the batch holds them: the view itself when `borrowed`, else a copy. */
  private own<T extends { slice(): T }>(values: T): T {
    return this.borrowed ? values : values.slice();
  }

  private enumDictionary(name: string, names: readonly string[]): Vector {
    let dict = this.enumDictionaries.get(name);
    if (!dict) {
      dict = makeVector(utf8(names.length, (i) => names[i] ?? ""));
      this.enumDictionaries.set(name, dict);
    }
    return dict;
  }

  /** History strings, dictionary-encoded; new strings go into a new dictionary chunk (a delta). */
  private history(view: OutputView, n: number): Data {
    const base = view.address(Group.Bytes, ColBytes.History);
    const lengths = this.u8(view, ColU8.HistoryLen, n);
    const bytes = new Uint8Array(view.buffer);
    const indices = new Int32Array(n);
    const fresh: string[] = [];
    // Zeek logs an empty history as unset: so is ours (null).
    const nullBitmap = maskBitmap(lengths, 0xff);
    for (let i = 0; i < n; i++) indices[i] = this.histories.indexOf(bytes, base + i * HISTORY_WIDTH, lengths[i]!, fresh);
    if (fresh.length > 0 || this.historyChunks.length === 0) this.historyChunks = [...this.historyChunks, utf8(fresh.length, (i) => fresh[i]!)];
    const dictionary = new Vector(this.historyChunks);
    return makeData({ type: arrowType(COLUMNS.find((c) => c.name === "history")!), length: n, data: indices, dictionary, nullBitmap } as never);
  }
}

/**
 * The history column's dictionary: each distinct history once, numbered in order of first sight.
 * Rows are looked up by a hash of their bytes and compared byte by byte, with no string made
 * per row (a string and a Map<string> lookup per row took about three times as long).
 */
export class HistoryDictionary {
  private readonly entries: Uint8Array[] = [];
  private readonly byHash = new Map<number, number[]>();

  /** The index of the history in `bytes[start, start + len)`; a new one is appended to `fresh` as text. */
  indexOf(bytes: Uint8Array, start: number, len: number, fresh: string[]): number {
    const hash = historyHash(bytes, start, len);
    const candidates = this.byHash.get(hash);
    if (candidates) {
      for (const c of candidates) if (sameBytes(this.entries[c]!, bytes, start, len)) return c;
    }
    const index = this.entries.length;
    this.entries.push(bytes.slice(start, start + len));
    if (candidates) candidates.push(index); else this.byHash.set(hash, [index]);
    // Histories are short ASCII: a string made here costs less than a decoder call.
    let text = "";
    for (let k = 0; k < len; k++) text += HISTORY_CHARS[bytes[start + k]!]!;
    fresh.push(text);
    return index;
  }
}

/** An FNV-1a-style hash of the length and the bytes. */
export function historyHash(bytes: Uint8Array, start: number, len: number): number {
  let hash = len;
  for (let k = 0; k < len; k++) hash = Math.imul(hash ^ bytes[start + k]!, 0x01000193);
  return hash;
}

/** Whether `bytes[start, start + len)` holds exactly `entry`. */
function sameBytes(entry: Uint8Array, bytes: Uint8Array, start: number, len: number): boolean {
  if (entry.length !== len) return false;
  for (let k = 0; k < len; k++) if (entry[k] !== bytes[start + k]) return false;
  return true;
}

function withPresence(type: DataType, n: number, values: ArrayLike<number> & ArrayBufferView, present: Uint16Array, bit: number | undefined): Data {
  const nullBitmap = bit === undefined ? undefined : maskBitmap(present.subarray(0, n), bit);
  return makeData({ type, length: n, data: values, nullBitmap } as never);
}

// Arrow validity (or boolean) bitmaps, LSB first: one monomorphic loop per kind of test (a
// predicate passed in would be a call per row that V8 cannot inline once several share the loop).

/** Bit i set when `values[i] & mask` is not 0. */
function maskBitmap(values: Uint8Array | Uint16Array, mask: number): Uint8Array {
  const n = values.length;
  const bits = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if ((values[i]! & mask) !== 0) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

/** Bit i set when the enum code is not the column's null code. */
function codeBitmap(codes: Int8Array, nullCode: number): Uint8Array {
  const n = codes.length;
  const bits = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (codes[i] !== nullCode) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

/** Bit i set when the i64 at `words[2i]` (as 32-bit halves) is not the core's null time. */
function timeBitmap(words: Int32Array, n: number): Uint8Array {
  const bits = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (words[2 * i + 1] !== NULL_HIGH || words[2 * i] !== 0) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

/** Bit i set when the i64 at `words[2i]` is not negative (a frame index; -1 is none). */
function indexBitmap(words: Int32Array, n: number): Uint8Array {
  const bits = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (words[2 * i + 1]! >= 0) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

/** Bit i set when the value is a number (NaN is the core's null). */
function numberBitmap(values: Float64Array): Uint8Array {
  const n = values.length;
  const bits = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (values[i] === values[i]) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

const textEncoder = new TextEncoder();

/**
 * A Utf8 column. The strings synfin makes (addresses, base64, history letters, names) are ASCII,
 * so the whole column is encoded in one call, with offsets from the string lengths; anything
 * else is encoded string by string.
 */
function utf8(n: number, valueOf: (i: number) => string): Data<Utf8> {
  const offsets = new Int32Array(n + 1);
  const values: string[] = new Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = valueOf(i);
    values[i] = v;
    total += v.length;
    offsets[i + 1] = total;
  }
  // All ASCII (one byte per UTF-16 unit) exactly when the encoding fills the buffer to the byte.
  const data = new Uint8Array(total);
  const joined = values.join("");
  const { read, written } = textEncoder.encodeInto(joined, data);
  if (read === joined.length && written === total) return makeData({ type: new Utf8(), length: n, valueOffsets: offsets, data });
  const parts = values.map((v) => textEncoder.encode(v));
  let at = 0;
  parts.forEach((part, i) => { at += part.length; offsets[i + 1] = at; });
  const encoded = new Uint8Array(at);
  at = 0;
  for (const part of parts) { encoded.set(part, at); at += part.length; }
  return makeData({ type: new Utf8(), length: n, valueOffsets: offsets, data: encoded });
}

/** An IPv6 address is at most 39 characters (45 with an embedded IPv4 form, which we never write). */
const MAX_ADDRESS_TEXT = 45;
/** "1:" and the base64 of a digest. */
const COMMUNITY_TEXT = 2 + 4 * Math.ceil(COMMUNITY_DIGEST_BYTES / 3);
/**
 * The decimal text of 0..255 packed in a word: its characters in the low three bytes (the first
 * lowest), their count in the top byte. One table load per byte of an address, no inner loop:
 * 18 against 40 ns per IPv4 address.
 */
const DECIMAL = Uint32Array.from({ length: 256 }, (_, v) => {
  const text = String(v);
  let word = text.length << 24;
  for (let i = 0; i < text.length; i++) word |= text.charCodeAt(i) << (8 * i);
  return word;
});

// Utf8 columns of ASCII text written straight into their data buffers (no strings).

/** The addresses of `n` rows (16 bytes each from `base`), IPv4 where `ipVersion` says so. */
function addressColumn(bytes: Uint8Array, base: number, ipVersion: Uint8Array, n: number): Data<Utf8> {
  const offsets = new Int32Array(n + 1);
  const out = new Uint8Array(n * MAX_ADDRESS_TEXT);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const from = base + i * ADDRESS_WIDTH;
    at = ipVersion[i] === 4 ? writeIpv4(bytes, from, out, at) : writeAscii(formatAddress(bytes, from, 16), out, at);
    offsets[i + 1] = at;
  }
  return makeData({ type: new Utf8(), length: n, valueOffsets: offsets, data: out.slice(0, at) });
}

/**
 * The Community IDs of `n` rows: "1:" and the base64 of each digest, hashed from the rows'
 * addresses (ADDRESS_WIDTH bytes each from `origBase` and `respBase`, IPv4 where `ipVersion` says
 * so) and ports.
 */
function communityColumn(bytes: Uint8Array, origBase: number, origPorts: Uint16Array, respBase: number, respPorts: Uint16Array,
  ipVersion: Uint8Array, n: number): Data<Utf8> {
  const offsets = new Int32Array(n + 1);
  const out = new Uint8Array(n * COMMUNITY_TEXT);
  const digest = new Uint8Array(COMMUNITY_DIGEST_BYTES);
  let at = 0;
  for (let i = 0; i < n; i++) {
    communityDigest(bytes, origBase + i * ADDRESS_WIDTH, origPorts[i]!, respBase + i * ADDRESS_WIDTH, respPorts[i]!,
      ipVersion[i] === 4 ? 4 : 16, digest);
    out[at] = 0x31; // "1:"
    out[at + 1] = 0x3a;
    at = writeBase64(digest, 0, COMMUNITY_DIGEST_BYTES, out, at + 2);
    offsets[i + 1] = at;
  }
  return makeData({ type: new Utf8(), length: n, valueOffsets: offsets, data: out.slice(0, at) });
}

function writeIpv4(bytes: Uint8Array, from: number, out: Uint8Array, at: number): number {
  at = writeDecimal(out, at, bytes[from]!);
  out[at++] = 0x2e; // "."
  at = writeDecimal(out, at, bytes[from + 1]!);
  out[at++] = 0x2e;
  at = writeDecimal(out, at, bytes[from + 2]!);
  out[at++] = 0x2e;
  return writeDecimal(out, at, bytes[from + 3]!);
}

/**
 * Writes the decimal text of byte value `v` at `at` and returns where it ends. All three character
 * bytes are stored, the unused ones to be overwritten by what follows: `out` has room past any
 * address (MAX_ADDRESS_TEXT per row).
 */
function writeDecimal(out: Uint8Array, at: number, v: number): number {
  const word = DECIMAL[v]!;
  out[at] = word & 0xff;
  out[at + 1] = (word >>> 8) & 0xff;
  out[at + 2] = (word >>> 16) & 0xff;
  return at + (word >>> 24);
}

function writeAscii(text: string, out: Uint8Array, at: number): number {
  for (let k = 0; k < text.length; k++) out[at++] = text.charCodeAt(k);
  return at;
}

const BASE64_CODES = Uint8Array.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", (c) => c.charCodeAt(0));

function writeBase64(bytes: Uint8Array, from: number, len: number, out: Uint8Array, at: number): number {
  for (let i = 0; i < len; i += 3) {
    const rest = len - i;
    const v = (bytes[from + i]! << 16) | ((rest > 1 ? bytes[from + i + 1]! : 0) << 8) | (rest > 2 ? bytes[from + i + 2]! : 0);
    out[at++] = BASE64_CODES[(v >> 18) & 63]!;
    out[at++] = BASE64_CODES[(v >> 12) & 63]!;
    out[at++] = rest > 1 ? BASE64_CODES[(v >> 6) & 63]! : 0x3d; // "="
    out[at++] = rest > 2 ? BASE64_CODES[v & 63]! : 0x3d;
  }
  return at;
}
