// What a run's output must satisfy, beyond not throwing: the row and event invariants of the
// docs/columns.md (Columns and Events), and a digest of the rows for comparing runs.

import { replayEvents } from "../dist/output/replay.js";

/** What a run found; `signature` de-duplicates findings (kind and where). */
export class Finding extends Error {
  constructor(kind, message, signature, cause) {
    super(`${kind}: ${message}`, { cause });
    this.kind = kind;
    this.signature = `${kind} ${signature}`;
    this.config = null; // set by Target.run: the config of the run that failed
  }
}

/** FNV-1a over every value of every row, and of every event, independent of how they fall into batches. */
export class Digest {
  constructor() { this.h = { rows: 0x811c9dc5, events: 0x811c9dc5 }; }
  rows(batch) { this.table("rows", batch); }
  events(batch) { this.table("events", batch); }
  table(key, batch) {
    checkBatch(batch);
    const columns = batch.schema.fields.map((_, i) => batch.getChildAt(i));
    let h = this.h[key];
    for (let r = 0; r < batch.numRows; r++) {
      for (const column of columns) {
        const s = `${String(column.get(r))}|`;
        for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
      }
    }
    this.h[key] = h;
  }
  value() {
    const hex = (h) => (h >>> 0).toString(16).padStart(8, "0");
    return { rows: hex(this.h.rows), events: hex(this.h.events) };
  }
}

/** History letters (Zeek's; lower case for the responder), the role-flip caret, and 'X' (past Zeek's limit of tunnel changes), at most once. */
const HISTORY = /^[\^SHFRIQDATWCGshfriqdatwcg]*X?[\^SHFRIQDATWCGshfriqdatwcg]*$/;

/** What docs/columns.md promises of a run's rows and events, checked over the whole run. */
export class RowCheck {
  constructor() {
    this.firstPacket = new Map(); // conn_id → first_packet
    this.pkts = 0;
    this.evicted = 0;
    this.eventsOf = new Map(); // conn_id → its events
    this.expected = new Map(); // conn_id → what its events must replay to
    this.lastEventPacket = -1;
    this.segmentsOf = new Map(); // conn_id → { packets rows, their analysis flags added up }
    this.segmentTotals = new Map(); // conn_id → the same, from its row
    this.lastSegmentPacket = -1;
  }

  rows(batch) {
    const col = (name) => batch.getChild(name);
    const times = REPLAYED_TIMES.map((name) => [name, col(name).data[0]]);
    const [origState, respState] = [col("orig_state"), col("resp_state")];
    const [connId, firstPacket, origPkts, respPkts] = ["conn_id", "first_packet", "orig_pkts", "resp_pkts"].map((n) => col(n).toArray());
    const [endReason, history, ipVersion, completeness, vlan] = ["end_reason", "history", "ip_version", "completeness", "vlan"].map(col);
    const rtts = ["orig", "resp"].map((side) => ["min", "avg", "max"].map((k) => col(`${side}_rtt_${k}`)));
    const totals = SEGMENT_TOTALS.map(([, total]) => [col(`orig_${total}`).toArray(), col(`resp_${total}`).toArray()]);
    // With packetStats: each side's mean size times its packets is its IP bytes, min ≤ mean ≤ max.
    const sizes = col("orig_size_mean") ? ["orig", "resp"].map((side) => ["pkts", "ip_bytes", "size_mean", "size_min", "size_max"].map((k) => col(`${side}_${k}`))) : [];
    for (let r = 0; r < batch.numRows; r++) {
      const id = Number(connId[r]);
      const bad = (what) => new Finding("output", `row ${id}: ${what}`, what.replace(/[\d"]+/g, "").trim());
      if (this.firstPacket.has(id)) throw bad("conn_id appears twice");
      this.firstPacket.set(id, Number(firstPacket[r]));
      this.pkts += Number(origPkts[r]) + Number(respPkts[r]);
      this.segmentTotals.set(id, [Number(origPkts[r]) + Number(respPkts[r]), ...totals.map(([o, s]) => Number(o[r]) + Number(s[r]))]);
      if (endReason.get(r) === "evicted") this.evicted++;
      const h = history.get(r) ?? "";
      const replayed = Object.fromEntries(times.map(([name, data]) => [name, data.getValid(r) ? data.values[r] : null]));
      replayed.orig_state = origState.get(r);
      replayed.resp_state = respState.get(r);
      replayed.flips = h.split("^").length - 1;
      replayed.end = endReason.get(r) === "fin" || endReason.get(r) === "rst" ? "closed" : endReason.get(r);
      this.expected.set(id, replayed);
      if (!HISTORY.test(h)) throw bad(`history "${h}" has letters Zeek does not use`);
      if (ipVersion.get(r) !== 4 && ipVersion.get(r) !== 6) throw bad(`ip_version ${ipVersion.get(r)}`);
      if (completeness.get(r) > 63) throw bad(`completeness ${completeness.get(r)}`);
      if ((vlan.get(r) ?? 0) > 4095) throw bad(`vlan ${vlan.get(r)}`);
      for (const [pkts, ipBytes, mean, min, max] of sizes) {
        const n = Number(pkts.get(r)), m = mean.get(r);
        if (n === 0 ? m !== null : !(Math.abs(m * n - Number(ipBytes.get(r))) <= 1e-6 * Number(ipBytes.get(r)) && min.get(r) <= m + 1e-9 && m <= max.get(r) + 1e-9)) {
          throw bad(`size mean ${m} of ${n} packets, ${ipBytes.get(r)} IP bytes, min ${min.get(r)} max ${max.get(r)}`);
        }
      }
      for (const [min, avg, max] of rtts) {
        const [a, b, c] = [min.get(r), avg.get(r), max.get(r)];
        if (a !== null && !(a <= b && b <= c)) throw bad(`rtt min ${a} avg ${b} max ${c} out of order`);
      }
    }
  }

  events(batch) {
    const connId = batch.getChild("conn_id").toArray(), packet = batch.getChild("packet").toArray();
    const ts = batch.getChild("ts").data[0];
    const [event, direction, origState, respState] = ["event", "direction", "orig_state", "resp_state"].map((n) => batch.getChild(n));
    for (let r = 0; r < batch.numRows; r++) {
      const id = Number(connId[r]);
      this.lastEventPacket = Math.max(this.lastEventPacket, Number(packet[r]));
      const e = { event: event.get(r), direction: direction.get(r), ts: ts.getValid(r) ? ts.values[r] : null, orig_state: origState.get(r), resp_state: respState.get(r) };
      const list = this.eventsOf.get(id);
      if (list) list.push(e);
      else this.eventsOf.set(id, [e]);
    }
  }

  /** Packets rows: in capture order, of existing rows (checked at finish), counted per connection. */
  packets(batch) {
    checkBatch(batch);
    const connId = batch.getChild("conn_id").toArray(), packet = batch.getChild("packet").toArray();
    const flags = SEGMENT_TOTALS.map(([flag]) => batch.getChild(flag));
    for (let r = 0; r < batch.numRows; r++) {
      const at = Number(packet[r]);
      if (at <= this.lastSegmentPacket) throw new Finding("output", `a packets row of packet ${at} after one of packet ${this.lastSegmentPacket}`, "packets order");
      this.lastSegmentPacket = at;
      const id = Number(connId[r]);
      let sums = this.segmentsOf.get(id);
      if (!sums) this.segmentsOf.set(id, (sums = new Array(1 + flags.length).fill(0)));
      sums[0]++;
      flags.forEach((f, i) => { if (f.get(r)) sums[1 + i]++; });
    }
  }

  finish(stats, rows, events, packets) {
    const bad = (what, where) => new Finding("output", what, where);
    for (let id = 0; id < rows; id++) if (!this.firstPacket.has(id)) throw bad(`conn_id ${id} missing: ${rows} rows should number 0 to ${rows - 1}`, "conn_id missing");
    for (let id = 1; id < rows; id++) {
      if (this.firstPacket.get(id) <= this.firstPacket.get(id - 1)) throw bad(`conn_id ${id} has first_packet ${this.firstPacket.get(id)}, not after conn_id ${id - 1}'s ${this.firstPacket.get(id - 1)}`, "first_packet order");
    }
    if (rows > 0 && this.firstPacket.get(rows - 1) >= stats.records) throw bad(`first_packet ${this.firstPacket.get(rows - 1)} of ${stats.records} records`, "first_packet range");
    if (this.pkts > stats.records) throw bad(`rows count ${this.pkts} packets of ${stats.records} records`, "pkts");
    if (events) this.replayEvents(stats);
    if (packets) this.addUpPackets(stats);
    if (this.evicted !== stats.evicted) throw bad(`${this.evicted} rows with end_reason evicted, but stats.evicted ${stats.evicted}`, "evicted");
  }

  /** Each connection's packets rows are its packets, and their flags add up to its analysis totals. */
  addUpPackets(stats) {
    const bad = (what, where) => new Finding("output", what, where);
    for (const id of this.segmentsOf.keys()) if (!this.firstPacket.has(id)) throw bad(`packets rows of conn_id ${id}, which has no row`, "packets conn_id");
    if (this.lastSegmentPacket >= stats.records) throw bad(`a packets row of packet ${this.lastSegmentPacket} of ${stats.records} records`, "packets packet");
    for (const [id, want] of this.segmentTotals) {
      const got = this.segmentsOf.get(id) ?? want.map(() => 0);
      want.forEach((w, i) => {
        const what = i === 0 ? "packets" : SEGMENT_TOTALS[i - 1][0];
        if (got[i] !== w) throw bad(`conn_id ${id}: ${got[i]} packets rows ${i === 0 ? "" : `with ${what} `}against ${w} in its row`, `packets ${what}`);
      });
    }
  }

  replayEvents(stats) {
    const bad = (what, where) => new Finding("output", what, where);
    for (const id of this.eventsOf.keys()) if (!this.firstPacket.has(id)) throw bad(`an event of conn_id ${id}, which has no row`, "event conn_id");
    if (this.lastEventPacket >= stats.records) throw bad(`an event at packet ${this.lastEventPacket} of ${stats.records} records`, "event packet");
    for (const [id, want] of this.expected) {
      const got = replayEvents(this.eventsOf.get(id) ?? []);
      for (const key of Object.keys(want)) {
        if (got[key] !== want[key]) throw new Finding("replay", `conn_id ${id}: its events replay ${key} ${got[key]}, its row has ${want[key]}`, key);
      }
    }
  }
}

/** A packets-table flag and the row total it adds up to (both directions). */
const SEGMENT_TOTALS = [
  ["retransmission", "retransmits"], ["fast_retransmission", "fast_retransmits"], ["spurious_retransmission", "spurious_retransmits"],
  ["out_of_order", "out_of_order"], ["lost_segment", "lost_segments"], ["ack_lost_segment", "ack_lost_segments"],
  ["duplicate_ack", "dup_acks"], ["zero_window", "zero_windows"], ["zero_window_probe", "zero_window_probes"],
  ["window_full", "window_full"], ["keep_alive", "keepalives"],
];

const REPLAYED_TIMES = ["syn_ts", "synack_ts", "established_ts", "orig_first_data_ts", "resp_first_data_ts", "orig_fin_ts", "resp_fin_ts", "rst_ts", "closed_ts"];
/** Columns the core writes must decode: enum and dictionary codes within their dictionary. */
function checkBatch(batch) {
  batch.schema.fields.forEach((field, i) => {
    const data = batch.getChildAt(i).data[0];
    if (!data.dictionary) return;
    const size = data.dictionary.length;
    for (let r = 0; r < data.length; r++) {
      const code = data.values[r];
      if (data.getValid(r) && (code < 0 || code >= size)) {
        throw new Finding("output", `column ${field.name} row ${r} has code ${code}, outside its dictionary of ${size}`, field.name);
      }
    }
  });
}
