// The page's view of a finished run: the Arrow table's columns as flat typed arrays (times in ms
// since the first packet, NaN for null), read once, plus the filter and sort that pick the rows
// every view shows.

import type { Data, Table } from "apache-arrow";

export interface Connections {
  table: Table;
  rows: number;
  /** The earliest first-packet time (ns since the epoch); every `*Ms` column counts from it. */
  originNs: bigint;
  connId: Float64Array;
  tsMs: Float64Array;
  lastMs: Float64Array;
  synMs: Float64Array;
  establishedMs: Float64Array;
  origFinMs: Float64Array;
  respFinMs: Float64Array;
  rstMs: Float64Array;
  closedMs: Float64Array;
  durationS: Float64Array;
  rttSynSynackMs: Float64Array;
  rttSynackAckMs: Float64Array;
  origBytes: Float64Array;
  respBytes: Float64Array;
  origPkts: Float64Array;
  respPkts: Float64Array;
  retransmits: Float64Array;
  zeroWindows: Float64Array;
  origP: Uint16Array;
  respP: Uint16Array;
  origH: string[];
  respH: string[];
  connState: string[];
  history: string[];
  origState: string[];
  respState: string[];
  endReason: string[];
  /** Row → times (ms) of its originator's SYN retransmissions, for rows whose events were read. */
  synRetransmitsMs: Map<number, number[]>;
}

const NS_PER_MS = 1e6;

/** Each chunk's Data of a column, in order. */
function chunks(table: Table, name: string): readonly Data[] {
  return table.getChild(name)?.data ?? [];
}

/** Whether row `i` of `data` is valid, from its null bitmap (none: every row is). */
function validity(data: Data): (i: number) => boolean {
  const bitmap = data.nullCount > 0 ? data.nullBitmap : undefined;
  if (!bitmap || bitmap.length === 0) return () => true;
  const offset = data.offset;
  return (i) => ((bitmap[(offset + i) >> 3]! >> ((offset + i) & 7)) & 1) === 1;
}

/**
 * A 64-bit or floating column as numbers, `scale`d, NaN for null; `originNs` shifts timestamps.
 * A 64-bit value is read as its two 32-bit halves, with no BigInt per value: the difference of
 * the halves' sums is rounded once, as `Number(value - originNs)` would round it.
 */
function numbers(table: Table, name: string, scale = 1, originNs = 0n): Float64Array {
  const out = new Float64Array(table.numRows);
  const originHigh = Number(BigInt.asIntN(32, originNs >> 32n));
  const originLow = Number(BigInt.asUintN(32, originNs));
  let at = 0;
  for (const data of chunks(table, name)) {
    const values = data.values as BigInt64Array | BigUint64Array | Float64Array;
    const valid = validity(data);
    if (values instanceof Float64Array) {
      for (let i = 0; i < data.length; i++, at++) out[at] = valid(i) ? values[i]! / scale : NaN;
      continue;
    }
    // Little-endian halves (the byte order of every platform browsers run on).
    const low = new Uint32Array(values.buffer, values.byteOffset, 2 * data.length);
    const high = values instanceof BigInt64Array ? new Int32Array(values.buffer, values.byteOffset, 2 * data.length) : low;
    for (let i = 0; i < data.length; i++, at++) {
      out[at] = valid(i) ? ((high[2 * i + 1]! - originHigh) * 4294967296 + (low[2 * i]! - originLow)) / scale : NaN;
    }
  }
  return out;
}

const utf8 = new TextDecoder();

/** Whether bytes [from, to) are all ASCII. */
function ascii(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

function strings(table: Table, name: string): string[] {
  const out: string[] = [];
  for (const data of chunks(table, name)) {
    const valid = validity(data);
    if (data.dictionary) {
      const names = [...data.dictionary] as (string | null)[];
      const keys = data.values as Int8Array | Int32Array;
      for (let i = 0; i < data.length; i++) out.push(valid(i) ? names[keys[i]!] ?? "" : "");
      continue;
    }
    const offsets = data.valueOffsets as Int32Array;
    const bytes = data.values as Uint8Array;
    const first = offsets[0]!, end = offsets[data.length]!;
    if (ascii(bytes, first, end)) {
      // One decode for the chunk (addresses and history letters are ASCII: a byte is a character).
      const text = utf8.decode(bytes.subarray(first, end));
      for (let i = 0; i < data.length; i++) out.push(valid(i) ? text.slice(offsets[i]! - first, offsets[i + 1]! - first) : "");
    } else {
      for (let i = 0; i < data.length; i++) out.push(valid(i) ? utf8.decode(bytes.subarray(offsets[i]!, offsets[i + 1]!)) : "");
    }
  }
  return out;
}

function ports(table: Table, name: string): Uint16Array {
  const out = new Uint16Array(table.numRows);
  let at = 0;
  for (const data of chunks(table, name)) { out.set((data.values as Uint16Array).subarray(0, data.length), at); at += data.length; }
  return out;
}

function sum(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}

function earliest(table: Table): bigint {
  let min: bigint | undefined;
  for (const data of chunks(table, "ts")) {
    const values = data.values as BigInt64Array;
    const valid = validity(data);
    for (let i = 0; i < data.length; i++) if (valid(i) && (min === undefined || values[i]! < min)) min = values[i]!;
  }
  return min ?? 0n;
}

export function readConnections(table: Table): Connections {
  const originNs = earliest(table);
  const time = (name: string) => numbers(table, name, NS_PER_MS, originNs);
  const count = (name: string) => numbers(table, name);
  const connId = count("conn_id");
  return {
    table, rows: table.numRows, originNs, connId,
    tsMs: time("ts"), lastMs: time("last_ts"), synMs: time("syn_ts"), establishedMs: time("established_ts"),
    origFinMs: time("orig_fin_ts"), respFinMs: time("resp_fin_ts"), rstMs: time("rst_ts"), closedMs: time("closed_ts"),
    durationS: count("duration"),
    rttSynSynackMs: numbers(table, "rtt_syn_synack", NS_PER_MS), rttSynackAckMs: numbers(table, "rtt_synack_ack", NS_PER_MS),
    origBytes: count("orig_bytes"), respBytes: count("resp_bytes"), origPkts: count("orig_pkts"), respPkts: count("resp_pkts"),
    retransmits: sum(count("orig_retransmits"), count("resp_retransmits")),
    zeroWindows: sum(count("orig_zero_windows"), count("resp_zero_windows")),
    origP: ports(table, "orig_p"), respP: ports(table, "resp_p"),
    origH: strings(table, "orig_h"), respH: strings(table, "resp_h"),
    connState: strings(table, "conn_state"), history: strings(table, "history"),
    origState: strings(table, "orig_state"), respState: strings(table, "resp_state"), endReason: strings(table, "end_reason"),
    synRetransmitsMs: new Map(),
  };
}

/** Counts of each conn_state, most frequent first. */
export function stateCounts(conns: Connections): [string, number][] {
  const counts = new Map<string, number>();
  for (const s of conns.connState) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export interface Filter {
  /** A conn_state, or "" for all. */
  state: string;
  /** Part of either address, or "". */
  address: string;
  /** Either port, or null. */
  port: number | null;
}

export interface Sort {
  key: (row: number) => number | string;
  descending: boolean;
}

/** The rows that pass `filter`, in `sort` order (input order when none). */
export function selectRows(conns: Connections, filter: Filter, sort: Sort | null): Uint32Array {
  const picked: number[] = [];
  const address = filter.address.trim().toLowerCase();
  for (let row = 0; row < conns.rows; row++) {
    if (filter.state && conns.connState[row] !== filter.state) continue;
    if (filter.port !== null && conns.origP[row] !== filter.port && conns.respP[row] !== filter.port) continue;
    if (address && !conns.origH[row]!.toLowerCase().includes(address) && !conns.respH[row]!.toLowerCase().includes(address)) continue;
    picked.push(row);
  }
  const rows = Uint32Array.from(picked);
  if (!sort) return rows;
  const keys = picked.map(sort.key);
  const order = picked.map((_, i) => i);
  const sign = sort.descending ? -1 : 1;
  order.sort((a, b) => {
    const x = keys[a]!, y = keys[b]!;
    // NaN (null) sorts last either way.
    if (typeof x === "number" && typeof y === "number" && (Number.isNaN(x) || Number.isNaN(y))) {
      return Number.isNaN(x) ? (Number.isNaN(y) ? a - b : 1) : -1;
    }
    return (x < y ? -sign : x > y ? sign : 0) || a - b;
  });
  return Uint32Array.from(order, (i) => picked[i]!);
}
