// The events table replays the connection table: for every connection of the kernel and Zeek
// captures, its lifecycle instants, final endpoint states, role flips and end reason follow from
// its events alone.

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { rowsOf, type Row } from "../support/rows.js";
import { replayEvents, type EventRow } from "../../src/output/replay.js";

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
        const got: Record<string, unknown> = { ...replayEvents((byConn.get(row.conn_id as number) ?? []) as unknown as Array<EventRow<string>>) };
        const want = expected(row);
        for (const key of Object.keys(want)) {
          if (got[key] !== want[key]) differences.push(`${capture} conn ${row.conn_id}: ${key} replayed ${got[key]}, row ${want[key]}`);
        }
      }
    }
    console.info(`events replayed ${connections} connections`);
    expect(differences.slice(0, 20)).toEqual([]);
  });
});
