// Zeek's conn.log as TSV (Zeek's ASCII writer): the #separator/#fields/#types header, one line a
// connection, #close at the end, so that zeek-cut and Zeek log tooling read our rows. Fields
// synfin cannot know are unset ("-"): service (no protocol analysers), local_orig/local_resp (no
// Site::local_nets), tunnel_parents (the tunnel is a column of ours, not a parent connection).
// The events and packets tables are written the same way, with our column names (paths
// synfin_events and synfin_packets).

import type { RecordBatch } from "apache-arrow";
import { batchReaders, type Cell } from "./format.js";
import { COLUMNS, EVENT_COLUMNS, PACKET_COLUMNS, type ColumnDef } from "./schema.js";

const UNSET = "-";
const EMPTY = "(empty)";

/** conn.log's fields in Zeek 7's order, with their Zeek types. */
const CONN_FIELDS: ReadonlyArray<[string, string]> = [
  ["ts", "time"], ["uid", "string"], ["id.orig_h", "addr"], ["id.orig_p", "port"], ["id.resp_h", "addr"],
  ["id.resp_p", "port"], ["proto", "enum"], ["service", "string"], ["duration", "interval"],
  ["orig_bytes", "count"], ["resp_bytes", "count"], ["conn_state", "string"], ["local_orig", "bool"],
  ["local_resp", "bool"], ["missed_bytes", "count"], ["history", "string"], ["orig_pkts", "count"],
  ["orig_ip_bytes", "count"], ["resp_pkts", "count"], ["resp_ip_bytes", "count"],
  ["tunnel_parents", "set[string]"], ["ip_proto", "count"],
];

/**
 * With the VLAN-aware key: conn_id's context fields, after id.resp_p (Zeek's
 * policy/frameworks/conn_key/vlan_fivetuple.zeek), unset for a tag that is absent or 0.
 */
const VLAN_CTX_FIELDS: ReadonlyArray<[string, string]> = [["id.ctx.vlan", "int"], ["id.ctx.inner_vlan", "int"]];

const TCP = 6;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * A Zeek-style uid ("C" and 17 base-62 digits), the same in every run for the same connection:
 * a 64-bit mix of its conn_id and first-packet time. Zeek's own uids are random.
 */
export function zeekUid(connId: bigint, tsNs: bigint): string {
  let n = (mix64(connId ^ 0x9e3779b97f4a7c15n) << 64n) | mix64(tsNs ^ mix64(connId));
  let s = "";
  for (let i = 0; i < 17; i++) {
    s += BASE62[Number(n % 62n)];
    n /= 62n;
  }
  return `C${s}`;
}

/** murmur3's 64-bit finaliser. */
function mix64(x: bigint): bigint {
  let k = x & MASK64;
  k = ((k ^ (k >> 33n)) * 0xff51afd7ed558ccdn) & MASK64;
  k = ((k ^ (k >> 33n)) * 0xc4ceb9fe1a85ec53n) & MASK64;
  return k ^ (k >> 33n);
}

const MASK64 = 0xffffffffffffffffn;

/** Zeek's `time`: seconds since the epoch with six decimals (ns rounded to the nearest µs). */
export function zeekTime(ns: bigint): string {
  const us = (ns + 500n) / 1000n;
  return `${us / 1_000_000n}.${(us % 1_000_000n).toString().padStart(6, "0")}`;
}

/** Zeek's `%Y-%m-%d-%H-%M-%S` for #open and #close. */
function zeekDate(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19).replace(/[T:]/g, "-");
}

/** A string field: Zeek escapes the separator and non-printable bytes as \xHH; "" is (empty). */
function zeekString(s: string): string {
  if (s === "") return EMPTY;
  return s.replace(/[\x00-\x20\x7f-\uffff\\]/g, (c) => (c === " " ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

function header(path: string, fields: readonly string[], types: readonly string[], openNs: bigint): string {
  return [
    "#separator \\x09", "#set_separator\t,", `#empty_field\t${EMPTY}`, `#unset_field\t${UNSET}`,
    `#path\t${path}`, `#open\t${zeekDate(openNs)}`, `#fields\t${fields.join("\t")}`, `#types\t${types.join("\t")}`,
  ].join("\n") + "\n";
}

/** Text of a cell in a column of our own (events, packets): numbers as they are, times as Zeek times. */
function ownCell(v: Cell, isTime: boolean, tsNs: bigint | null, isInterval = false): string {
  if (v === null) return UNSET;
  if (isTime && tsNs !== null) return zeekTime(tsNs);
  if (isInterval && typeof v === "number") return v.toFixed(6);
  return typeof v === "string" ? zeekString(v) : typeof v === "boolean" ? (v ? "T" : "F") : String(v);
}

const TIME_KINDS = new Set(["timestamp"]);

/** The Zeek type of a column of our own. */
function zeekType(c: ColumnDef): string {
  const kind = c.source.kind;
  if (TIME_KINDS.has(kind)) return "time";
  if (kind === "duration") return "interval";
  if (kind === "enum" || kind === "sack") return "string";
  if (kind === "flag" || kind === "bool") return "bool";
  return "count";
}

/** The tables a ZeekLog writes. */
export type ZeekTable = "conn" | "events" | "packets";

/**
 * Writes a table as one Zeek log: `lines(batch)` for each batch, `close()` at the end. The header
 * is written with the first line, dated by the first row's time (or the epoch for an empty log),
 * so the output is the same in every run.
 */
export class ZeekLog {
  private opened = false;
  private lastNs = 0n;
  private readonly connFields: ReadonlyArray<[string, string]>;
  /** `vlanContext`: the connections were keyed with their VLAN tags (connKey "vlan"). */
  constructor(private readonly table: ZeekTable, private readonly vlanContext = false) {
    const at = CONN_FIELDS.findIndex(([name]) => name === "id.resp_p") + 1;
    this.connFields = vlanContext ? [...CONN_FIELDS.slice(0, at), ...VLAN_CTX_FIELDS, ...CONN_FIELDS.slice(at)] : CONN_FIELDS;
  }

  private get columns() { return this.table === "conn" ? COLUMNS : this.table === "events" ? EVENT_COLUMNS : PACKET_COLUMNS; }

  private open(firstNs: bigint): string {
    this.opened = true;
    if (this.table === "conn") return header("conn", this.connFields.map((f) => f[0]), this.connFields.map((f) => f[1]), firstNs);
    return header(`synfin_${this.table}`, this.columns.map((c) => c.name), this.columns.map(zeekType), firstNs);
  }

  lines(batch: RecordBatch): string {
    if (batch.numRows === 0) return "";
    const readers = batchReaders(batch);
    const index = new Map(this.columns.map((c, i) => [c.name, i]));
    // The 64-bit columns as stored (a batch's columns are one chunk each).
    const int64 = (i: number) => batch.getChildAt(i)!.data[0]!.values as BigInt64Array | BigUint64Array;
    const valid = (i: number, row: number) => batch.getChildAt(i)!.data[0]!.getValid(row);
    const ts = int64(index.get("ts")!);
    let text = this.opened ? "" : this.open(ts[0]!);
    for (let row = 0; row < batch.numRows; row++) {
      const tsNs = ts[row]!;
      const cell = (name: string) => readers[index.get(name)!]!(row);
      if (this.table === "conn") {
        const lastNs = int64(index.get("last_ts")!)[row]!;
        if (lastNs > this.lastNs) this.lastNs = lastNs;
        text += this.connLine(cell, tsNs, int64(index.get("conn_id")!)[row]!) + "\n";
      } else {
        if (tsNs > this.lastNs) this.lastNs = tsNs;
        text += this.columns.map((c, i) => {
          const isTime = TIME_KINDS.has(c.source.kind) && valid(i, row);
          return ownCell(readers[i]!(row), isTime, isTime ? int64(i)[row]! : null, c.source.kind === "duration");
        }).join("\t") + "\n";
      }
    }
    return text;
  }

  private connLine(cell: (name: string) => Cell, tsNs: bigint, connId: bigint): string {
    const num = (name: string) => { const v = cell(name); return v === null ? UNSET : String(v); };
    const duration = cell("duration") as number | null;
    const history = cell("history");
    // Conn::set_conn (base/protocols/conn/main.zeek) sets duration, orig_bytes and resp_bytes only
    // when `c$duration > 0secs`, and history only when it is not "": otherwise they are unset.
    const lasted = duration !== null && duration > 0;
    const tag = (name: string) => { const v = cell(name); return v === null || v === 0 ? UNSET : String(v); };
    return [
      zeekTime(tsNs), zeekUid(connId, tsNs), String(cell("orig_h")), num("orig_p"), String(cell("resp_h")), num("resp_p"),
      ...(this.vlanContext ? [tag("vlan"), tag("inner_vlan")] : []),
      "tcp", UNSET, lasted ? duration.toFixed(6) : UNSET, lasted ? num("orig_bytes") : UNSET, lasted ? num("resp_bytes") : UNSET,
      String(cell("conn_state")), UNSET, UNSET, num("missed_bytes"), history === null || history === "" ? UNSET : zeekString(String(history)),
      num("orig_pkts"), num("orig_ip_bytes"), num("resp_pkts"), num("resp_ip_bytes"), UNSET, String(TCP),
    ].join("\t");
  }

  /** The header of an empty log if nothing was written, and the #close line. */
  close(): string {
    const head = this.opened ? "" : this.open(0n);
    return `${head}#close\t${zeekDate(this.lastNs)}\n`;
  }
}
