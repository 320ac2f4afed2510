// The demo page's model (demo/model.ts): the connection table's columns as flat arrays, read once
// when a run ends. Its 64-bit columns are read as 32-bit halves and its strings with one decode
// per chunk; every value must equal what Arrow's own accessors and BigInt arithmetic give.

import { describe, expect, it } from "vitest";
import { Table } from "apache-arrow";
import { readConnections } from "../demo/model.js";
import { analyze } from "../src/node.js";
import { SCHEMA } from "../src/output/schema.js";
import { synthPackets } from "../src/synth/synth.js";
import { pcapOf } from "./support/fixtures.js";

/** Column `name`'s stored values as numbers the plain way: BigInt difference from `originNs`, then `scale`; NaN for null. */
function expected(table: Table, name: string, scale: number, originNs = 0n): number[] {
  const vector = table.getChild(name)!;
  const raw = vector.data.flatMap((d) => [...(d.values as BigInt64Array | BigUint64Array | Float64Array).subarray(0, d.length)]);
  return raw.map((v, i) => (!vector.isValid(i) ? NaN : typeof v === "bigint" ? Number(v - originNs) / scale : v / scale));
}

describe("the demo page's model of a finished run", () => {
  it("equals the table's values, read with BigInt and Arrow's accessors, over several batches", async () => {
    const packets = [...synthPackets({ seed: 5, connections: 9000, snaplen: 96 })];
    const { table } = await analyze(pcapOf(packets, { snaplen: 96 }));
    expect(table.batches.length).toBeGreaterThan(1);
    const conns = readConnections(table);
    const origin = conns.originNs;
    const firstTimes = table.getChild("ts")!.data.flatMap((d) => [...(d.values as BigInt64Array).subarray(0, d.length)]);
    expect(origin).toBe(firstTimes.reduce((a, b) => (b < a ? b : a)));
    const times = { tsMs: "ts", lastMs: "last_ts", synMs: "syn_ts", establishedMs: "established_ts", origFinMs: "orig_fin_ts", respFinMs: "resp_fin_ts", rstMs: "rst_ts", closedMs: "closed_ts" } as const;
    for (const [field, column] of Object.entries(times)) expect([...conns[field as keyof typeof times]], column).toEqual(expected(table, column, 1e6, origin));
    expect([...conns.rttSynSynackMs]).toEqual(expected(table, "rtt_syn_synack", 1e6));
    expect([...conns.origBytes]).toEqual(expected(table, "orig_bytes", 1));
    expect([...conns.respPkts]).toEqual(expected(table, "resp_pkts", 1));
    expect([...conns.connId]).toEqual(expected(table, "conn_id", 1));
    expect([...conns.durationS]).toEqual(expected(table, "duration", 1));
    const strings = { origH: "orig_h", respH: "resp_h", history: "history", connState: "conn_state", endReason: "end_reason" } as const;
    for (const [field, column] of Object.entries(strings)) expect(conns[field as keyof typeof strings], column).toEqual([...table.getChild(column)!].map((v) => v ?? ""));
  });

  it("of a run with no connections is empty in every column", () => {
    const conns = readConnections(new Table(SCHEMA));
    expect(conns.rows).toBe(0);
    expect(conns.table.numRows).toBe(0);
    for (const field of ["tsMs", "closedMs", "connId", "retransmits", "origP", "origH", "endReason"] as const) expect(conns[field].length, field).toBe(0);
  });
});
