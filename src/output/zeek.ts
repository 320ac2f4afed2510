// Zeek's conn.log as TSV (Zeek's ASCII writer): the #separator/#fields/#types header, one line a
// connection, #close at the end, so that zeek-cut and Zeek log tooling read our rows. Fields
// synfin cannot know are unset ("-"): service (no protocol analysers), local_orig/local_resp (no
// Site::local_nets), tunnel_parents (the tunnel is a column of ours, not a parent connection).
// The events and packets tables are written the same way, with our column names (paths
// synfin_events and synfin_packets).

import type { RecordBatch } from "apache-arrow";
import { batchReaders, halvesOf, sixDigits, splitTime, type Cell } from "./format.js";
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

// A Zeek-style uid ("C" and 17 base-62 digits) is the same in every run for the same connection:
// a 64-bit mix of its conn_id and first-packet time (Zeek's own uids are random). Computed on
// (high, low) halves of unsigned 32 bits, without BigInts (a BigInt uid took about 2 µs a row).
// mixed[0], mixed[1]: the halves of the last mix64.
const mixed = new Uint32Array(2);

/** The low 64 bits of (ah·2³² + al)·(bh·2³² + bl), into `mixed`. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a1 = al >>> 16, a0 = al & 0xffff, b1 = bl >>> 16, b0 = bl & 0xffff;
  const t = a0 * b0, m1 = a1 * b0, m2 = a0 * b1;
  const mid = (t >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
  const carry = a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + (mid >>> 16);
  mixed[0] = carry + Math.imul(ah, bl) + Math.imul(al, bh);
  mixed[1] = Math.imul(al, bl);
}

/** murmur3's 64-bit finaliser of (hi, lo), into `mixed`. */
function mix64(hi: number, lo: number): void {
  lo = (lo ^ (hi >>> 1)) >>> 0;
  mul64(hi, lo, 0xff51afd7, 0xed558ccd);
  hi = mixed[0]!; lo = (mixed[1]! ^ (hi >>> 1)) >>> 0;
  mul64(hi, lo, 0xc4ceb9fe, 0x1a85ec53);
  hi = mixed[0]!; lo = (mixed[1]! ^ (hi >>> 1)) >>> 0;
  mixed[0] = hi;
  mixed[1] = lo;
}

/** The uid of conn_id (idHi, idLo) and first-packet time (tsHi, tsLo), 64-bit two's complement halves. */
export function uidOfHalves(idHi: number, idLo: number, tsHi: number, tsLo: number): string {
  // n = mix64(connId ^ 0x9e3779b97f4a7c15) · 2⁶⁴ + mix64(tsNs ^ mix64(connId)), as four limbs.
  mix64(idHi, idLo);
  const cHi = mixed[0]!, cLo = mixed[1]!;
  mix64((tsHi ^ cHi) >>> 0, (tsLo ^ cLo) >>> 0);
  const limbs = [0, 0, mixed[0]!, mixed[1]!];
  mix64((idHi ^ 0x9e3779b9) >>> 0, (idLo ^ 0x7f4a7c15) >>> 0);
  limbs[0] = mixed[0]!;
  limbs[1] = mixed[1]!;
  let s = "C";
  for (let i = 0; i < 17; i++) {
    // n mod 62 and n / 62, limb by limb from the top (each step exact in a double: below 62·2³²).
    let rest = 0;
    for (let k = 0; k < 4; k++) {
      const cur = rest * 4294967296 + limbs[k]!;
      const q = Math.floor(cur / 62);
      rest = cur - q * 62;
      limbs[k] = q;
    }
    s += BASE62[rest];
  }
  return s;
}

/**
 * Zeek's `time` of the i64 whose halves are hi (signed) and lo (unsigned): seconds since the
 * epoch with six decimals, the nanoseconds rounded to the nearest microsecond.
 */
export function zeekTimeOfHalves(hi: number, lo: number): string {
  if (hi < 0) {
    // Before 1970: BigInt division truncates toward zero, as it did.
    const us = (((BigInt(hi) << 32n) | BigInt(lo)) + 500n) / 1000n;
    return `${us / 1_000_000n}.${(us % 1_000_000n).toString().padStart(6, "0")}`;
  }
  const { seconds, nanos } = splitTime(hi, lo);
  const us = Math.floor((nanos + 500) / 1000);
  return us === 1_000_000 ? `${seconds + 1}.000000` : `${seconds}.${sixDigits(us)}`;
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

/** Whether the i64 at row `a` of `words` (32-bit halves) is later than the one at row `b`. */
function laterThan(words: Int32Array, a: number, b: number): boolean {
  const ha = words[2 * a + 1]!, hb = words[2 * b + 1]!;
  return ha > hb || (ha === hb && words[2 * a]! >>> 0 > words[2 * b]! >>> 0);
}

/** Text of a cell in a column of our own (events, packets) but a time: numbers as they are. */
function ownCell(v: Cell, isInterval: boolean): string {
  if (v === null) return UNSET;
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
    // The 64-bit columns as stored (a batch's columns are one chunk each), as 32-bit halves.
    const halves = (i: number) => halvesOf(batch.getChildAt(i)!.data[0]!.values as BigInt64Array | BigUint64Array);
    const ts = halves(index.get("ts")!);
    let text = this.opened ? "" : this.open(BigInt.asIntN(64, (BigInt(ts[1]!) << 32n) | BigInt(ts[0]! >>> 0)));
    // The latest time (last_ts of a connection, ts of an event or packet), for #close.
    const last = this.table === "conn" ? halves(index.get("last_ts")!) : ts;
    let latest = -1;
    for (let row = 0; row < batch.numRows; row++) if (latest < 0 || laterThan(last, row, latest)) latest = row;
    const latestNs = BigInt.asIntN(64, (BigInt(last[2 * latest + 1]!) << 32n) | BigInt(last[2 * latest]! >>> 0));
    if (latestNs > this.lastNs) this.lastNs = latestNs;
    if (this.table === "conn") {
      const line = this.connLine(readers, index, ts, halves(index.get("conn_id")!));
      for (let row = 0; row < batch.numRows; row++) text += line(row) + "\n";
      return text;
    }
    const cells = this.columns.map((c, i) => {
      const read = readers[i]!;
      if (TIME_KINDS.has(c.source.kind)) {
        const words = halves(i);
        return (row: number) => (read(row) === null ? UNSET : zeekTimeOfHalves(words[2 * row + 1]!, words[2 * row]! >>> 0));
      }
      const isInterval = c.source.kind === "duration";
      return (row: number) => ownCell(read(row), isInterval);
    });
    const line: string[] = new Array(cells.length);
    for (let row = 0; row < batch.numRows; row++) {
      for (let c = 0; c < cells.length; c++) line[c] = cells[c]!(row);
      text += line.join("\t") + "\n";
    }
    return text;
  }

  /** The conn.log line of a row of the connection table. */
  private connLine(readers: Array<(row: number) => Cell>, index: Map<string, number>, ts: Int32Array, connId: Int32Array): (row: number) => string {
    const cell = (name: string) => readers[index.get(name)!]!;
    const num = (name: string) => { const read = cell(name); return (row: number) => { const v = read(row); return v === null ? UNSET : String(v); }; };
    const tag = (name: string) => { const read = cell(name); return (row: number) => { const v = read(row); return v === null || v === 0 ? UNSET : String(v); }; };
    const [origH, respH, state, history, duration] = ["orig_h", "resp_h", "conn_state", "history", "duration"].map(cell) as Array<(row: number) => Cell>;
    const [origP, respP, origBytes, respBytes, missed, origPkts, origIpBytes, respPkts, respIpBytes] =
      ["orig_p", "resp_p", "orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"].map(num) as Array<(row: number) => string>;
    const [vlan, innerVlan] = [tag("vlan"), tag("inner_vlan")];
    const histories = new Map<string, string>();
    // The line's fields, joined: a flat string (a template of them would leave a rope per line).
    const fields: string[] = ["", "", "", "", "", "", ...(this.vlanContext ? ["", ""] : []), "tcp", UNSET, "", "", "", "", UNSET, UNSET, "", "", "", "", "", "", UNSET, String(TCP)];
    const at = this.vlanContext ? 8 : 6;
    return (row) => {
      const lasted = duration!(row) as number | null;
      // Conn::set_conn (base/protocols/conn/main.zeek) sets duration, orig_bytes and resp_bytes only
      // when `c$duration > 0secs`, and history only when it is not "": otherwise they are unset.
      const positive = lasted !== null && lasted > 0;
      const h = history!(row) as string | null;
      let historyText = UNSET;
      if (h !== null && h !== "") {
        historyText = histories.get(h) ?? zeekString(h);
        histories.set(h, historyText);
      }
      const tsHi = ts[2 * row + 1]!, tsLo = ts[2 * row]! >>> 0;
      fields[0] = zeekTimeOfHalves(tsHi, tsLo);
      fields[1] = uidOfHalves(connId[2 * row + 1]! >>> 0, connId[2 * row]! >>> 0, tsHi >>> 0, tsLo);
      fields[2] = String(origH!(row));
      fields[3] = origP!(row);
      fields[4] = String(respH!(row));
      fields[5] = respP!(row);
      if (this.vlanContext) {
        fields[6] = vlan(row);
        fields[7] = innerVlan(row);
      }
      fields[at + 2] = positive ? lasted.toFixed(6) : UNSET;
      fields[at + 3] = positive ? origBytes!(row) : UNSET;
      fields[at + 4] = positive ? respBytes!(row) : UNSET;
      fields[at + 5] = String(state!(row));
      fields[at + 8] = missed!(row);
      fields[at + 9] = historyText;
      fields[at + 10] = origPkts!(row);
      fields[at + 11] = origIpBytes!(row);
      fields[at + 12] = respPkts!(row);
      fields[at + 13] = respIpBytes!(row);
      return fields.join("\t");
    };
  }

  /** The header of an empty log if nothing was written, and the #close line. */
  close(): string {
    const head = this.opened ? "" : this.open(0n);
    return `${head}#close\t${zeekDate(this.lastNs)}\n`;
  }
}
