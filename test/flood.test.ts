// A flood of spoofed SYNs never grows the flow table past maxFlows: connections beyond it are
// ended as "evicted" (unanswered attempts first, least recently active first), every SYN is
// accounted for, and connections that were answered outlive the flood.

import { describe, expect, it } from "vitest";
import { analyze } from "../src/node.js";
import { writePcap, type CapturedPacket } from "../src/writer/capture.js";
import { Conversation } from "../src/writer/conversation.js";
import { LINKTYPE, SYN, frame, ipPacket } from "../src/writer/packet.js";
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
});
