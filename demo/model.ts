// The page's view of a finished run: the Arrow table's columns as flat typed arrays (times in ms
// since the first packet, NaN for null), read once, plus the filter and sort that pick the rows
// every view shows.

import type { Data, Table } from "apache-arrow";
import type { SynRetransmits } from "./protocol.js";

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
  /** Row → times (ms) of its originator's SYN retransmissions. */
  synRetransmitsMs: Map<number, number[]>;
}

const NS_PER_MS = 1e6;

/** Each chunk's Data of a column, in order. */
function chunks(table: Table, name: string): readonly Data[] {
  return table.getChild(name)?.data ?? [];
}

/** A 64-bit or floating column as numbers, `scale`d, NaN for null; `originNs` shifts timestamps. */
function numbers(table: Table, name: string, scale = 1, originNs = 0n): Float64Array {
  const out = new Float64Array(table.numRows);
  let at = 0;
  for (const data of chunks(table, name)) {
    const values = data.values as BigInt64Array | BigUint64Array | Float64Array;
    for (let i = 0; i < data.length; i++, at++) {
      if (!data.getValid(i)) { out[at] = NaN; continue; }
      const v = values[i]!;
      out[at] = typeof v === "bigint" ? Number(v - originNs) / scale : v / scale;
    }
  }
  return out;
}

function strings(table: Table, name: string): string[] {
  const out: string[] = [];
  for (const data of chunks(table, name)) {
    if (data.dictionary) {
      const names = [...data.dictionary] as (string | null)[];
      const keys = data.values as Int8Array | Int32Array;
      for (let i = 0; i < data.length; i++) out.push(data.getValid(i) ? names[keys[i]!] ?? "" : "");
    } else {
      const vector = table.getChild(name)!;
      const first = out.length;
      for (let i = 0; i < data.length; i++) out.push(vector.get(first + i) ?? "");
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
    for (let i = 0; i < data.length; i++) if (data.getValid(i) && (min === undefined || values[i]! < min)) min = values[i]!;
  }
  return min ?? 0n;
}

export function readConnections(table: Table, syn: SynRetransmits): Connections {
  const originNs = earliest(table);
  const time = (name: string) => numbers(table, name, NS_PER_MS, originNs);
  const count = (name: string) => numbers(table, name);
  const connId = count("conn_id");
  const rowOf = new Map<number, number>();
  connId.forEach((id, row) => rowOf.set(id, row));
  const synRetransmitsMs = new Map<number, number[]>();
  syn.connIds.forEach((id, i) => {
    const row = rowOf.get(id);
    if (row === undefined) return;
    const list = synRetransmitsMs.get(row) ?? [];
    list.push(Number(syn.tsNs[i]! - originNs) / NS_PER_MS);
    synRetransmitsMs.set(row, list);
  });
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
    synRetransmitsMs,
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
