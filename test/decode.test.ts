// Header decoding, property-tested: random TCP segments over IPv4 (RFC 791, with options) and IPv6
// (RFC 8200, with extension headers), with random ports, sequence numbers, flags, windows, TCP
// options (RFC 9293 MSS, RFC 7323 window scale and timestamps, RFC 2018 SACK) and payloads, on
// every link type the writer knows (tcpdump.org LINKTYPE_*), are encoded with src/synth, decoded
// by synfin, and compared field by field; then every frame is cut at every length and each cut must
// land in the right accounting bucket without a throw or a trap (the suite runs the debug build).

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { analyze } from "../src/node.js";
import { Conversation } from "../src/synth/conversation.js";
import {
  ACK, CWR, ECE, IPV4_HEADER_LEN, IPV6_HEADER_LEN, PSH, SYN, TCP_HEADER_LEN, URG,
  CLIENT_MAC, SERVER_MAC, arpFrame, checksumSum, finishChecksum, frame, icmpEcho, ipPacket, linkTypeOf, putU16, udpPacket, writeTcpOptions,
  type LinkSpec, type TcpOptionsSpec, type TcpSegmentSpec,
} from "../src/synth/packet.js";
import type { CapturedPacket } from "../src/synth/capture.js";
import { NS_PER_SECOND, type Row, analyzeRows, assertAccounting, onlyRow, pcapOf } from "./support/fixtures.js";

const NUM_RUNS = 150;
const START_NS = 1_700_000_000n * NS_PER_SECOND;

// ---- Expected address text (RFC 5952 for IPv6), written independently of src/core/address.ts ----------

function ipv4Text(bytes: number[]): string {
  return bytes.join(".");
}

/** RFC 5952 §4: lower-case hex, no leading zeros, the longest (then first) run of 2+ zero groups as "::". */
function ipv6Text(groups: number[]): string {
  let best = { start: -1, len: 1 };
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { start: i, len: j - i };
    i = Math.max(i, j);
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (best.start < 0) return hex(groups);
  return `${hex(groups.slice(0, best.start))}::${hex(groups.slice(best.start + best.len))}`;
}

describe("the RFC 5952 formatter of these tests", () => {
  it("matches the RFC's examples", () => {
    expect(ipv6Text([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])).toBe("2001:db8::1");
    expect(ipv6Text([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1])).toBe("2001:db8:0:1:1:1:1:1"); // §4.2.2: one zero group stays
    expect(ipv6Text([0x2001, 0, 0, 1, 0, 0, 0, 1])).toBe("2001:0:0:1::1"); // §4.2.3: the longest run
    expect(ipv6Text([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])).toBe("2001:db8::1:0:0:1"); // §4.2.3: the first of equal runs
    expect(ipv6Text([0, 0, 0, 0, 0, 0, 0, 0])).toBe("::");
  });
});

// ---- Generators -------------------------------------------------------------------------------

interface Addresses { version: 4 | 6; src: string; dst: string; srcText: string; dstText: string }

const ipv4Bytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
/** IPv6 groups under 2001::/16 (never v4-mapped), with zero groups common enough to compress. */
const ipv6Groups = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 7, maxLength: 7 })
  .map((rest) => [0x2001, ...rest]);

const addresses: fc.Arbitrary<Addresses> = fc.oneof(
  fc.tuple(ipv4Bytes, ipv4Bytes).filter(([a, b]) => a.join() !== b.join()).map(([a, b]): Addresses => ({
    version: 4, src: ipv4Text(a), dst: ipv4Text(b), srcText: ipv4Text(a), dstText: ipv4Text(b),
  })),
  fc.tuple(ipv6Groups, ipv6Groups).filter(([a, b]) => a.join() !== b.join()).map(([a, b]): Addresses => ({
    version: 6, src: a.map((g) => g.toString(16)).join(":"), dst: b.map((g) => g.toString(16)).join(":"), srcText: ipv6Text(a), dstText: ipv6Text(b),
  })),
);

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const MAX_WSCALE = 14; // RFC 7323 §2.3

const tcpOptions: fc.Arbitrary<TcpOptionsSpec | undefined> = fc.option(
  fc.record({
    mss: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
    wscale: fc.option(fc.integer({ min: 0, max: MAX_WSCALE }), { nil: undefined }),
    sackOk: fc.boolean(),
    ts: fc.option(fc.tuple(u32, u32), { nil: undefined }),
    sack: fc.array(fc.tuple(u32, u32), { maxLength: 2 }),
    eol: fc.boolean(),
  }).map((o) => ({ ...o, eol: o.eol && o.sack.length === 0 })), // EOL after two SACK blocks would not fit in 40 bytes
  { nil: undefined },
);

/** NOPs, optionally after a Router Alert (RFC 2113): well-formed IPv4 options of 0-40 bytes. */
const ipv4Options: fc.Arbitrary<Uint8Array | undefined> = fc.option(
  fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 36 })).map(([alert, nops]) => {
    const ROUTER_ALERT = [0x94, 0x04, 0x00, 0x00];
    return Uint8Array.from([...(alert ? ROUTER_ALERT : []), ...new Array<number>(nops).fill(1)]);
  }),
  { nil: undefined },
);

type ExtHeader = { type: 0 | 43 | 60 | 44; length?: number };
/** Hop-by-hop first (RFC 8200 §4.1), then destination options, routing and atomic fragment headers. */
const ipv6ExtHeaders: fc.Arbitrary<ExtHeader[]> = fc.tuple(
  fc.option(fc.constantFrom(8, 16, 24), { nil: undefined }),
  fc.array(fc.oneof(
    fc.constantFrom(8, 16).map((length): ExtHeader => ({ type: 60, length })),
    fc.constantFrom(8, 24).map((length): ExtHeader => ({ type: 43, length })),
    fc.constant<ExtHeader>({ type: 44 }),
  ), { maxLength: 3 }),
).map(([hopByHop, rest]) => [...(hopByHop ? [{ type: 0 as const, length: hopByHop }] : []), ...rest]);

const vlanId = fc.integer({ min: 1, max: 4094 });

function linkFor(version: 4 | 6): fc.Arbitrary<LinkSpec> {
  return fc.oneof(
    fc.array(vlanId, { maxLength: 2 }).map((vlans): LinkSpec => ({ link: "ethernet", vlans })),
    fc.constantFrom<LinkSpec>({ link: "raw" }, { link: "loop" }, { link: "sll" }, { link: "sll2" }, { link: version === 4 ? "ipv4" : "ipv6" }),
    fc.boolean().map((bigEndianNullFamily): LinkSpec => ({ link: "null", bigEndianNullFamily })),
  );
}

/** Ports that are not in Zeek's likely_server_ports, so the sender of a lone packet stays the originator. */
const clientPort = fc.integer({ min: 30000, max: 65535 });

interface Case { addrs: Addresses; spec: TcpSegmentSpec; link: LinkSpec }

function segmentCase(flags: fc.Arbitrary<number>, ports: fc.Arbitrary<number>, maxPayload: number): fc.Arbitrary<Case> {
  return addresses.chain((addrs) => fc.record({
    addrs: fc.constant(addrs),
    link: linkFor(addrs.version),
    spec: fc.record({
      sport: ports, dport: ports, seq: u32, ack: u32, flags,
      window: fc.integer({ min: 0, max: 0xffff }),
      payload: fc.integer({ min: 0, max: maxPayload }),
      options: tcpOptions,
      urgent: fc.integer({ min: 0, max: 0xffff }),
      ipOptions: addrs.version === 4 ? ipv4Options : fc.constant(undefined),
      ipv6ExtHeaders: addrs.version === 6 ? ipv6ExtHeaders : fc.constant(undefined),
    }).map((s): TcpSegmentSpec => ({ ...s, src: addrs.src, dst: addrs.dst })),
  }));
}

/** A SYN without ACK/FIN/RST (the sender is the originator whatever the ports), with ECN/PSH/URG bits at random. */
const pureSynFlags = fc.subarray([ECE, CWR, PSH, URG]).map((extra) => extra.reduce((a, b) => a | b, SYN));
const anyFlags = fc.integer({ min: 0, max: 0xff });

// ---- Helpers ----------------------------------------------------------------------------------

function packetOf(c: Case): Uint8Array {
  return frame(ipPacket(c.spec), c.link);
}

function linkHeaderLen(link: LinkSpec): number {
  switch (link.link) {
    case "ethernet": return 14 + 4 * (link.vlans?.length ?? 0);
    case "null":
    case "loop": return 4;
    case "sll": return 16;
    case "sll2": return 20;
    default: return 0;
  }
}

function ipHeaderLen(c: Case): number {
  if (c.addrs.version === 4) return IPV4_HEADER_LEN + (((c.spec.ipOptions?.length ?? 0) + 3) & ~3);
  return IPV6_HEADER_LEN + (c.spec.ipv6ExtHeaders ?? []).reduce((sum, h) => sum + (h.type === 44 ? 8 : h.length ?? 8), 0);
}

function tcpOptionsLen(options: TcpOptionsSpec | undefined): number {
  return writeTcpOptions(new Uint8Array(64), 0, options);
}

/**
 * Zeek's history of a lone SYN (TCPSessionAdapter::Process, in its order): 'S'; then 'W' from
 * update_window, which records a zero window on any segment but a RST (a SYN included); then 'T'
 * when the SYN carries data, because init_endpoint already set last_seq past the segment, so
 * update_last_seq sees delta_last == 0 with len > 0 and calls DidRxmit.
 */
function synHistory(spec: TcpSegmentSpec): string {
  return "S" + (spec.window === 0 ? "W" : "") + ((spec.payload as number) > 0 ? "T" : "");
}

function captureOf(c: Case, records: CapturedPacket[]): Uint8Array {
  return pcapOf(records, { linkType: linkTypeOf(c.link.link) });
}

// ---- Properties -------------------------------------------------------------------------------

describe("a lone TCP segment decodes into the connection that was encoded", () => {
  it("a pure SYN: identity, VLAN and the SYN's options (checksums verified)", async () => {
    await fc.assert(fc.asyncProperty(segmentCase(pureSynFlags, fc.integer({ min: 1, max: 65535 }), 1400), async (c) => {
      const { rows, stats } = await analyzeRows(captureOf(c, [{ tsNs: START_NS, data: packetOf(c) }]), { verifyChecksums: true });
      expect(stats).toMatchObject({ records: 1, tcpPackets: 1, badChecksums: 0 });
      const o = c.spec.options;
      expect(rows).toEqual([expect.objectContaining({
        ip_version: c.addrs.version,
        orig_h: c.addrs.srcText, orig_p: c.spec.sport,
        resp_h: c.addrs.dstText, resp_p: c.spec.dport,
        vlan: c.link.vlans?.[0] ?? null, // the outermost tag
        orig_mss: o?.mss ?? null,
        orig_wscale: o?.wscale ?? null,
        orig_sack_ok: o?.sackOk ?? false,
        orig_ts_ok: o?.ts !== undefined,
        orig_isn: c.spec.seq,
        ecn: false, // needs the responder's ECN-setup SYN-ACK (RFC 3168 §6.1.1)
        syn_ts: START_NS, orig_pkts: 1, resp_pkts: 0,
        history: synHistory(c.spec),
        // Wireshark's counters: zero_window excludes SYN/FIN/RST; a first SYN is never a retransmission.
        orig_zero_windows: 0,
        orig_retransmits: 0,
      })]);
    }), { numRuns: NUM_RUNS });
  });

  it("any flags from non-server ports: the sender is the originator", async () => {
    await fc.assert(fc.asyncProperty(segmentCase(anyFlags, clientPort, 1400), async (c) => {
      const { rows, stats } = await analyzeRows(captureOf(c, [{ tsNs: START_NS, data: packetOf(c) }]), { verifyChecksums: true });
      expect(stats).toMatchObject({ records: 1, tcpPackets: 1 });
      expect(rows).toEqual([expect.objectContaining({
        ip_version: c.addrs.version,
        orig_h: c.addrs.srcText, orig_p: c.spec.sport,
        resp_h: c.addrs.dstText, resp_p: c.spec.dport,
        vlan: c.link.vlans?.[0] ?? null,
        orig_pkts: 1, resp_pkts: 0,
        orig_ip_bytes: ipHeaderLen(c) + TCP_HEADER_LEN + tcpOptionsLen(c.spec.options) + (c.spec.payload as number),
      })]);
    }), { numRuns: NUM_RUNS });
  });
});

describe("who originates a connection first seen mid-way (Zeek's TCPAnalyzer::WantConnection)", () => {
  // 22 (ssh), 80 and 8080 (http), 443 (ssl) are in Zeek's default likely_server_ports; the others are not.
  const LIKELY = new Set([22, 80, 443, 8080]);
  const ports = fc.constantFrom(22, 80, 443, 8080, 5000, 40000, 50000);

  /** A pure SYN keeps its sender; otherwise a likely server source port flips, unless both are likely (then only a non-SYN from the lower port). */
  function senderIsResponder(flags: number, sport: number, dport: number): boolean {
    if ((flags & SYN) !== 0 && (flags & ACK) === 0) return false;
    if (!LIKELY.has(sport)) return false;
    if (LIKELY.has(dport)) return (flags & SYN) === 0 && sport < dport;
    return true;
  }

  it("a lone packet's roles follow the likely-server-port rule, and a flip starts the history with '^'", async () => {
    const arb = fc.record({ flags: anyFlags, sport: ports, dport: ports }).filter((c) => c.sport !== c.dport);
    await fc.assert(fc.asyncProperty(arb, async ({ flags, sport, dport }) => {
      const spec = tcpSpec({ flags, sport, dport, options: undefined });
      const row = await onlyRow(pcapOf([{ tsNs: START_NS, data: ethernet(ipPacket(spec)) }]));
      const flipped = senderIsResponder(flags, sport, dport);
      expect(row).toMatchObject(flipped
        ? { orig_h: SERVER, orig_p: dport, resp_h: CLIENT, resp_p: sport, resp_pkts: 1, orig_pkts: 0 }
        : { orig_h: CLIENT, orig_p: sport, resp_h: SERVER, resp_p: dport, orig_pkts: 1, resp_pkts: 0 });
      expect((row.history as string | null)?.startsWith("^") ?? false).toBe(flipped);
    }), { numRuns: NUM_RUNS });
  });
});

describe("a frame cut at every length", () => {
  it("never throws, keeps the accounting, and counts cuts inside the headers as truncated", async () => {
    await fc.assert(fc.asyncProperty(segmentCase(anyFlags, clientPort, 48), async (c) => {
      const data = packetOf(c);
      const records: CapturedPacket[] = [];
      for (let capLen = 0; capLen <= data.length; capLen++) {
        records.push({ tsNs: START_NS + BigInt(capLen) * 1000n, data: data.subarray(0, capLen), origLen: data.length });
      }
      const { stats } = await analyze(captureOf(c, records));
      assertAccounting(stats);
      const linkEnd = linkHeaderLen(c.link);
      // Zeek's truncated_header: a segment whose TCP header (options included) is not whole is not used.
      const tcpHeaderEnd = linkEnd + ipHeaderLen(c) + TCP_HEADER_LEN + tcpOptionsLen(c.spec.options);
      const wholeHeaders = data.length + 1 - tcpHeaderEnd;
      expect(stats.records).toBe(records.length);
      expect(stats.tcpPackets).toBe(wholeHeaders);
      // Cut inside the link header the network protocol may be unknown (not IP) or known but cut.
      expect(stats.truncatedHeaders + stats.nonIp).toBe(tcpHeaderEnd);
      expect(stats.nonIp).toBeLessThanOrEqual(linkEnd);
      expect(stats).toMatchObject({ nonTcpIp: 0, ipFragments: 0, badHeaders: 0, unsupportedLinkType: 0, badChecksums: 0, truncatedRecords: 0 });
    }), { numRuns: NUM_RUNS });
  });
});

// ---- Frames that are not (usable) TCP: one bucket each ---------------------------------------

const CLIENT = "10.0.0.1";
const SERVER = "10.0.0.2";

function tcpSpec(overrides: Partial<TcpSegmentSpec> = {}): TcpSegmentSpec {
  return { src: CLIENT, dst: SERVER, sport: 40000, dport: 80, seq: 1000, ack: 0, flags: SYN, options: { mss: 1460 }, ...overrides };
}

function ethernet(ip: Uint8Array): Uint8Array {
  return frame(ip, { link: "ethernet" });
}

/** Recomputes the IPv4 header checksum after a test edited the header. */
function fixIpv4Checksum(ip: Uint8Array): Uint8Array {
  const IPV4_CHECKSUM = 10;
  putU16(ip, IPV4_CHECKSUM, 0);
  putU16(ip, IPV4_CHECKSUM, finishChecksum(checksumSum(ip, 0, (ip[0]! & 0x0f) * 4)));
  return ip;
}

async function statsOfFrames(frames: Uint8Array[], linkType?: number) {
  const packets = frames.map((data, i) => ({ tsNs: START_NS + BigInt(i) * NS_PER_SECOND, data }));
  return (await analyzeRows(pcapOf(packets, linkType === undefined ? {} : { linkType }))).stats;
}

describe("frames that are not TCP land in their own bucket", () => {
  it("UDP and ICMP are other IP protocols; ARP is not IP", async () => {
    const stats = await statsOfFrames([
      ethernet(udpPacket(CLIENT, SERVER, 5353, 53, 40)),
      ethernet(icmpEcho(CLIENT, SERVER)),
      ethernet(icmpEcho("2001:db8::1", "2001:db8::2")),
      arpFrame(CLIENT, SERVER),
    ]);
    expect(stats).toMatchObject({ records: 4, nonTcpIp: 3, nonIp: 1, tcpPackets: 0, connections: 0 });
  });

  it("a link type synfin does not decode", async () => {
    const LINKTYPE_IEEE802_11 = 105;
    const stats = await statsOfFrames([ethernet(ipPacket(tcpSpec()))], LINKTYPE_IEEE802_11);
    expect(stats).toMatchObject({ records: 1, unsupportedLinkType: 1, connections: 0 });
  });

  describe("IPv4 fragments are reassembled, as Zeek does", () => {
    const IPV4_HEADER = 20;
    const IPV4_TOTAL_LENGTH = 2;
    const IPV4_FLAGS_FRAGMENT = 6;
    const MORE_FRAGMENTS = 0x2000;
    /** 20 bytes of TCP header and 200 of payload: an IP payload of 220 bytes. */
    const datagram = () => ipPacket(tcpSpec({ flags: ACK | PSH, ack: 5000, options: undefined, payload: 200 }));

    /** RFC 791 §3.2: the datagram's data from `start` (a multiple of 8) to `end`, as one fragment. */
    function fragmentOf(ip: Uint8Array, start: number, end: number, more: boolean): Uint8Array {
      const piece = new Uint8Array(IPV4_HEADER + end - start);
      piece.set(ip.subarray(0, IPV4_HEADER));
      piece.set(ip.subarray(IPV4_HEADER + start, IPV4_HEADER + end), IPV4_HEADER);
      putU16(piece, IPV4_TOTAL_LENGTH, piece.length);
      putU16(piece, IPV4_FLAGS_FRAGMENT, (start / 8) | (more ? MORE_FRAGMENTS : 0));
      return fixIpv4Checksum(piece);
    }

    it("two fragments that complete a datagram are one TCP segment, counted at its full length", async () => {
      const ip = datagram();
      const frames = [ethernet(fragmentOf(ip, 104, 220, false)), ethernet(fragmentOf(ip, 0, 104, true))];
      const packets = frames.map((data, i) => ({ tsNs: START_NS + BigInt(i) * NS_PER_SECOND, data }));
      const { rows, stats } = await analyzeRows(pcapOf(packets));
      // The first record waits for its datagram; the second completes it.
      expect(stats).toMatchObject({ records: 2, ipFragments: 1, tcpPackets: 1 });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ orig_pkts: 1, orig_ip_bytes: ip.length, ts: START_NS + NS_PER_SECOND, history: "D" });
    });

    it("fragments that never complete their datagram are only counted", async () => {
      const ip = datagram();
      const stats = await statsOfFrames([ethernet(fragmentOf(ip, 0, 104, true)), ethernet(fragmentOf(ip, 104, 200, true))]);
      expect(stats).toMatchObject({ records: 2, ipFragments: 2, tcpPackets: 0, connections: 0 });
    });

    it("a first fragment cut by the snap length is used alone when its TCP header is whole", async () => {
      const first = ethernet(fragmentOf(datagram(), 0, 104, true));
      const cut = { tsNs: START_NS, data: first.subarray(0, 14 + IPV4_HEADER + 20 + 10), origLen: first.length };
      const { stats } = await analyzeRows(pcapOf([cut]));
      expect(stats).toMatchObject({ records: 1, tcpPackets: 1 });
    });
  });

  it("impossible header fields are bad headers", async () => {
    const badVersion = ipPacket(tcpSpec());
    badVersion[0] = 0x55; // IP version 5
    const shortIhl = ipPacket(tcpSpec());
    shortIhl[0] = 0x44; // IHL 4 words < the 20-byte minimum (RFC 791)
    const shortTotalLength = ipPacket(tcpSpec());
    putU16(shortTotalLength, 2, 12); // total length below the header length
    const tcpDataOffset = ipPacket(tcpSpec());
    const TCP_DATA_OFFSET = IPV4_HEADER_LEN + 12;
    tcpDataOffset[TCP_DATA_OFFSET] = 4 << 4; // data offset 4 words < 5 (RFC 9293 §3.1)
    const stats = await statsOfFrames([badVersion, fixIpv4Checksum(shortIhl), fixIpv4Checksum(shortTotalLength), tcpDataOffset].map(ethernet));
    expect(stats).toMatchObject({ records: 4, badHeaders: 4, tcpPackets: 0 });
  });

  it("with verifyChecksums, a bad IPv4 header checksum or TCP checksum drops the packet", async () => {
    const frames = [
      ethernet(ipPacket(tcpSpec({ badIpChecksum: true }))),
      ethernet(ipPacket(tcpSpec({ badTcpChecksum: true, seq: 5000 }))),
      ethernet(ipPacket(tcpSpec({ src: "2001:db8::1", dst: "2001:db8::2", badTcpChecksum: true }))),
    ];
    expect(await statsOfFrames(frames)).toMatchObject({ records: 3, tcpPackets: 3, badChecksums: 0 });
    const packets = frames.map((data, i) => ({ tsNs: START_NS + BigInt(i) * NS_PER_SECOND, data }));
    const { stats } = await analyzeRows(pcapOf(packets), { verifyChecksums: true });
    expect(stats).toMatchObject({ records: 3, tcpPackets: 0, badChecksums: 3 });
  });
});

describe("bytes after the IP packet are not payload", () => {
  it("Ethernet padding to the 60-byte minimum frame, and a 4-byte FCS, change nothing", async () => {
    const ETHERNET_MIN_FRAME = 60; // IEEE 802.3 minimum without the FCS: a pure ACK (54 bytes) is padded
    const FCS_LEN = 4;
    const packets = new Conversation({ client: CLIENT, server: SERVER, clientPort: 40000, serverPort: 80, startNs: START_NS })
      .handshake().data("client", 1).ack("server").data("server", 3).ack("client").close("server").packets();
    const padded = packets.map((p) => {
      const len = Math.max(p.data.length, ETHERNET_MIN_FRAME) + FCS_LEN;
      const data = new Uint8Array(len).fill(0xa5, p.data.length);
      data.set(p.data);
      return { ...p, data };
    });
    const plain = await onlyRow(pcapOf(packets));
    const withTrailers = await onlyRow(pcapOf(padded), { verifyChecksums: true });
    expect(withTrailers).toEqual(plain);
    expect(plain).toMatchObject({ history: "ShADadfF", orig_bytes: 1, resp_bytes: 3 });
  });
});

describe("Ethernet encapsulations around the IP packet", () => {
  const MACS = [...SERVER_MAC, ...CLIENT_MAC];
  const be16 = (n: number) => [n >>> 8, n & 0xff];
  /** The same conversation with every IP packet wrapped by `wrap` into an Ethernet frame. */
  async function rowWith(wrap: (ip: Uint8Array) => number[]): Promise<Row> {
    const packets = new Conversation({ client: CLIENT, server: SERVER, clientPort: 40000, serverPort: 80, link: { link: "raw" }, startNs: START_NS })
      .handshake().data("client", 100).ack("server").close("client").packets()
      .map((p) => ({ ...p, data: Uint8Array.from(wrap(p.data)) }));
    return onlyRow(pcapOf(packets));
  }
  const expected = { orig_h: CLIENT, resp_h: SERVER, conn_state: "SF", history: "ShADaFf", orig_bytes: 100 };

  it("IEEE 802.3 length + 802.2 LLC/SNAP (RFC 1042)", async () => {
    const LLC_SNAP = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, ...be16(0x0800)];
    expect(await rowWith((ip) => [...MACS, ...be16(LLC_SNAP.length + ip.length), ...LLC_SNAP, ...ip]))
      .toMatchObject({ ...expected, vlan: null });
  });

  it("a VLAN tag with the pre-standard QinQ TPID 0x9100", async () => {
    expect(await rowWith((ip) => [...MACS, ...be16(0x9100), ...be16(0x0123), ...be16(0x0800), ...ip]))
      .toMatchObject({ ...expected, vlan: 0x123 });
  });

  it("an MPLS label stack (RFC 3032): IP after the bottom-of-stack label", async () => {
    const label = (value: number, bottom: boolean) => { const w = (value << 12) | (bottom ? 0x100 : 0) | 64; return [w >>> 24, (w >>> 16) & 0xff, (w >>> 8) & 0xff, w & 0xff]; };
    expect(await rowWith((ip) => [...MACS, ...be16(0x8847), ...label(1000, false), ...label(16, true), ...ip]))
      .toMatchObject({ ...expected, tunnel: "mpls" });
  });

  it("a PPPoE session (RFC 2516) carrying PPP protocol 0x0021 (IPv4)", async () => {
    const PPPOE_VER_TYPE = 0x11, SESSION_DATA = 0x00, SESSION_ID = 0x0042, PPP_IPV4 = 0x0021;
    expect(await rowWith((ip) => [...MACS, ...be16(0x8864), PPPOE_VER_TYPE, SESSION_DATA, ...be16(SESSION_ID), ...be16(ip.length + 2), ...be16(PPP_IPV4), ...ip]))
      .toMatchObject({ ...expected, tunnel: "pppoe" });
  });
});

describe("BSD null/loopback address families", () => {
  it("AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (Darwin), in either byte order", async () => {
    const packets = new Conversation({ client: "2001:db8::1", server: "2001:db8::2", clientPort: 40000, serverPort: 80, link: { link: "null" }, startNs: START_NS })
      .handshake().close("client").packets();
    for (const family of [24, 28, 30]) {
      for (const littleEndian of [true, false]) {
        const framed = packets.map((p) => {
          const data = p.data.slice();
          new DataView(data.buffer).setUint32(0, family, littleEndian);
          return { ...p, data };
        });
        const row = await onlyRow(pcapOf(framed, { linkType: linkTypeOf("null") }));
        expect(row, `family ${family}`).toMatchObject({ ip_version: 6, orig_h: "2001:db8::1", conn_state: "SF" });
      }
    }
  });
});

describe("a whole conversation on every link type", () => {
  const links: LinkSpec[] = [
    { link: "ethernet" }, { link: "ethernet", vlans: [100] }, { link: "ethernet", vlans: [200, 100] },
    { link: "raw" }, { link: "null" }, { link: "null", bigEndianNullFamily: true }, { link: "loop" },
    { link: "sll" }, { link: "sll2" }, { link: "ipv4" }, { link: "ipv6" },
  ];
  const hosts = { 4: [CLIENT, SERVER], 6: ["2001:db8::a", "2001:db8::b"] } as const;
  for (const version of [4, 6] as const) {
    for (const link of links.filter((l) => l.link !== (version === 4 ? "ipv6" : "ipv4"))) {
      const name = `IPv${version} over ${link.link}${link.vlans ? ` with VLANs ${link.vlans.join("/")}` : ""}${link.bigEndianNullFamily ? " (big-endian family)" : ""}`;
      it(name, async () => {
        const [client, server] = hosts[version];
        const conv = new Conversation({ client, server, clientPort: 40000, serverPort: 80, link })
          .handshake().data("client", 300).ack("server").close("client");
        const row = await onlyRow(pcapOf(conv.packets(), { linkType: linkTypeOf(link.link) }));
        expect(row).toMatchObject({ ip_version: version, orig_h: client, conn_state: "SF", history: "ShADaFf", orig_bytes: 300, vlan: link.vlans?.[0] ?? null });
      });
    }
  }
});
