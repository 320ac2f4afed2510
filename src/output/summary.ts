// The CLI's default output: a readable summary of a capture's connections, built incrementally
// from batches so it never holds the whole table.

import type { RecordBatch } from "apache-arrow";
import { batchReaders, type Cell } from "./format.js";
import { COLUMNS } from "./schema.js";
import type { Stats } from "../public.js";

interface Ranked { value: number; label: string; state: string; history: string }

const TOP = 5;
const col = (name: string) => COLUMNS.findIndex((c) => c.name === name);
const C = {
  state: col("conn_state"), history: col("history"), end: col("end_reason"), closer: col("closer"),
  origH: col("orig_h"), origP: col("orig_p"), respH: col("resp_h"), respP: col("resp_p"),
  duration: col("duration"), rtt1: col("rtt_syn_synack"), rtt2: col("rtt_synack_ack"),
};

export class Summary {
  private readonly states = new Map<string, number>();
  private readonly closes = new Map<string, number>();
  private longest: Ranked[] = [];
  private slowest: Ranked[] = [];
  private rows = 0;

  add(batch: RecordBatch): void {
    const r = batchReaders(batch);
    for (let row = 0; row < batch.numRows; row++) {
      this.rows++;
      const state = String(r[C.state]!(row));
      bump(this.states, state);
      const closer = r[C.closer]!(row);
      bump(this.closes, `${r[C.end]!(row)}${closer ? ` by ${closer}` : ""}`);
      const label = `${endpoint(r[C.origH]!(row), r[C.origP]!(row))} → ${endpoint(r[C.respH]!(row), r[C.respP]!(row))}`;
      const history = String(r[C.history]!(row) ?? "");
      this.longest = keepTop(this.longest, { value: Number(r[C.duration]!(row)), label, state, history });
      const rtt1 = r[C.rtt1]!(row), rtt2 = r[C.rtt2]!(row);
      if (typeof rtt1 === "number" && typeof rtt2 === "number") {
        this.slowest = keepTop(this.slowest, { value: rtt1 + rtt2, label, state, history });
      }
    }
  }

  render(file: string, stats: Stats, seconds: number): string {
    const lines: string[] = [];
    const mb = (stats.bytes / 1e6).toFixed(1);
    lines.push(`${file}: ${counted(this.rows, "TCP connection")} from ${counted(stats.records, "packet")} (${mb} MB) in ${seconds.toFixed(2)} s`);
    lines.push("");
    lines.push(table(["conn_state", "connections"], sorted(this.states)));
    lines.push("");
    lines.push(table(["how it ended", "connections"], sorted(this.closes)));
    if (this.longest.length) {
      lines.push("", "Longest connections");
      lines.push(table(["connection", "duration s", "state", "history"], this.longest.map((x) => [x.label, x.value.toFixed(6), x.state, x.history])));
    }
    if (this.slowest.length) {
      lines.push("", "Slowest handshakes (SYN → SYN-ACK → ACK at the capture point)");
      lines.push(table(["connection", "handshake ms", "state", "history"], this.slowest.map((x) => [x.label, (x.value * 1e3).toFixed(3), x.state, x.history])));
    }
    return lines.join("\n");
  }
}

function endpoint(host: Cell, port: Cell): string {
  return String(host).includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function sorted(map: Map<string, number>): string[][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, v]) => [k, String(v)]);
}

function keepTop(list: Ranked[], item: Ranked): Ranked[] {
  if (list.length >= TOP && item.value <= list[list.length - 1]!.value) return list;
  return [...list, item].sort((a, b) => b.value - a.value).slice(0, TOP);
}

/** A plain-text table: left-aligned first column, right-aligned numbers. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** "1 packet", "2 packets". */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
