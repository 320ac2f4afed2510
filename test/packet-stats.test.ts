// packetStats: per-direction IP packet size and inter-arrival statistics and the first packets,
// after the row's usual columns. Exact on a conversation whose packets are known, consistent with
// the row's own counts and with the packets table on every shared capture, and absent (and the
// rows unchanged) without it.

import { describe, expect, it } from "vitest";
import { analyze, COLUMNS, PACKET_STATS_COLUMNS } from "../src/node.js";
import { Conversation } from "../src/synth/conversation.js";
import type { CapturedPacket } from "../src/synth/capture.js";
import { NS_PER_MS, pcapOf } from "./support/fixtures.js";
import { rowsOf, type Row } from "./support/rows.js";
import { HAS_CAPTURES, SKIP_NOTE, analysedCaptures } from "./support/shared.js";

/** Mean, sample standard deviation (n − 1), min and max; nulls as the columns have them. */
function stats(values: number[]): { mean: number | null; std: number | null; min: number | null; max: number | null } {
  const n = values.length;
  if (n === 0) return { mean: null, std: null, min: null, max: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, std, min: Math.min(...values), max: Math.max(...values) };
}

/** ns since the epoch of an ISO-8601 timestamp with nine decimals. */
const nsOf = (iso: string) => BigInt(Date.parse(iso.slice(0, 23) + "Z")) * 1_000_000n + BigInt(iso.slice(23, 29));

const close = (a: number | null, b: number | null, tolerance: number) => (a === null || b === null ? a === b : Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b)));

describe("packetStats", () => {
  it("gives the sizes, gaps and first packets of a known conversation exactly", async () => {
    const conv = new Conversation({ client: "10.0.0.1", server: "10.0.0.2", clientPort: 40000, serverPort: 80 })
      .handshake().data("client", 100).ack("server", { after: 3n * NS_PER_MS }).data("server", 1400).data("server", 700, { after: 7n * NS_PER_MS })
      .ack("client").data("client", 20, { after: 11n * NS_PER_MS }).close("client");
    const packets: CapturedPacket[] = conv.packets();
    const { table } = await analyze(pcapOf(packets), { packetStats: true });
    const [row] = rowsOf(table);
    // The client sends the SYN: orig is 10.0.0.1. IPv4 total length at bytes 16–17 of the Ethernet frame.
    const ipLen = (p: CapturedPacket) => (p.data[16]! << 8) | p.data[17]!;
    const fromClient = (p: CapturedPacket) => p.data[29] === 1; // the last byte of the IPv4 source address
    for (const [side, mine] of [["orig", true], ["resp", false]] as const) {
      const own = packets.filter((p) => fromClient(p) === mine);
      const sizes = stats(own.map(ipLen));
      const gaps = stats(own.slice(1).map((p, i) => Number(p.tsNs - own[i]!.tsNs) / 1e9));
      expect(row![`${side}_size_mean`]).toBeCloseTo(sizes.mean!, 9);
      expect(row![`${side}_size_std`]).toBeCloseTo(sizes.std!, 9);
      expect([row![`${side}_size_min`], row![`${side}_size_max`]]).toEqual([sizes.min, sizes.max]);
      expect(row![`${side}_iat_mean`]).toBeCloseTo(gaps.mean!, 9);
      expect(row![`${side}_iat_std`]).toBeCloseTo(gaps.std!, 9);
      expect([row![`${side}_iat_min`], row![`${side}_iat_max`]]).toEqual([gaps.min, gaps.max]);
    }
    expect(row!.first_packets).toBe(packets.slice(0, 10).map((p) => (fromClient(p) ? "" : "-") + ipLen(p)).join(","));
  });

  it("leaves the rows as they are and adds its columns after them; without it there are none", async () => {
    const conv = new Conversation({ client: "10.0.0.1", server: "10.0.0.2", clientPort: 40000, serverPort: 80 }).syn();
    const bytes = pcapOf(conv.packets());
    const plain = await analyze(bytes);
    const withStats = await analyze(bytes, { packetStats: true });
    expect(plain.table.schema.fields.map((f) => f.name)).toEqual(COLUMNS.map((c) => c.name));
    expect(withStats.table.schema.fields.map((f) => f.name)).toEqual([...COLUMNS, ...PACKET_STATS_COLUMNS].map((c) => c.name));
    const [row] = rowsOf(withStats.table);
    const [base] = rowsOf(plain.table);
    expect(Object.fromEntries(COLUMNS.map((c) => [c.name, row![c.name]]))).toEqual(base);
    // One SYN: no gap, no spread; nothing from the responder.
    expect([row!.orig_size_min, row!.orig_size_std, row!.orig_iat_mean, row!.resp_size_mean, row!.resp_size_min, row!.resp_iat_max]).toEqual([row!.orig_size_max, null, null, null, null, null]);
  });
});

/**
 * Where a row's statistics disagree with its own counts (packets, IP bytes) or with its packets
 * table (gaps, first packets' directions). Rows whose roles flipped are compared on counts only:
 * the packets table gives directions as they stood at each packet.
 */
function disagreements(row: Row, packets: Row[]): string[] {
  const out: string[] = [];
  const flipped = String(row.history ?? "").includes("^");
  for (const side of ["orig", "resp"] as const) {
    const n = row[`${side}_pkts`] as number;
    const mean = row[`${side}_size_mean`] as number | null;
    if (n === 0 ? mean !== null : !close(mean! * n, row[`${side}_ip_bytes`] as number, 1e-9)) out.push(`${side}: mean ${mean} × ${n} packets, ${row[`${side}_ip_bytes`]} IP bytes`);
    if (n > 0 && !((row[`${side}_size_min`] as number) <= mean! + 1e-9 && mean! <= (row[`${side}_size_max`] as number) + 1e-9)) out.push(`${side}: size min ${row[`${side}_size_min`]} mean ${mean} max ${row[`${side}_size_max`]}`);
    if (flipped) continue;
    const times = packets.filter((p) => p.direction === side).map((p) => nsOf(String(p.ts)));
    const gaps = stats(times.slice(1).map((t, i) => Number(t - times[i]!)));
    for (const k of ["mean", "min", "max"] as const) {
      // The columns are ns, rounded (the text form: seconds); the mean is Welford's, within 1 ns.
      const got = row[`${side}_iat_${k}`] as number | null;
      const want = gaps[k] === null ? null : gaps[k]! / 1e9;
      if (got === null || want === null ? got !== want : Math.abs(got - want) > 1.001e-9) out.push(`${side}: iat_${k} ${row[`${side}_iat_${k}`]}, packets table ${want}`);
    }
  }
  if (!flipped) {
    const signs = String(row.first_packets).split(",").filter(Boolean).map((s) => (s.startsWith("-") ? "resp" : "orig"));
    const want = packets.slice(0, 10).map((p) => p.direction);
    if (signs.join() !== want.join()) out.push(`first_packets directions ${signs.join()}, packets table ${want.join()}`);
  }
  return out.map((d) => `conn ${row.conn_id}: ${d}`);
}

describe.skipIf(!HAS_CAPTURES)(`packetStats on every capture of the corpus${SKIP_NOTE}`, () => {
  it("agrees with each row's packet and byte counts and with its packets table", async () => {
    const differences: string[] = [];
    let rows = 0;
    for await (const [file, result] of analysedCaptures({ packetStats: true, packets: true })) {
      const byConn = new Map<number, Row[]>();
      for (const p of rowsOf(result.packets!)) byConn.set(p.conn_id as number, [...(byConn.get(p.conn_id as number) ?? []), p]);
      for (const row of rowsOf(result.table)) {
        rows++;
        for (const d of disagreements(row, byConn.get(row.conn_id as number) ?? [])) differences.push(`${file}: ${d}`);
      }
    }
    expect(rows).toBeGreaterThan(1000);
    expect(differences.slice(0, 20)).toEqual([]);
  });
});
