// Tests of the synthetic capture writer, checked with an independent pcap/pcapng reader and checksum verifier written here.

import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PcapStreamWriter, writePcap, writePcapng } from "../src/synth/capture.js";
import type { CapturedPacket, PcapngInterface } from "../src/synth/capture.js";
import { Conversation, interleave } from "../src/synth/conversation.js";
import {
  ACK, FIN, LINKTYPE, PSH, RST, SYN, arpFrame, frame, icmpEcho, ipPacket, linkTypeOf, parseIp, udpPacket,
} from "../src/synth/packet.js";
import type { LinkSpec, TcpSegmentSpec } from "../src/synth/packet.js";
import { synthPackets } from "../src/synth/synth.js";
import { writeSynthFile } from "../src/synth/synth-file.js";

// ---- Independent reader -----------------------------------------------------------------

interface Rec { tsNs: bigint; capLen: number; origLen: number; data: Uint8Array; interfaceId: number }

interface PcapFile { magic: number; bigEndian: boolean; nanos: boolean; snaplen: number; linkType: number; records: Rec[] }

function readPcap(bytes: Uint8Array): PcapFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicBE = view.getUint32(0, false);
  const known = [0xa1b2c3d4, 0xa1b23c4d];
  const bigEndian = known.includes(magicBE);
  const le = !bigEndian;
  const magic = view.getUint32(0, le);
  if (!known.includes(magic)) throw new Error(`not pcap: ${magicBE.toString(16)}`);
  const nanos = magic === 0xa1b23c4d;
  expect([view.getUint16(4, le), view.getUint16(6, le)]).toEqual([2, 4]);
  const records: Rec[] = [];
  let at = 24;
  while (at < bytes.length) {
    const sec = BigInt(view.getUint32(at, le));
    const frac = BigInt(view.getUint32(at + 4, le));
    const capLen = view.getUint32(at + 8, le);
    const origLen = view.getUint32(at + 12, le);
    expect(at + 16 + capLen).toBeLessThanOrEqual(bytes.length);
    const tsNs = sec * 1_000_000_000n + (nanos ? frac : frac * 1000n);
    records.push({ tsNs, capLen, origLen, data: bytes.subarray(at + 16, at + 16 + capLen), interfaceId: 0 });
    at += 16 + capLen;
  }
  return { magic, bigEndian, nanos, snaplen: view.getUint32(16, le), linkType: view.getUint32(20, le), records };
}

interface NgInterface { linkType: number; snaplen: number; tsresol: number; tsoffsetSec: bigint }
interface NgSection { bigEndian: boolean; interfaces: NgInterface[]; blockTypes: number[]; records: Rec[] }

/** Walks pcapng blocks, checking every block's trailing length equals its leading one. */
function readPcapng(bytes: Uint8Array): NgSection[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sections: NgSection[] = [];
  let le = true;
  let at = 0;
  while (at < bytes.length) {
    if (view.getUint32(at, true) === 0x0a0d0d0a) {
      le = view.getUint32(at + 8, true) === 0x1a2b3c4d;
      expect(view.getUint32(at + 8, le)).toBe(0x1a2b3c4d);
      expect(view.getBigInt64(at + 16, le)).toBe(-1n);
      sections.push({ bigEndian: !le, interfaces: [], blockTypes: [], records: [] });
    }
    const section = sections[sections.length - 1];
    const type = view.getUint32(at, le);
    const totalLen = view.getUint32(at + 4, le);
    expect(totalLen % 4).toBe(0);
    expect(view.getUint32(at + totalLen - 4, le)).toBe(totalLen);
    section.blockTypes.push(type);
    readBlock(view, at, type, totalLen, le, section);
    at += totalLen;
  }
  expect(at).toBe(bytes.length);
  return sections;
}

function readBlock(view: DataView, at: number, type: number, totalLen: number, le: boolean, section: NgSection): void {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  if (type === 1) {
    const iface: NgInterface = { linkType: view.getUint16(at + 8, le), snaplen: view.getUint32(at + 12, le), tsresol: 6, tsoffsetSec: 0n };
    for (let opt = at + 16; opt < at + totalLen - 4;) {
      const code = view.getUint16(opt, le);
      const len = view.getUint16(opt + 2, le);
      if (code === 0) break;
      if (code === 9) iface.tsresol = view.getUint8(opt + 4);
      if (code === 14) iface.tsoffsetSec = view.getBigInt64(opt + 4, le);
      opt += 4 + ((len + 3) & ~3);
    }
    section.interfaces.push(iface);
  } else if (type === 6 || type === 2) {
    const interfaceId = type === 6 ? view.getUint32(at + 8, le) : view.getUint16(at + 8, le);
    const ticks = (BigInt(view.getUint32(at + 12, le)) << 32n) | BigInt(view.getUint32(at + 16, le));
    const capLen = view.getUint32(at + 20, le);
    const origLen = view.getUint32(at + 24, le);
    const iface = section.interfaces[interfaceId];
    const tsNs = ticksToNs(ticks, iface.tsresol) + iface.tsoffsetSec * 1_000_000_000n;
    section.records.push({ tsNs, capLen, origLen, data: bytes.subarray(at + 28, at + 28 + capLen), interfaceId });
  } else if (type === 3) {
    const origLen = view.getUint32(at + 8, le);
    const capLen = Math.min(origLen, section.interfaces[0].snaplen || Infinity);
    expect(totalLen).toBe(16 + ((capLen + 3) & ~3));
    section.records.push({ tsNs: -1n, capLen, origLen, data: bytes.subarray(at + 12, at + 12 + capLen), interfaceId: 0 });
  }
}

function ticksToNs(ticks: bigint, tsresol: number): bigint {
  if (tsresol & 0x80) return (ticks * 1_000_000_000n) >> BigInt(tsresol & 0x7f);
  return tsresol <= 9 ? ticks * 10n ** BigInt(9 - tsresol) : ticks / 10n ** BigInt(tsresol - 9);
}

// ---- Independent checksum verification --------------------------------------------------

function wordSum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (bytes[i] << 8) | (i + 1 < end ? bytes[i + 1] : 0);
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

interface Transport { protocol: number; offset: number; src: Uint8Array; dst: Uint8Array; ipv4HeaderOk: boolean }

/** Finds the transport header in an IP packet, walking IPv6 extension headers. */
function transportOf(ip: Uint8Array): Transport {
  if (ip[0] >> 4 === 4) {
    const headerLen = (ip[0] & 0x0f) * 4;
    return { protocol: ip[9], offset: headerLen, src: ip.subarray(12, 16), dst: ip.subarray(16, 20), ipv4HeaderOk: fold(wordSum(ip, 0, headerLen)) === 0xffff };
  }
  let next = ip[6];
  let offset = 40;
  while ([0, 43, 60, 44].includes(next)) {
    const len = next === 44 ? 8 : (ip[offset + 1] + 1) * 8;
    next = ip[offset];
    offset += len;
  }
  return { protocol: next, offset, src: ip.subarray(8, 24), dst: ip.subarray(24, 40), ipv4HeaderOk: true };
}

function transportChecksumOk(ip: Uint8Array): boolean {
  const t = transportOf(ip);
  const l4Len = ip.length - t.offset;
  let sum = wordSum(ip, t.offset, ip.length);
  if (t.protocol !== 1) sum += wordSum(t.src, 0, t.src.length) + wordSum(t.dst, 0, t.dst.length) + t.protocol + l4Len;
  return fold(sum) === 0xffff;
}

function ipOfEthernet(eth: Uint8Array): Uint8Array {
  let at = 12;
  while (((eth[at] << 8) | eth[at + 1]) === 0x8100 || ((eth[at] << 8) | eth[at + 1]) === 0x88a8) at += 4;
  return eth.subarray(at + 2);
}

const u16 = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number): number => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

interface TcpView { seq: number; ack: number; flags: number; window: number; payloadLen: number; options: Uint8Array }

function tcpOf(ip: Uint8Array): TcpView {
  const t = transportOf(ip);
  const at = t.offset;
  const headerLen = (ip[at + 12] >> 4) * 4;
  return { seq: u32(ip, at + 4), ack: u32(ip, at + 8), flags: ip[at + 13], window: u16(ip, at + 14), payloadLen: ip.length - at - headerLen, options: ip.subarray(at + 20, at + headerLen) };
}

// ---- Fixtures ---------------------------------------------------------------------------

const BASE_NS = 1_700_000_000_123_456_789n;

function samplePackets(count: number): CapturedPacket[] {
  return Array.from({ length: count }, (_, i) => ({
    tsNs: BASE_NS + BigInt(i) * 1_000_001n,
    data: frame(ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", sport: 1000 + i, dport: 80, seq: i, ack: 0, flags: SYN, payload: i * 50 }), { link: "ethernet" }),
  }));
}

const segment = (extra: Partial<TcpSegmentSpec> = {}): TcpSegmentSpec =>
  ({ src: "192.168.1.10", dst: "192.168.1.20", sport: 51000, dport: 443, seq: 0xfffffff0, ack: 77, flags: PSH | ACK, payload: 333, ...extra });

// ---- pcap -------------------------------------------------------------------------------

describe("writePcap", () => {
  const variants = [
    { nanos: false, bigEndian: false, head: [0xd4, 0xc3, 0xb2, 0xa1] },
    { nanos: false, bigEndian: true, head: [0xa1, 0xb2, 0xc3, 0xd4] },
    { nanos: true, bigEndian: false, head: [0x4d, 0x3c, 0xb2, 0xa1] },
    { nanos: true, bigEndian: true, head: [0xa1, 0xb2, 0x3c, 0x4d] },
  ];

  it.each(variants)("writes magic, records and timestamps (nanos=$nanos, bigEndian=$bigEndian)", ({ nanos, bigEndian, head }) => {
    const packets = samplePackets(5);
    const bytes = writePcap(packets, { linkType: LINKTYPE.ETHERNET, nanos, bigEndian });
    expect([...bytes.subarray(0, 4)]).toEqual(head);
    const file = readPcap(bytes);
    expect(file.linkType).toBe(LINKTYPE.ETHERNET);
    expect(file.snaplen).toBe(262144);
    expect(file.records).toHaveLength(5);
    file.records.forEach((rec, i) => {
      const expectedNs = nanos ? packets[i].tsNs : (packets[i].tsNs / 1000n) * 1000n;
      expect(rec.tsNs).toBe(expectedNs);
      expect(rec.capLen).toBe(packets[i].data.length);
      expect(rec.origLen).toBe(packets[i].data.length);
      expect(rec.data).toEqual(packets[i].data);
    });
  });

  it("cuts packets at snaplen and keeps the original length", () => {
    const packets: CapturedPacket[] = [
      { tsNs: 1n, data: new Uint8Array(200).fill(7) },
      { tsNs: 2n, data: new Uint8Array(50).fill(8) },
      { tsNs: 3n, data: new Uint8Array(60).fill(9), origLen: 1514 },
    ];
    const file = readPcap(writePcap(packets, { linkType: LINKTYPE.RAW, snaplen: 96 }));
    expect(file.snaplen).toBe(96);
    expect(file.records.map((r) => [r.capLen, r.origLen])).toEqual([[96, 200], [50, 50], [60, 1514]]);
    expect(file.records[0].data).toEqual(new Uint8Array(96).fill(7));
  });

  it("streams the same bytes record by record, also into a caller buffer", () => {
    const packets = samplePackets(4);
    const opts = { linkType: LINKTYPE.ETHERNET, nanos: true, bigEndian: true, snaplen: 80 };
    const whole = writePcap(packets, opts);
    const writer = new PcapStreamWriter(opts);
    const parts = [writer.header(), ...packets.map((p) => writer.packet(p.tsNs, p.data, p.origLen))];
    expect(concat(parts)).toEqual(whole);
    const buf = new Uint8Array(whole.length + 10);
    buf.set(writer.header(), 0);
    let offset = 24;
    for (const p of packets) offset = writer.writeRecordInto(buf, offset, p.tsNs, p.data);
    expect(offset).toBe(whole.length);
    expect(buf.subarray(0, offset)).toEqual(whole);
  });

  it("handles timestamps that cross seconds and go backwards", () => {
    const times = [5_999_999_999n, 6_000_000_000n, 4_000_000_001n, 6_500_000_000n];
    const packets = times.map((tsNs) => ({ tsNs, data: new Uint8Array(4) }));
    expect(readPcap(writePcap(packets, { linkType: 1, nanos: true })).records.map((r) => r.tsNs)).toEqual(times);
  });
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// ---- pcapng -----------------------------------------------------------------------------

describe("writePcapng", () => {
  it("writes several sections of different byte order with per-interface resolutions", () => {
    const packets = samplePackets(6);
    const at64th = (i: number): bigint => 1_700_000_000n * 1_000_000_000n + BigInt(i) * 15_625_000n; // exact in 2^-6 s
    const interfaces: PcapngInterface[] = [{ linkType: LINKTYPE.ETHERNET, tsresol: 9 }, { linkType: LINKTYPE.RAW, tsresol: 0x86 }, { linkType: LINKTYPE.ETHERNET }];
    const bytes = writePcapng([
      { bigEndian: true, interfaces, packets: packets.map((p, i) => ({ ...p, interfaceId: i % 2, tsNs: i % 2 ? at64th(i) : p.tsNs })) },
      { bigEndian: false, interfaces: [{ linkType: LINKTYPE.ETHERNET, tsoffsetSec: 1_600_000_000, snaplen: 64 }], packets: packets.slice(0, 2) },
      { bigEndian: true, interfaces, packets: [{ ...packets[0], interfaceId: 2 }] },
    ]);
    expect([...bytes.subarray(8, 12)]).toEqual([0x1a, 0x2b, 0x3c, 0x4d]);
    const sections = readPcapng(bytes);
    expect(sections.map((s) => s.bigEndian)).toEqual([true, false, true]);
    expect(sections[0].interfaces.map((i) => i.tsresol)).toEqual([9, 0x86, 6]);
    expect(sections[0].records.map((r) => r.tsNs)).toEqual(packets.map((p, i) => (i % 2 ? at64th(i) : p.tsNs)));
    expect(sections[0].records.map((r) => r.interfaceId)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(sections[1].interfaces[0].tsoffsetSec).toBe(1_600_000_000n);
    expect(sections[1].records.map((r) => r.tsNs)).toEqual(packets.slice(0, 2).map((p) => (p.tsNs / 1000n) * 1000n));
    expect(sections[1].records.map((r) => [r.capLen, r.origLen])).toEqual([[54, 54], [64, 104]]);
    expect(sections[2].records[0].tsNs).toBe((packets[0].tsNs / 1000n) * 1000n);
    expect(sections[2].records[0].data).toEqual(packets[0].data);
  });

  it("interleaves name resolution, statistics, custom and decryption secrets blocks", () => {
    for (const bigEndian of [false, true]) {
      const [section] = readPcapng(writePcapng([{ bigEndian, interfaces: [{ linkType: 1 }, { linkType: 1 }], packets: samplePackets(3), extraBlocks: true }]));
      expect(section.blockTypes).toEqual([0x0a0d0d0a, 1, 1, 4, 6, 0x0bad, 6, 0x0a, 6, 5, 5]);
      expect(section.records).toHaveLength(3);
    }
    const [few] = readPcapng(writePcapng([{ interfaces: [{ linkType: 1 }], packets: [], extraBlocks: true }]));
    expect(few.blockTypes.slice().sort((a, b) => a - b)).toEqual([1, 4, 5, 0x0a, 0x0bad, 0x0a0d0d0a]);
  });

  it("writes simple packet blocks and obsolete packet blocks", () => {
    const packets = samplePackets(3);
    const [simple] = readPcapng(writePcapng([{ interfaces: [{ linkType: 1, snaplen: 100 }], packets, block: "spb" }]));
    expect(simple.blockTypes.filter((t) => t === 3)).toHaveLength(3);
    expect(simple.records.map((r) => [r.capLen, r.origLen])).toEqual([[54, 54], [100, 104], [100, 154]]);
    expect(simple.records[2].data).toEqual(packets[2].data.subarray(0, 100));
    const [obsolete] = readPcapng(writePcapng([{ bigEndian: true, interfaces: [{ linkType: 1, tsresol: 9 }], packets, block: "pb" }]));
    expect(obsolete.blockTypes.filter((t) => t === 2)).toHaveLength(3);
    expect(obsolete.records.map((r) => r.tsNs)).toEqual(packets.map((p) => p.tsNs));
  });
});

// ---- Packets ----------------------------------------------------------------------------

describe("ipPacket", () => {
  it("produces a valid IPv4 header checksum and TCP checksum", () => {
    const ip = ipPacket(segment({ ipId: 0x1234, dontFragment: true, ttl: 17, ipOptions: Uint8Array.of(1, 1, 1), options: { mss: 1200, eol: true } }));
    const t = transportOf(ip);
    expect(t.ipv4HeaderOk).toBe(true);
    expect(t.offset).toBe(24);
    expect([ip[8], u16(ip, 4), u16(ip, 6), u16(ip, 2)]).toEqual([17, 0x1234, 0x4000, ip.length]);
    expect(transportChecksumOk(ip)).toBe(true);
    const tcp = tcpOf(ip);
    expect([tcp.seq, tcp.ack, tcp.flags, tcp.window, tcp.payloadLen]).toEqual([0xfffffff0, 77, PSH | ACK, 65535, 333]);
    expect([...tcp.options]).toEqual([2, 4, 0x04, 0xb0, 0, 0, 0, 0]);
  });

  it("produces a valid TCP checksum over IPv6, also behind extension headers", () => {
    const plain = ipPacket(segment({ src: "fd00::1", dst: "fd00:0:0:0:0:0:0:2", payload: 1001 }));
    expect(plain[0] >> 4).toBe(6);
    expect(u16(plain, 4)).toBe(plain.length - 40);
    expect(transportChecksumOk(plain)).toBe(true);
    const ext = ipPacket(segment({ src: "2001:db8::10", dst: "::ffff:192.0.2.1", ipv6ExtHeaders: [{ type: 0 }, { type: 43, length: 24 }, { type: 44 }, { type: 60, length: 16 }] }));
    const t = transportOf(ext);
    expect([t.protocol, t.offset]).toEqual([6, 40 + 8 + 24 + 8 + 16]);
    expect(transportChecksumOk(ext)).toBe(true);
  });

  it("corrupts checksums on request", () => {
    const badTcp = ipPacket(segment({ badTcpChecksum: true }));
    expect(transportOf(badTcp).ipv4HeaderOk).toBe(true);
    expect(transportChecksumOk(badTcp)).toBe(false);
    const badIp = ipPacket(segment({ badIpChecksum: true }));
    expect(transportOf(badIp).ipv4HeaderOk).toBe(false);
    expect(transportChecksumOk(badIp)).toBe(true);
    expect(transportChecksumOk(ipPacket(segment({ src: "fd00::1", dst: "fd00::2", badTcpChecksum: true })))).toBe(false);
  });

  it("encodes TCP options in the documented order and pads them", () => {
    const syn = tcpOf(ipPacket(segment({ flags: SYN, payload: 0, options: { mss: 1460, sackOk: true, ts: [1, 2], wscale: 7 } })));
    expect([...syn.options]).toEqual([2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 7]);
    const sack = tcpOf(ipPacket(segment({ options: { ts: [9, 8], sack: [[100, 200]] } })));
    expect([...sack.options]).toEqual([8, 10, 0, 0, 0, 9, 0, 0, 0, 8, 5, 10, 0, 0, 0, 100, 0, 0, 0, 200]);
    const padded = tcpOf(ipPacket(segment({ options: { wscale: 2, sackOk: true } })));
    expect([...padded.options]).toEqual([4, 2, 1, 3, 3, 2, 1, 1]);
    expect(() => ipPacket(segment({ options: { ts: [1, 2], sack: [[1, 2], [3, 4], [5, 6], [7, 8]] } }))).toThrow();
  });

  it("fills a payload length with a deterministic pattern and copies given bytes", () => {
    const ip = ipPacket(segment({ payload: 300 }));
    const payload = ip.subarray(ip.length - 300);
    expect(payload[0]).toBe(0);
    expect(payload[255]).toBe(255);
    expect(payload[256]).toBe(0);
    const given = Uint8Array.of(9, 8, 7);
    expect([...ipPacket(segment({ payload: given })).subarray(-3)]).toEqual([9, 8, 7]);
  });

  it("parses IPv6 text in full, compressed and dotted-quad forms", () => {
    expect(parseIp("fd00::1")).toEqual(parseIp("fd00:0000:0:0:0:0:0:0001"));
    expect([...parseIp("::ffff:1.2.3.4").subarray(10)]).toEqual([0xff, 0xff, 1, 2, 3, 4]);
    expect([...parseIp("::")]).toEqual(new Array(16).fill(0));
    expect(() => parseIp("1::2::3")).toThrow();
    expect(() => parseIp("10.0.0.256")).toThrow();
  });

  it("builds valid UDP, ICMP and ICMPv6 packets and an ARP frame", () => {
    for (const ip of [udpPacket("10.0.0.1", "10.0.0.53", 5353, 53, 31), udpPacket("fd00::1", "fd00::2", 1, 2, 10), icmpEcho("10.0.0.1", "10.0.0.2"), icmpEcho("fd00::1", "fd00::2")]) {
      expect(transportOf(ip).ipv4HeaderOk).toBe(true);
      expect(transportChecksumOk(ip)).toBe(true);
    }
    const arp = arpFrame("10.0.0.7", "10.0.0.9");
    expect(arp).toHaveLength(42);
    expect(u16(arp, 12)).toBe(0x0806);
    expect([...arp.subarray(28, 32), ...arp.subarray(38, 42)]).toEqual([10, 0, 0, 7, 10, 0, 0, 9]);
  });
});

describe("frame", () => {
  const v4 = ipPacket(segment());
  const v6 = ipPacket(segment({ src: "fd00::1", dst: "fd00::2" }));

  it("wraps in Ethernet with stacked VLAN tags", () => {
    const eth = frame(v4, { link: "ethernet" });
    expect([eth.length, u16(eth, 12)]).toEqual([v4.length + 14, 0x0800]);
    const qinq = frame(v6, { link: "ethernet", vlans: [100, 200] });
    expect([u16(qinq, 12), u16(qinq, 14), u16(qinq, 16), u16(qinq, 18), u16(qinq, 20)]).toEqual([0x88a8, 100, 0x8100, 200, 0x86dd]);
    expect(ipOfEthernet(qinq)).toEqual(v6);
    const single = frame(v4, { link: "ethernet", vlans: [5] });
    expect([u16(single, 12), u16(single, 14), u16(single, 16)]).toEqual([0x8100, 5, 0x0800]);
  });

  it("writes loopback, cooked and raw headers", () => {
    expect([...frame(v4, { link: "null" }).subarray(0, 4)]).toEqual([2, 0, 0, 0]);
    expect([...frame(v6, { link: "null", bigEndianNullFamily: true }).subarray(0, 4)]).toEqual([0, 0, 0, 24]);
    expect([...frame(v6, { link: "loop" }).subarray(0, 4)]).toEqual([0, 0, 0, 24]);
    const sll = frame(v6, { link: "sll" });
    expect([sll.length - v6.length, u16(sll, 14)]).toEqual([16, 0x86dd]);
    const sll2 = frame(v4, { link: "sll2" });
    expect([sll2.length - v4.length, u16(sll2, 0), sll2[11]]).toEqual([20, 0x0800, 6]);
    expect(frame(v4, { link: "raw" })).toEqual(v4);
    expect(frame(v6, { link: "ipv6" })).toEqual(v6);
    expect(() => frame(v6, { link: "ipv4" })).toThrow();
  });

  it("maps link names to LINKTYPE values", () => {
    const links: Array<LinkSpec["link"]> = ["null", "ethernet", "raw", "loop", "sll", "ipv4", "ipv6", "sll2"];
    expect(links.map(linkTypeOf)).toEqual([0, 1, 101, 108, 113, 228, 229, 276]);
  });
});

// ---- Conversation -----------------------------------------------------------------------

function tcpPackets(conv: Conversation): TcpView[] {
  return conv.packets().map((p) => tcpOf(ipOfEthernet(p.data)));
}

describe("Conversation", () => {
  const endpoints = { client: "10.1.0.1", server: "10.1.0.2", clientPort: 40000, serverPort: 80 };

  it("acknowledges client data with isn + 1 + length", () => {
    const conv = new Conversation({ ...endpoints, clientIsn: 1000, serverIsn: 9000 }).handshake().data("client", 100).ack("server");
    const [syn, synAck, ack, data, serverAck] = tcpPackets(conv);
    expect([syn.seq, syn.flags, syn.ack]).toEqual([1000, SYN, 0]);
    expect([synAck.seq, synAck.ack, synAck.flags]).toEqual([9000, 1001, SYN | ACK]);
    expect([ack.seq, ack.ack, ack.flags]).toEqual([1001, 9001, ACK]);
    expect([data.seq, data.payloadLen, data.flags]).toEqual([1001, 100, PSH | ACK]);
    expect([serverAck.seq, serverAck.ack]).toEqual([9001, 1000 + 1 + 100]);
    expect(conv.seq("client")).toBe(1101);
    conv.packets().forEach((p) => expect(transportChecksumOk(ipOfEthernet(p.data))).toBe(true));
  });

  it("wraps sequence numbers near 2^32", () => {
    const conv = new Conversation({ ...endpoints, clientIsn: 0xfffffffe, serverIsn: 0xffffffff }).handshake().data("client", 10).data("server", 5).ack("client");
    const packets = tcpPackets(conv);
    expect(packets[1].ack).toBe(0xffffffff);
    expect([packets[2].seq, packets[2].ack]).toEqual([0xffffffff, 0]);
    expect(packets[4].seq).toBe(0);
    expect(packets[4].ack).toBe(9);
    expect(packets[5].ack).toBe(5);
    expect(conv.seq("server")).toBe(5);
  });

  it("models retransmissions, lost segments, zero windows, keep-alives, resets and closes", () => {
    const conv = new Conversation({ ...endpoints, clientIsn: 0, serverIsn: 0 })
      .handshake().data("server", 1000).skip("server", 500).data("server", 300).ack("client")
      .retransmit("server").raw("server", { seq: 1001, payload: 500, flags: ACK }).ack("client")
      .zeroWindow("client").keepAlive("client").close("client").rst("server", { withAck: true }).rst("client");
    const p = tcpPackets(conv);
    expect([p[3].seq, p[4].seq, p[4].payloadLen]).toEqual([1, 1501, 300]);
    expect(p[5].ack).toBe(1001); // the hole at 1001..1501 is still open
    expect([p[6].seq, p[6].payloadLen]).toEqual([1501, 300]);
    expect(p[8].ack).toBe(1801); // filling the hole acknowledges everything
    expect([p[9].window, p[9].flags]).toEqual([0, ACK]);
    expect([p[10].seq, p[10].payloadLen]).toEqual([0, 0]); // snd_nxt - 1
    expect(p.slice(11, 15).map((x) => x.flags)).toEqual([FIN | ACK, ACK, FIN | ACK, ACK]);
    expect([p[12].ack, p[14].ack]).toEqual([2, 1802]);
    expect([p[15].flags, p[16].flags, p[16].ack]).toEqual([RST | ACK, RST, 0]);
  });

  it("repeats the ISN on SYN retransmission and carries SYN options and timestamps", () => {
    const conv = new Conversation({ ...endpoints, clientIsn: 77, wscale: 7, sackOk: true, mss: 1400, timestamps: true, stepNs: 5_000_000n })
      .syn().syn({ retransmit: true, after: 1_000_000_000n }).synAck().ack("client");
    const p = tcpPackets(conv);
    expect([p[0].seq, p[1].seq]).toEqual([77, 77]);
    expect([...p[0].options.subarray(0, 6)]).toEqual([2, 4, 5, 120, 4, 2]);
    expect(p[0].options).toHaveLength(20);
    const tsval = (o: Uint8Array): number => u32(o, o.indexOf(8) + 2);
    const tsecr = (o: Uint8Array): number => u32(o, o.indexOf(8) + 6);
    expect(tsecr(p[2].options)).toBe(tsval(p[1].options));
    expect(tsecr(p[3].options)).toBe(tsval(p[2].options));
    const times = conv.packets().map((x) => x.tsNs - conv.packets()[0].tsNs);
    expect(times).toEqual([0n, 1_000_000_000n, 1_005_000_000n, 1_010_000_000n]);
    expect(conv.nextTsNs() - conv.packets()[0].tsNs).toBe(1_015_000_000n);
  });

  it("uses the requested link and IPv6", () => {
    const conv = new Conversation({ client: "fd00::a", server: "fd00::b", clientPort: 1, serverPort: 2, link: { link: "sll2" } }).handshake();
    const [first] = conv.packets();
    expect(u16(first.data, 0)).toBe(0x86dd);
    expect(transportChecksumOk(first.data.subarray(20))).toBe(true);
  });

  it("interleaves conversations by time, stably", () => {
    const a = new Conversation({ ...endpoints, startNs: 1000n, stepNs: 10n }).handshake().packets();
    const b = new Conversation({ ...endpoints, clientPort: 40001, startNs: 1005n, stepNs: 5n }).handshake().packets();
    const merged = interleave(a, b);
    expect(merged.map((p) => p.tsNs)).toEqual([1000n, 1005n, 1010n, 1010n, 1015n, 1020n]);
    expect(merged[2]).toBe(a[1]);
    expect(merged[3]).toBe(b[1]);
  });
});

// ---- Synthetic traffic ------------------------------------------------------------------

function digest(packets: Iterable<CapturedPacket>): string {
  let hash = 2166136261;
  let count = 0;
  for (const p of packets) {
    count++;
    hash = Math.imul(hash ^ Number(p.tsNs % 1_000_000_007n), 16777619);
    hash = Math.imul(hash ^ (p.origLen ?? 0), 16777619);
    for (const byte of p.data) hash = Math.imul(hash ^ byte, 16777619);
  }
  return `${count}:${(hash >>> 0).toString(16)}`;
}

describe("synthPackets", () => {
  it("is deterministic for a seed and differs for another", () => {
    const opts = { connections: 40, concurrency: 8 };
    const first = digest(synthPackets({ ...opts, seed: 42 }));
    expect(digest(synthPackets({ ...opts, seed: 42 }))).toBe(first);
    expect(digest(synthPackets({ ...opts, seed: 42, reuseBuffers: true }))).toBe(first);
    expect(digest(synthPackets({ ...opts, seed: 43 }))).not.toBe(first);
  });

  it("produces monotonic, checksummed traffic with the advertised mix", () => {
    const packets = Array.from(synthPackets({ seed: 5, connections: 400, concurrency: 64 }));
    let last = -1n;
    const counts = { ipv6: 0, vlan: 0, nonTcp: 0, syn: 0, rst: 0, fin: 0, tcp: 0 };
    for (const p of packets) {
      expect(p.tsNs).toBeGreaterThanOrEqual(last);
      expect(p.tsNs % 1000n).toBe(0n);
      last = p.tsNs;
      const ethertype = u16(p.data, 12);
      if (ethertype === 0x8100) counts.vlan++;
      if (ethertype === 0x0806) { counts.nonTcp++; continue; }
      const ip = ipOfEthernet(p.data);
      const t = transportOf(ip);
      expect(t.ipv4HeaderOk).toBe(true);
      expect(transportChecksumOk(ip)).toBe(true);
      if (t.protocol !== 6) { counts.nonTcp++; continue; }
      counts.tcp++;
      if (ip[0] >> 4 === 6) counts.ipv6++;
      const flags = tcpOf(ip).flags;
      if (flags === SYN) counts.syn++;
      if (flags & RST) counts.rst++;
      if (flags & FIN) counts.fin++;
    }
    expect(counts.syn).toBeGreaterThan(400);  // every connection, plus retries
    expect(counts.ipv6 / counts.tcp).toBeGreaterThan(0.01);
    expect(counts.vlan / packets.length).toBeGreaterThan(0.01);
    expect(counts.nonTcp / packets.length).toBeGreaterThan(0.005);
    expect(counts.rst).toBeGreaterThan(3);
    expect(counts.fin).toBeGreaterThan(400);
  });

  it("cuts frames at snaplen while checksums still cover the whole segment", () => {
    const full = Array.from(synthPackets({ seed: 9, connections: 20, nanos: true }));
    const cut = Array.from(synthPackets({ seed: 9, connections: 20, nanos: true, snaplen: 96 }));
    expect(cut).toHaveLength(full.length);
    expect(full.some((p) => p.tsNs % 1000n !== 0n)).toBe(true);
    cut.forEach((p, i) => {
      expect(p.tsNs).toBe(full[i].tsNs);
      expect(p.origLen).toBe(full[i].data.length);
      expect(p.data).toEqual(full[i].data.subarray(0, 96));
    });
  });
});

describe("writeSynthFile", () => {
  it("fills a pcap up to the byte budget on a record boundary", async () => {
    const dir = mkdtempSync(join(tmpdir(), "synfin-writer-"));
    try {
      const path = join(dir, "synth.pcap");
      const result = await writeSynthFile(path, { seed: 11, snaplen: 96, bytes: 2_000_000 });
      expect(statSync(path).size).toBe(result.bytes);
      expect(result.bytes).toBeLessThanOrEqual(2_000_000);
      expect(result.bytes).toBeGreaterThan(2_000_000 - 16 - 96);
      const file = readPcap(new Uint8Array(readFileSync(path)));
      expect(file.snaplen).toBe(96);
      expect(file.records).toHaveLength(result.packets);
      expect(file.records.every((r) => r.capLen <= 96 && r.origLen >= r.capLen)).toBe(true);
      const expected = synthPackets({ seed: 11, snaplen: 96, connections: Infinity });
      for (const rec of file.records.slice(0, 500)) {
        const next = expected.next().value as CapturedPacket;
        expect(rec.tsNs).toBe(next.tsNs);
        expect(rec.data).toEqual(next.data);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
