// Zeek's connection-level effects of tunnels (docs/semantics.md "Connection-level effects"):
// a connection's encapsulation compared packet by packet with 'X' past five changes
// (Conn.cc CheckEncapsulation, TunnelEncapsulation.h), the UDP connection behind a UDP tunnel
// and its one-minute inactivity timer, the VLAN tags of the inner packet (Packet::Init), UDP
// checksums of tunnels with checksum verification (UDPAnalyzer::DeliverPacket), and no flip
// towards the broadcast address (IPBasedAnalyzer::NewConn). Captures from synfin's own writer.

import { describe, expect, it } from "vitest";
import { analyze, type AnalyzeOptions } from "../src/node.js";
import { ACK, PSH, frame, ipDatagram, ipPacket, udpDatagram, type UdpChecksum } from "../src/synth/packet.js";
import type { CapturedPacket } from "../src/synth/capture.js";
import { tableToIPC } from "apache-arrow";
import { NS_PER_MS, NS_PER_SECOND, analyzeRows, onlyRow, pcapOf } from "./support/fixtures.js";

const START_NS = 1_700_000_000n * NS_PER_SECOND;
const CLIENT = "10.20.0.1";
const SERVER = "10.20.0.2";
const IPPROTO_GRE = 47;
const GRE_IPV4 = [0x00, 0x00, 0x08, 0x00];
const VXLAN_PORT = 4789;
const VXLAN_HEADER = [0x08, 0, 0, 0, 0, 0, 42, 0];

/** One data segment of the test connection (client → server unless `reply`), as an IP packet. */
function segment(i: number, reply = false): Uint8Array {
  return ipPacket(reply
    ? { src: SERVER, dst: CLIENT, sport: 80, dport: 44444, seq: 5000 + i, ack: 1 + i, flags: PSH | ACK, payload: 1 }
    : { src: CLIENT, dst: SERVER, sport: 44444, dport: 80, seq: 1 + i, ack: 5000 + i, flags: PSH | ACK, payload: 1 });
}

function gre(inner: Uint8Array, outerSrc = "192.0.2.1", outerDst = "198.51.100.1"): Uint8Array {
  return frame(ipDatagram(outerSrc, outerDst, IPPROTO_GRE, Uint8Array.from([...GRE_IPV4, ...inner])), { link: "ethernet" });
}

/** VXLAN to port 4789 from `sport`, the inner IP packet in an Ethernet frame with `innerVlans`. */
function vxlan(inner: Uint8Array, sport: number, opts: { src?: string; dst?: string; outerVlans?: number[]; innerVlans?: number[]; checksum?: UdpChecksum } = {}): Uint8Array {
  const innerFrame = frame(inner, { link: "ethernet", vlans: opts.innerVlans ?? [] });
  const udp = udpDatagram(opts.src ?? "192.0.2.1", opts.dst ?? "198.51.100.1", sport, VXLAN_PORT, Uint8Array.from([...VXLAN_HEADER, ...innerFrame]), opts.checksum);
  return frame(udp, { link: "ethernet", vlans: opts.outerVlans ?? [] });
}

function at(frames: Uint8Array[], stepNs: bigint = NS_PER_MS): CapturedPacket[] {
  return frames.map((data, i) => ({ tsNs: START_NS + BigInt(i) * stepNs, data }));
}

describe("tunnel changes (Conn.cc CheckEncapsulation)", () => {
  /** n packets of the connection, every odd one inside GRE (Zeek's tunnel-direct-bypass test). */
  const alternating = (n: number) => at(Array.from({ length: n }, (_, i) => i % 2 === 0 ? frame(segment(i), { link: "ethernet" }) : gre(segment(i))));

  it("'X' is added at the sixth change of encapsulation, once", async () => {
    expect((await onlyRow(pcapOf(alternating(6)))).history).toBe("D"); // five changes
    expect((await onlyRow(pcapOf(alternating(7)))).history).toBe("DX"); // six
    const row = await onlyRow(pcapOf(alternating(20)));
    expect(row).toMatchObject({ history: "DX", orig_pkts: 20, tunnel: null });
  });

  it("an IP tunnel is the same both ways; another tunnel endpoint is a change", async () => {
    const packets = Array.from({ length: 16 }, (_, i) => i % 2 === 0 ? gre(segment(i)) : gre(segment(i, true), "198.51.100.1", "192.0.2.1"));
    expect((await onlyRow(pcapOf(at(packets)))).history).not.toContain("X");
    const moving = Array.from({ length: 8 }, (_, i) => gre(segment(i), "192.0.2.1", i % 2 === 0 ? "198.51.100.1" : "198.51.100.2"));
    expect((await onlyRow(pcapOf(at(moving)))).history).toBe("DX");
  });

  it("a UDP tunnel is its UDP connection: the same 4-tuple both ways is no change, another source port is", async () => {
    const sameTuple = Array.from({ length: 16 }, (_, i) => i % 2 === 0
      ? vxlan(segment(i), 50000)
      : frame(udpDatagram("198.51.100.1", "192.0.2.1", VXLAN_PORT, 50000, Uint8Array.from([...VXLAN_HEADER, ...frame(segment(i, true), { link: "ethernet" })])), { link: "ethernet" }));
    expect((await onlyRow(pcapOf(at(sameTuple)))).history).not.toContain("X");
    // A VXLAN sender picks the source port by a hash of the inner flow: the two directions may differ.
    const twoTuples = Array.from({ length: 16 }, (_, i) => vxlan(segment(i, i % 2 === 1), i % 2 === 0 ? 50000 : 50001));
    expect((await onlyRow(pcapOf(at(twoTuples)))).history).toContain("X");
  });

  it("the UDP connection times out after a minute without packets (udp_inactivity_timeout): a new one is a change", async () => {
    // Seven packets of the TCP connection, 61 s apart (within TCP's 5-minute inactivity timeout):
    // every one after the first comes through a new UDP connection.
    const sparse = at(Array.from({ length: 7 }, (_, i) => vxlan(segment(i), 50000)), 61n * NS_PER_SECOND);
    expect((await onlyRow(pcapOf(sparse))).history).toBe("DX");
    // 59 s apart, the UDP connection lives on.
    const dense = at(Array.from({ length: 7 }, (_, i) => vxlan(segment(i), 50000)), 59n * NS_PER_SECOND);
    expect((await onlyRow(pcapOf(dense))).history).toBe("D");
  });

  it("other traffic of the UDP connection keeps it alive; the timer fires on any packet's time", async () => {
    // The TCP connection's packets 90 s apart, a keep-alive of the same UDP 4-tuple (a VXLAN frame
    // carrying no TCP) in between: one UDP connection throughout.
    const keepAlive = vxlan(Uint8Array.from([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]), 50000);
    const packets: CapturedPacket[] = [];
    for (let i = 0; i < 7; i++) {
      packets.push({ tsNs: START_NS + BigInt(i) * 90n * NS_PER_SECOND, data: vxlan(segment(i), 50000) });
      packets.push({ tsNs: START_NS + (BigInt(i) * 90n + 45n) * NS_PER_SECOND, data: keepAlive });
    }
    expect((await onlyRow(pcapOf(packets))).history).toBe("D");
  });

  it("a parallel run agrees, in both designs", async () => {
    const bytes = pcapOf([
      ...at(Array.from({ length: 7 }, (_, i) => vxlan(segment(i), 50000)), 61n * NS_PER_SECOND),
      ...alternating(9).map((p) => ({ ...p, tsNs: p.tsNs + 600n * NS_PER_SECOND })),
    ]);
    const single = tableToIPC((await analyze(bytes, { workers: 0 })).table, "file");
    for (const options of [{ workers: 2 }, { workers: 3, chunkSize: 64 * 1024, testHooks: { design: "shuffle" } }] as AnalyzeOptions[]) {
      expect(tableToIPC((await analyze(bytes, options)).table, "file")).toEqual(single);
    }
  });
});

describe("the VLAN tags of a tunnelled connection are the inner packet's (Packet::Init)", () => {
  it("VXLAN: those of the inner Ethernet frame; GRE with IP inside: none", async () => {
    const inVxlan = at(Array.from({ length: 2 }, (_, i) => vxlan(segment(i), 50000, { outerVlans: [100], innerVlans: [7] })));
    expect(await onlyRow(pcapOf(inVxlan))).toMatchObject({ vlan: 7, inner_vlan: null, tunnel: "vxlan" });
    const inGre = at(Array.from({ length: 2 }, (_, i) => frame(ipDatagram("192.0.2.1", "198.51.100.1", IPPROTO_GRE, Uint8Array.from([...GRE_IPV4, ...segment(i)])), { link: "ethernet", vlans: [100] })));
    expect(await onlyRow(pcapOf(inGre))).toMatchObject({ vlan: null, tunnel: "gre" });
  });

  it("with connKey \"vlan\" the inner tags are the key", async () => {
    const packets = at([vxlan(segment(0), 50000, { outerVlans: [100], innerVlans: [7] }), vxlan(segment(1), 50000, { outerVlans: [200], innerVlans: [7] }),
      vxlan(segment(2), 50000, { outerVlans: [100], innerVlans: [8] })]);
    const { rows } = await analyzeRows(pcapOf(packets), { connKey: "vlan" });
    expect(rows.map((r) => [r.vlan, r.orig_pkts])).toEqual([[7, 2], [8, 1]]);
  });
});

describe("UDP checksums of tunnels, with verifyChecksums (UDPAnalyzer::DeliverPacket)", () => {
  const run = async (checksum: UdpChecksum, src = "192.0.2.1", dst = "198.51.100.1", verifyChecksums = true) => {
    const packets = at(Array.from({ length: 2 }, (_, i) => vxlan(segment(i), 50000, { src, dst, checksum })));
    return analyzeRows(pcapOf(packets), { verifyChecksums });
  };

  it("a bad one drops the datagram, counted as a bad checksum; without verification it is decapsulated", async () => {
    const bad = await run("bad");
    expect(bad.rows).toHaveLength(0);
    expect(bad.stats).toMatchObject({ badChecksums: 2, tcpPackets: 0 });
    expect((await run("bad", undefined, undefined, false)).rows).toHaveLength(1);
    expect((await run("valid")).rows).toHaveLength(1);
  });

  it("none (0) passes over IPv4; over IPv6 only for VXLAN to port 4789", async () => {
    expect((await run("zero")).rows).toHaveLength(1);
    expect((await run("zero", "2001:db8::1", "2001:db8::2")).rows).toHaveLength(1);
    const geneve = at([frame(udpDatagram("2001:db8::1", "2001:db8::2", 50000, 6081, Uint8Array.from([0, 0, 0x08, 0x00, 0, 0, 42, 0, ...segment(0)]), "zero"), { link: "ethernet" })]);
    const { rows, stats } = await analyzeRows(pcapOf(geneve), { verifyChecksums: true });
    expect(rows).toHaveLength(0);
    expect(stats.badChecksums).toBe(1);
  });
});

describe("no flip towards the broadcast address (IPBasedAnalyzer::NewConn)", () => {
  it("a first packet from a likely server port keeps its sender as originator when sent to 255.255.255.255", async () => {
    const from80 = (dst: string) => pcapOf(at([frame(ipPacket({ src: SERVER, dst, sport: 80, dport: 44444, seq: 1, ack: 1, flags: ACK, payload: 1 }), { link: "ethernet" })]));
    expect(await onlyRow(from80(CLIENT))).toMatchObject({ orig_h: CLIENT, orig_p: 44444, history: "^d" });
    expect(await onlyRow(from80("255.255.255.255"))).toMatchObject({ orig_h: SERVER, orig_p: 80, history: "D" });
  });
});

describe("the UDP connections behind tunnels are bounded in number (assembly/decode/udp.ts)", () => {
  /** Seven packets of the connection through one VXLAN 4-tuple, each before a burst of `burst` other 4-tuples, all within seconds. */
  const bursts = (burst: number) => {
    const empty = Uint8Array.from(VXLAN_HEADER);
    const packets: CapturedPacket[] = [];
    let t = START_NS;
    for (let i = 0; i < 7; i++) {
      packets.push({ tsNs: t, data: vxlan(segment(i), 50000) });
      for (let k = 0; k < burst; k++) {
        t += 10_000n;
        const other = udpDatagram("192.0.2.1", `198.51.${100 + (k >> 8)}.${k & 0xff}`, 40000 + i, VXLAN_PORT, empty);
        packets.push({ tsNs: t, data: frame(other, { link: "ethernet" }) });
      }
    }
    return pcapOf(packets);
  };

  it("a connection stays one through the table's growth, and is forgotten only past max(4096, maxFlows) others", async () => {
    // Each burst is three times 4,096 newer 4-tuples: whatever the moments the table is rebuilt,
    // one comes after the connection's 4-tuple is among the least recently active.
    const capture = bursts(3 * 4096);
    expect((await analyzeRows(capture)).rows.find((r) => r.resp_p === 80)?.history).toBe("D");
    // With maxFlows 100, at most 4,096 are remembered: each burst forgets the connection's 4-tuple.
    expect((await analyzeRows(capture, { maxFlows: 100 })).rows.find((r) => r.resp_p === 80)?.history).toBe("DX");
  });
});
