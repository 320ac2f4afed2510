// The events table replays the connection table: for every connection of the kernel and Zeek
// captures, its lifecycle instants, final endpoint states, role flips and end reason follow from
// its events alone.

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { rowsOf, type Row } from "../support/rows.js";

const END_EVENTS: Record<string, string> = { IDLE_TIMEOUT: "idle_timeout", ATTEMPT_TIMEOUT: "attempt_timeout", REUSE: "reuse", EOF: "eof" };

/** Reads a connection's row off its events; directions are mapped to the final roles. */
export function replay(events: Row[]): Record<string, unknown> {
  // A FLIP swaps the roles of everything before it: count the flips after each event.
  let flipsAfter = 0;
  const finalDirection: Array<string | null> = new Array(events.length);
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.event === "FLIP") { flipsAfter++; finalDirection[i] = null; continue; }
    const d = e.direction as string | null;
    finalDirection[i] = d === null ? null : flipsAfter % 2 === 0 ? d : d === "orig" ? "resp" : "orig";
  }
  const first = (pred: (e: Row, dir: string | null) => boolean) => {
    const i = events.findIndex((e, k) => pred(e, finalDirection[k]!));
    return i < 0 ? null : events[i]!.ts;
  };
  const isSyn = (e: Row) => e.event === "SYN" || e.event === "SYN_ACK";
  const last = events.at(-1);
  return {
    syn_ts: first((e, d) => isSyn(e) && d === "orig"),
    synack_ts: first((e, d) => isSyn(e) && d === "resp"),
    established_ts: first((e) => e.event === "ESTABLISHED"),
    orig_first_data_ts: first((e, d) => e.event === "FIRST_DATA" && d === "orig"),
    resp_first_data_ts: first((e, d) => e.event === "FIRST_DATA" && d === "resp"),
    orig_fin_ts: first((e, d) => e.event === "FIN" && d === "orig"),
    resp_fin_ts: first((e, d) => e.event === "FIN" && d === "resp"),
    rst_ts: first((e) => e.event === "RST"),
    closed_ts: first((e) => e.event === "CLOSED"),
    orig_state: last?.orig_state ?? "UNKNOWN",
    resp_state: last?.resp_state ?? "UNKNOWN",
    flips: events.filter((e) => e.event === "FLIP").length,
    end: last && END_EVENTS[last.event as string] ? END_EVENTS[last.event as string] : "closed",
  };
}

function expected(row: Row): Record<string, unknown> {
  const keys = ["syn_ts", "synack_ts", "established_ts", "orig_first_data_ts", "resp_first_data_ts", "orig_fin_ts", "resp_fin_ts", "rst_ts", "closed_ts", "orig_state", "resp_state"];
  const want: Record<string, unknown> = Object.fromEntries(keys.map((k) => [k, row[k]]));
  want.flips = ((row.history as string | null) ?? "").split("^").length - 1;
  want.end = row.end_reason === "fin" || row.end_reason === "rst" ? "closed" : row.end_reason;
  return want;
}

function captures(): string[] {
  if (!HAS_CAPTURES) return [];
  const kernel = readdirSync(join(CAPTURES, "kernel")).filter((f) => /\.(pcap|pcapng)$/.test(f)).map((f) => join("kernel", f));
  const zeek = readdirSync(join(CAPTURES, "zeek")).filter((f) => /\.(pcap|pcapng)$/.test(f)).map((f) => join("zeek", f));
  return [...kernel, ...zeek];
}

describe.skipIf(!HAS_CAPTURES)(`events replay their connection rows${SKIP_NOTE}`, () => {
  it("on every connection of the kernel and Zeek captures", async () => {
    const differences: string[] = [];
    let connections = 0;
    for (const capture of captures()) {
      const { table, events } = await analyze(join(CAPTURES, capture), { events: true });
      const byConn = new Map<number, Row[]>();
      for (const e of rowsOf(events!)) byConn.set(e.conn_id as number, [...(byConn.get(e.conn_id as number) ?? []), e]);
      for (const row of rowsOf(table)) {
        connections++;
        const got = replay(byConn.get(row.conn_id as number) ?? []);
        const want = expected(row);
        for (const key of Object.keys(want)) {
          if (got[key] !== want[key]) differences.push(`${capture} conn ${row.conn_id}: ${key} replayed ${got[key]}, row ${want[key]}`);
        }
      }
    }
    console.info(`events replayed ${connections} connections`);
    expect(differences.slice(0, 20)).toEqual([]);
  }, 300_000);
});
