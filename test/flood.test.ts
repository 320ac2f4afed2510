// A flood of spoofed SYNs never grows the flow table past maxFlows: connections beyond it are
// ended as "evicted" (unanswered attempts first, least recently active first), every SYN is
// accounted for, and connections that were answered outlive the flood.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SynfinError, analyze } from "../src/node.js";
import { writePcap, type CapturedPacket } from "../src/synth/capture.js";
import { Conversation } from "../src/synth/conversation.js";
import { LINKTYPE, SYN, frame, ipPacket } from "../src/synth/packet.js";
import { rowsOf } from "./support/rows.js";
import { bucketSum } from "./support/rows.js";

const START_NS = 1_700_000_000_000_000_000n;
const US = 1_000n;

/** One SYN from each of `n` spoofed sources to one server, 1 µs apart (well within 5 s). */
function synFlood(n: number, startNs: bigint): CapturedPacket[] {
  const packets: CapturedPacket[] = [];
  for (let i = 0; i < n; i++) {
    const src = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const ip = ipPacket({ src, dst: "192.0.2.1", sport: 1024 + (i % 60000), dport: 80, seq: i * 7919, ack: 0, flags: SYN });
    packets.push({ tsNs: startNs + BigInt(i) * US, data: frame(ip, { link: "ethernet" }) });
  }
  return packets;
}

describe("a SYN flood within maxFlows", () => {
  it("evicts unanswered attempts, keeps the answered connections, and accounts for every SYN", async () => {
    // Two established connections first, then 5000 spoofed SYNs with room for 100 connections.
    const answered = [40001, 40002].flatMap((port, i) =>
      new Conversation({ client: "198.51.100.7", server: "192.0.2.1", clientPort: port, serverPort: 443, startNs: START_NS + BigInt(i) * 1000n * US })
        .handshake().data("client", 100).ack("server").packets());
    const flood = synFlood(5000, START_NS + 10_000n * US);
    const { table, stats } = await analyze(writePcap([...answered, ...flood], { linkType: LINKTYPE.ETHERNET }), { maxFlows: 100 });
    const rows = rowsOf(table);
    expect(stats).toMatchObject({ records: answered.length + flood.length, tcpPackets: answered.length + flood.length, peakFlows: 100 });
    expect(bucketSum(stats)).toBe(stats.records);
    // Every SYN is a row: evicted, or still open at the end of the input.
    expect(rows).toHaveLength(5002);
    expect(stats.evicted).toBe(5002 - 100);
    expect(rows.filter((r) => r.end_reason === "evicted")).toHaveLength(stats.evicted);
    expect(rows.filter((r) => r.end_reason === "evicted").every((r) => r.conn_state === "S0")).toBe(true);
    // The answered connections were never chosen.
    expect(rows.filter((r) => r.resp_p === 443).map((r) => r.end_reason)).toEqual(["eof", "eof"]);
  });

  it("refuses a maxFlows that is not a positive whole number", async () => {
    await expect(analyze(writePcap([], { linkType: LINKTYPE.ETHERNET }), { maxFlows: 0 })).rejects.toThrow(RangeError);
  });

  it("stale timers of evicted attempts do not pile up: the timer heap stays within the table", async () => {
    // 400,000 attempts through 100 slots, all within one attempt timeout: without compaction every
    // evicted attempt would leave its 5 s timer queued (6.4 MB, grown by doubling); the run must
    // stay within 16 MiB (8 MiB of it the output batch; 64 KiB read steps keep the input small).
    const capture = writePcap(synFlood(400_000, START_NS), { linkType: LINKTYPE.ETHERNET });
    const { stats } = await analyze(capture, { maxFlows: 100, memoryLimit: 16 << 20, chunkSize: 64 << 10 });
    expect(stats).toMatchObject({ records: 400_000, connections: 400_000, evicted: 400_000 - 100 });
  });
});

describe("the memory limit", () => {
  const PAGE = 65536;

  it("a maxFlows that cannot fit is refused before reading, with what to change", async () => {
    const work = analyze(writePcap(synFlood(10, START_NS), { linkType: LINKTYPE.ETHERNET }), { maxFlows: 100_000, memoryLimit: 32 << 20 });
    const error = await work.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(SynfinError);
    expect(error).toMatchObject({ code: "OUT_OF_MEMORY", message: expect.stringContaining("lower maxFlows or raise memoryLimit") });
  });

  it("growth past the limit during a run is OUT_OF_MEMORY, not a trap", async () => {
    // Room for the flow records and nothing else: the index cannot grow as the table fills.
    const maxFlows = 200_000;
    const arenaPages = Math.ceil((maxFlows * 1152) / PAGE); // 1,152 bytes a flow record (assembly/flow/record.ts FLOW_SIZE)
    const work = analyze(writePcap(synFlood(150_000, START_NS), { linkType: LINKTYPE.ETHERNET }), { maxFlows, memoryLimit: (64 + arenaPages) * PAGE });
    const error = await work.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(SynfinError);
    expect(error).toMatchObject({ code: "OUT_OF_MEMORY", message: expect.stringContaining("memory limit") });
  });

  it("growth past the limit is OUT_OF_MEMORY for a file read straight into shared memory too", async () => {
    const maxFlows = 200_000;
    const arenaPages = Math.ceil((maxFlows * 1152) / PAGE);
    const dir = mkdtempSync(join(tmpdir(), "synfin-flood-"));
    try {
      const path = join(dir, "flood.pcap");
      writeFileSync(path, writePcap(synFlood(150_000, START_NS), { linkType: LINKTYPE.ETHERNET }));
      // 64 KiB read steps: the input's two halves (about 2 MiB) fit, the index's growth does not.
      const work = analyze(path, { maxFlows, memoryLimit: (64 + arenaPages) * PAGE, chunkSize: 64 << 10 });
      const error = await work.then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(SynfinError);
      expect(error).toMatchObject({ code: "OUT_OF_MEMORY", message: expect.stringContaining("memory limit") });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a chunkSize that is not a whole number of bytes up to 256 MiB", async () => {
    for (const chunkSize of [0, 0.5, -1, (256 << 20) + 1, 2 ** 32, Number.NaN]) {
      await expect(analyze(writePcap([], { linkType: LINKTYPE.ETHERNET }), { chunkSize })).rejects.toThrow(/chunkSize must be/);
    }
    const { stats } = await analyze(writePcap([], { linkType: LINKTYPE.ETHERNET }), { chunkSize: 256 << 20 });
    expect(stats.records).toBe(0);
  });

  it("refuses a memoryLimit outside 4 MiB to 4 GiB", async () => {
    await expect(analyze(writePcap([], { linkType: LINKTYPE.ETHERNET }), { memoryLimit: 1 << 20 })).rejects.toThrow(RangeError);
  });
});
