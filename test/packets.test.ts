// The packets table (`packets: true`): one row per TCP segment of a connection, in capture order,
// that adds up to the connection rows, comes in bounded batches, narrows with a filter, and
// leaves the connection table as it was. Its values against tshark, frame by frame:
// test/conformance/packets.test.ts.

import { describe, expect, it } from "vitest";
import type { RecordBatch } from "apache-arrow";
import { analyze, PACKET_COLUMNS } from "../src/node.js";
import { Conversation } from "../src/synth/conversation.js";
import { synthPackets } from "../src/synth/synth.js";
import { NS_PER_MS, pcapOf } from "./support/fixtures.js";
import { rowsOf } from "./support/rows.js";
import { packetsAgainstRows } from "./support/packets.js";

const ACK = 0x10, SYN = 0x02;

function conversation(): Conversation {
  return new Conversation({ client: "10.0.0.1", server: "10.0.0.2", clientPort: 40000, serverPort: 80, wscale: 7, clientIsn: 1000, serverIsn: 5000 });
}

describe("the packets table", () => {
  it("has a row per segment with Wireshark's relative numbers, scaled window and analysis flags", async () => {
    const conv = conversation().handshake().data("client", 100).ack("server").data("client", 200).retransmit("client").ack("server").close("client");
    const { table, packets } = await analyze(pcapOf(conv.packets()), { packets: true });
    const rows = rowsOf(packets!);
    expect(rows.map((r) => r.packet)).toEqual(conv.packets().map((_, i) => i));
    expect(rows.slice(0, 3).map((r) => [r.direction, r.seq, r.ack, r.seq_raw, r.flags])).toEqual([
      ["orig", 0, null, 1000, SYN], ["resp", 0, 1, 5000, SYN | ACK], ["orig", 1, 1, 1001, ACK],
    ]);
    // The SYNs' windows are never scaled; after both SYNs carried the option, every window is.
    for (const r of rows) expect(r.window).toBe(((r.flags as number) & SYN) !== 0 ? r.window_raw : (r.window_raw as number) << 7);
    const resent = rows.filter((r) => r.retransmission === true);
    expect(resent.map((r) => [r.seq, r.len])).toEqual([[101, 200]]);
    // The server's ACK of the first data completes the first RTT sample of the client's data.
    expect(rows[4]!.rtt).not.toBeNull();
    expect(packetsAgainstRows(rowsOf(table), rows)).toEqual([]);
  });

  it("numbers duplicate ACKs and marks the fast retransmission they ask for", async () => {
    const conv = conversation().handshake().data("client", 100).skip("client", 100).data("client", 100);
    conv.ack("server").ack("server").ack("server");
    conv.raw("client", { seq: conv.seq("client") - 200, payload: 100, flags: ACK }, { after: NS_PER_MS });
    const { table, packets } = await analyze(pcapOf(conv.packets()), { packets: true });
    const rows = rowsOf(packets!);
    expect(rows.filter((r) => r.duplicate_ack === true).map((r) => r.duplicate_ack_num)).toEqual([1, 2]);
    expect(rows.filter((r) => r.duplicate_ack !== true).every((r) => r.duplicate_ack_num === null)).toBe(true);
    expect(rows.at(-1)!.fast_retransmission).toBe(true);
    expect(rows.at(-1)!.retransmission).toBe(true);
    expect(rows.filter((r) => r.lost_segment === true)).toHaveLength(1);
    expect(packetsAgainstRows(rowsOf(table), rows)).toEqual([]);
  });

  it("adds up to the connection rows over many synthetic connections, in batches of at most 8,192 rows", async () => {
    const bytes = pcapOf([...synthPackets({ seed: 5, connections: 400, concurrency: 40, snaplen: 128 })]);
    const sizes: number[] = [];
    const { table, packets, stats } = await analyze(bytes, { packets: true, onPackets: (b: RecordBatch) => { sizes.push(b.numRows); } });
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8192);
    expect(packets!.numRows).toBe(stats.tcpPackets);
    expect(packets!.schema.fields.map((f) => f.name)).toEqual(PACKET_COLUMNS.map((c) => c.name));
    expect(packetsAgainstRows(rowsOf(table), rowsOf(packets!))).toEqual([]);
    // The connection table is the same with the packets table on or off, and with two workers
    // asked for (the packets table needs a single pass, which the run then is).
    const plain = await analyze(bytes);
    expect(rowsOf(table)).toEqual(rowsOf(plain.table));
    const asked = await analyze(new Blob([bytes as Uint8Array<ArrayBuffer>]), { packets: true, workers: 2 });
    expect(rowsOf(asked.table)).toEqual(rowsOf(plain.table));
    expect(rowsOf(asked.packets!)).toEqual(rowsOf(packets!));
  });

  it("with a filter, holds only the conversation the filter keeps", async () => {
    const bytes = pcapOf([...synthPackets({ seed: 9, connections: 200, concurrency: 20, snaplen: 128 })]);
    const all = rowsOf((await analyze(bytes)).table);
    const pick = all.find((r) => r.ip_version === 4 && (r.orig_pkts as number) > 4)!;
    const filter = `host ${pick.orig_h} and port ${pick.orig_p} and host ${pick.resp_h} and port ${pick.resp_p}`;
    const { table, packets } = await analyze(bytes, { packets: true, filter });
    const conns = rowsOf(table);
    expect(conns).toHaveLength(1);
    expect(packets!.numRows).toBe((pick.orig_pkts as number) + (pick.resp_pkts as number));
    expect(packetsAgainstRows(conns, rowsOf(packets!))).toEqual([]);
  });
});
