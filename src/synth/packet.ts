// Synthetic packet encoder: IPv4 (RFC 791), IPv6 (RFC 8200), TCP (RFC 9293), UDP (RFC 768), ICMP (RFC 792, RFC 4443), ARP (RFC 826) and link headers (tcpdump.org LINKTYPE_* list).

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export const LINKTYPE = { NULL: 0, ETHERNET: 1, RAW: 101, LOOP: 108, LINUX_SLL: 113, IPV4: 228, IPV6: 229, LINUX_SLL2: 276 } as const;

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_DSTOPTS = 60;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_IPV6 = 0x86dd;

export interface TcpOptionsSpec { mss?: number; wscale?: number; sackOk?: boolean; ts?: [number, number]; sack?: Array<[number, number]>; eol?: boolean }

export interface TcpSegmentSpec {
  src: string; dst: string;
  sport: number; dport: number;
  seq: number; ack: number;
  flags: number;
  window?: number;
  payload?: Uint8Array | number;
  options?: TcpOptionsSpec;
  ttl?: number; ipId?: number; dontFragment?: boolean;
  ipOptions?: Uint8Array;
  ipv6ExtHeaders?: Array<{ type: 0 | 43 | 60 | 44; length?: number }>;
  urgent?: number;
  badTcpChecksum?: boolean; badIpChecksum?: boolean;
}

export interface LinkSpec { link: "ethernet" | "raw" | "null" | "loop" | "sll" | "sll2" | "ipv4" | "ipv6"; vlans?: number[]; bigEndianNullFamily?: boolean }

// ---- Field offsets and sizes -------------------------------------------------------------

export const IPV4_HEADER_LEN = 20;
const IPV4_MAX_OPTIONS_LEN = 40;
const IPV4_TOTAL_LENGTH = 2;
const IPV4_ID = 4;
const IPV4_FLAGS_FRAGMENT = 6;
const IPV4_TTL = 8;
const IPV4_PROTOCOL = 9;
const IPV4_CHECKSUM = 10;
const IPV4_SRC = 12;
const IPV4_DST = 16;
const IPV4_FLAG_DONT_FRAGMENT = 0x4000;

export const IPV6_HEADER_LEN = 40;
const IPV6_PAYLOAD_LENGTH = 4;
const IPV6_NEXT_HEADER = 6;
const IPV6_HOP_LIMIT = 7;
const IPV6_SRC = 8;
const IPV6_DST = 24;
const IPV6_EXT_UNIT = 8;
const IPV6_FRAGMENT_HEADER_LEN = 8;
const IPV6_OPTION_PADN = 1;
const IPV6_ROUTING_TYPE_SOURCE_ROUTE = 0; // deprecated by RFC 5095, but with 0 segments left every node skips it

export const TCP_HEADER_LEN = 20;
const TCP_MAX_OPTIONS_LEN = 40;
const TCP_SEQ = 4;
const TCP_ACK = 8;
const TCP_DATA_OFFSET = 12;
const TCP_FLAGS = 13;
const TCP_WINDOW = 14;
const TCP_CHECKSUM = 16;
const TCP_URGENT = 18;

const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MSS = 2;
const TCPOPT_WSCALE = 3;
const TCPOPT_SACK_PERMITTED = 4;
const TCPOPT_SACK = 5;
const TCPOPT_TIMESTAMPS = 8;

const UDP_HEADER_LEN = 8;
const UDP_LENGTH = 4;
const UDP_CHECKSUM = 6;

const ICMP_ECHO_REQUEST = 8;
const ICMPV6_ECHO_REQUEST = 128;
const ICMP_HEADER_LEN = 8;
const ICMP_CHECKSUM = 2;
const ICMP_ECHO_PAYLOAD_LEN = 56;

export const ETHERNET_HEADER_LEN = 14;
export const VLAN_TAG_LEN = 4;
const ETHERNET_TYPE = 12;
const NULL_HEADER_LEN = 4;
const BSD_AF_INET = 2;
const BSD_AF_INET6 = 24; // NetBSD/OpenBSD value; FreeBSD uses 28, Darwin 30
const SLL_HEADER_LEN = 16;
const SLL2_HEADER_LEN = 20;
const SLL_PACKET_HOST = 0;
const ARPHRD_ETHER = 1;
const SLL_IFINDEX = 1;
const VLAN_ID_MASK = 0x0fff;

const ARP_LEN = 28;
const ARP_OP_REQUEST = 1;
const ARP_HLEN_ETHER = 6;
const ARP_PLEN_IPV4 = 4;

const DEFAULT_TTL = 64;
const DEFAULT_WINDOW = 65535;
const BAD_CHECKSUM_MASK = 0x0f0f; // flips bits without landing on the other ones'-complement zero

export const CLIENT_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x01);
export const SERVER_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x02);
const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

// ---- Byte helpers -----------------------------------------------------------------------

export function putU16(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 8;
  buf[offset + 1] = value;
}

export function putU32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 24;
  buf[offset + 1] = value >>> 16;
  buf[offset + 2] = value >>> 8;
  buf[offset + 3] = value;
}

function putU32LE(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value;
  buf[offset + 1] = value >>> 8;
  buf[offset + 2] = value >>> 16;
  buf[offset + 3] = value >>> 24;
}

// ---- Addresses --------------------------------------------------------------------------

/** Parses dotted-quad IPv4 or IPv6 text (full, "::"-compressed, or with a trailing dotted quad) into 4 or 16 bytes. */
export function parseIp(text: string): Uint8Array {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text, new Uint8Array(4), 0);
}

function parseIpv4(text: string, out: Uint8Array, offset: number): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4) throw new Error(`bad IPv4 address: ${text}`);
  for (let i = 0; i < 4; i++) {
    const octet = Number(parts[i]);
    if (!/^\d{1,3}$/.test(parts[i]) || octet > 255) throw new Error(`bad IPv4 address: ${text}`);
    out[offset + i] = octet;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array {
  const bare = text.replace(/%.*$/, "");
  const halves = bare.split("::");
  if (halves.length > 2) throw new Error(`bad IPv6 address: ${text}`);
  const head = ipv6Groups(halves[0], text);
  const tail = halves.length === 2 ? ipv6Groups(halves[1], text) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw new Error(`bad IPv6 address: ${text}`);
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((group, i) => putU16(out, i * 2, group));
  return out;
}

function ipv6Groups(part: string, text: string): number[] {
  if (part === "") return [];
  const groups: number[] = [];
  for (const piece of part.split(":")) {
    if (piece.includes(".")) {
      const quad = parseIpv4(piece, new Uint8Array(4), 0);
      groups.push((quad[0] << 8) | quad[1], (quad[2] << 8) | quad[3]);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
      groups.push(parseInt(piece, 16));
    } else {
      throw new Error(`bad IPv6 address: ${text}`);
    }
  }
  return groups;
}

// ---- Checksums (RFC 1071) ---------------------------------------------------------------

/** Unfolded sum of big-endian 16-bit words over buf[start, end); an odd last byte is padded with zero. */
export function checksumSum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  return sum;
}

/** Folds an unfolded sum (up to 2^53) and returns the ones'-complement checksum field value. */
export function finishChecksum(sum: number): number {
  let folded = sum;
  while (folded > 0xffff) folded = (folded % 0x10000) + Math.floor(folded / 0x10000);
  return ~folded & 0xffff;
}

/** Unfolded sum of the TCP/UDP pseudo-header for IPv4 (RFC 9293 §3.1) or IPv6 (RFC 8200 §8.1). */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, l4Len: number): number {
  const sum = checksumSum(src, 0, src.length, checksumSum(dst, 0, dst.length));
  return sum + protocol + (l4Len % 0x10000) + Math.floor(l4Len / 0x10000);
}

// ---- Generated payload pattern ----------------------------------------------------------

const PATTERN_PERIOD = 256;
const PATTERN_PREFIX_SUMS = buildPatternPrefixSums();

/** Byte i of a payload generated from a length: i mod 256. */
export function patternByte(index: number): number {
  return index & 0xff;
}

export function fillPattern(buf: Uint8Array, offset: number, len: number): void {
  for (let i = 0; i < len; i++) buf[offset + i] = i & 0xff;
}

/** Unfolded checksum sum of the first len pattern bytes, in O(1); the payload must start at an even offset. */
export function patternChecksumSum(len: number): number {
  const periods = Math.floor(len / PATTERN_PERIOD);
  return periods * PATTERN_PREFIX_SUMS[PATTERN_PERIOD] + PATTERN_PREFIX_SUMS[len % PATTERN_PERIOD];
}

function buildPatternPrefixSums(): Float64Array {
  const period = new Uint8Array(PATTERN_PERIOD);
  fillPattern(period, 0, PATTERN_PERIOD);
  const sums = new Float64Array(PATTERN_PERIOD + 1);
  for (let len = 0; len <= PATTERN_PERIOD; len++) sums[len] = checksumSum(period, 0, len);
  return sums;
}

// ---- TCP options ------------------------------------------------------------------------

/**
 * Writes TCP options in the order MSS, SACK-permitted, timestamps, NOP + window scale, SACK blocks
 * (NOP-aligned so the blocks sit on 32-bit boundaries), then pads to 4 bytes with NOPs, or with EOL
 * and zeros when `eol` is set. Returns the padded length.
 */
export function writeTcpOptions(buf: Uint8Array, offset: number, options: TcpOptionsSpec | undefined): number {
  if (!options) return 0;
  let at = offset;
  if (options.mss !== undefined) {
    buf[at] = TCPOPT_MSS; buf[at + 1] = 4; putU16(buf, at + 2, options.mss); at += 4;
  }
  if (options.sackOk) {
    buf[at] = TCPOPT_SACK_PERMITTED; buf[at + 1] = 2; at += 2;
  }
  if (options.ts) {
    buf[at] = TCPOPT_TIMESTAMPS; buf[at + 1] = 10; putU32(buf, at + 2, options.ts[0] >>> 0); putU32(buf, at + 6, options.ts[1] >>> 0); at += 10;
  }
  if (options.wscale !== undefined) {
    buf[at] = TCPOPT_NOP; buf[at + 1] = TCPOPT_WSCALE; buf[at + 2] = 3; buf[at + 3] = options.wscale; at += 4;
  }
  if (options.sack && options.sack.length > 0) at = writeSackBlocks(buf, at, offset, options.sack);
  const padding = (4 - ((at - offset) & 3)) & 3;
  if (options.eol) {
    buf[at++] = TCPOPT_EOL;
    while ((at - offset) & 3) buf[at++] = 0;
  } else {
    buf.fill(TCPOPT_NOP, at, at + padding);
    at += padding;
  }
  if (at - offset > TCP_MAX_OPTIONS_LEN) throw new Error(`TCP options need ${at - offset} bytes, at most ${TCP_MAX_OPTIONS_LEN} fit`);
  return at - offset;
}

function writeSackBlocks(buf: Uint8Array, at: number, start: number, blocks: Array<[number, number]>): number {
  while (((at - start) & 3) !== 2) buf[at++] = TCPOPT_NOP;
  buf[at] = TCPOPT_SACK;
  buf[at + 1] = 2 + blocks.length * 8;
  at += 2;
  for (const [left, right] of blocks) {
    putU32(buf, at, left >>> 0);
    putU32(buf, at + 4, right >>> 0);
    at += 8;
  }
  return at;
}

const OPTIONS_SCRATCH = new Uint8Array(TCP_MAX_OPTIONS_LEN + 16);

// ---- IP envelope ------------------------------------------------------------------------

interface IpEnvelopeSpec { ttl?: number; ipId?: number; dontFragment?: boolean; ipOptions?: Uint8Array; ipv6ExtHeaders?: TcpSegmentSpec["ipv6ExtHeaders"]; badIpChecksum?: boolean }

interface IpEnvelope { packet: Uint8Array; l4Offset: number; src: Uint8Array; dst: Uint8Array }

/** Allocates an IPv4 or IPv6 packet (chosen by the address form) with room for l4Len bytes after the headers. */
function ipEnvelope(srcText: string, dstText: string, protocol: number, l4Len: number, spec: IpEnvelopeSpec): IpEnvelope {
  const src = parseIp(srcText);
  const dst = parseIp(dstText);
  if (src.length !== dst.length) throw new Error(`address families differ: ${srcText} -> ${dstText}`);
  return src.length === 4 ? ipv4Envelope(src, dst, protocol, l4Len, spec) : ipv6Envelope(src, dst, protocol, l4Len, spec);
}

function ipv4Envelope(src: Uint8Array, dst: Uint8Array, protocol: number, l4Len: number, spec: IpEnvelopeSpec): IpEnvelope {
  const optionsLen = (((spec.ipOptions?.length ?? 0) + 3) & ~3);
  if (optionsLen > IPV4_MAX_OPTIONS_LEN) throw new Error(`IPv4 options need ${optionsLen} bytes, at most ${IPV4_MAX_OPTIONS_LEN} fit`);
  const headerLen = IPV4_HEADER_LEN + optionsLen;
  const packet = new Uint8Array(headerLen + l4Len);
  packet[0] = 0x40 | (headerLen >>> 2);
  putU16(packet, IPV4_TOTAL_LENGTH, headerLen + l4Len);
  putU16(packet, IPV4_ID, spec.ipId ?? 0);
  putU16(packet, IPV4_FLAGS_FRAGMENT, spec.dontFragment ? IPV4_FLAG_DONT_FRAGMENT : 0);
  packet[IPV4_TTL] = spec.ttl ?? DEFAULT_TTL;
  packet[IPV4_PROTOCOL] = protocol;
  packet.set(src, IPV4_SRC);
  packet.set(dst, IPV4_DST);
  if (spec.ipOptions) packet.set(spec.ipOptions, IPV4_HEADER_LEN); // padding stays zero (EOL)
  let checksum = finishChecksum(checksumSum(packet, 0, headerLen));
  if (spec.badIpChecksum) checksum ^= BAD_CHECKSUM_MASK;
  putU16(packet, IPV4_CHECKSUM, checksum);
  return { packet, l4Offset: headerLen, src, dst };
}

function ipv6Envelope(src: Uint8Array, dst: Uint8Array, protocol: number, l4Len: number, spec: IpEnvelopeSpec): IpEnvelope {
  const extHeaders = spec.ipv6ExtHeaders ?? [];
  const extLens = extHeaders.map(ipv6ExtHeaderLen);
  const extTotal = extLens.reduce((a, b) => a + b, 0);
  const packet = new Uint8Array(IPV6_HEADER_LEN + extTotal + l4Len);
  packet[0] = 0x60;
  putU16(packet, IPV6_PAYLOAD_LENGTH, extTotal + l4Len);
  packet[IPV6_NEXT_HEADER] = extHeaders.length > 0 ? extHeaders[0].type : protocol;
  packet[IPV6_HOP_LIMIT] = spec.ttl ?? DEFAULT_TTL;
  packet.set(src, IPV6_SRC);
  packet.set(dst, IPV6_DST);
  let at = IPV6_HEADER_LEN;
  extHeaders.forEach((ext, i) => {
    const next = i + 1 < extHeaders.length ? extHeaders[i + 1].type : protocol;
    writeIpv6ExtHeader(packet, at, ext.type, extLens[i], next, spec.ipId ?? 0);
    at += extLens[i];
  });
  return { packet, l4Offset: at, src, dst };
}

function ipv6ExtHeaderLen(ext: { type: number; length?: number }): number {
  if (ext.type === IPPROTO_FRAGMENT) return IPV6_FRAGMENT_HEADER_LEN;
  const len = ext.length ?? IPV6_EXT_UNIT;
  if (len < IPV6_EXT_UNIT || len % IPV6_EXT_UNIT !== 0 || len > 2048) throw new Error(`bad IPv6 extension header length ${len}`);
  return len;
}

/** Hop-by-hop/destination options carry one PadN; routing is type 0 with 0 segments left; fragment is atomic. */
function writeIpv6ExtHeader(packet: Uint8Array, at: number, type: number, len: number, next: number, fragmentId: number): void {
  packet[at] = next;
  if (type === IPPROTO_FRAGMENT) {
    putU32(packet, at + 4, fragmentId); // offset 0, M = 0
    return;
  }
  packet[at + 1] = len / IPV6_EXT_UNIT - 1;
  if (type === IPPROTO_ROUTING) {
    packet[at + 2] = IPV6_ROUTING_TYPE_SOURCE_ROUTE;
  } else {
    packet[at + 2] = IPV6_OPTION_PADN;
    packet[at + 3] = len - 4;
  }
}

function putTransportChecksum(env: IpEnvelope, protocol: number, checksumOffset: number, bad: boolean): void {
  const l4Len = env.packet.length - env.l4Offset;
  let checksum = finishChecksum(pseudoHeaderSum(env.src, env.dst, protocol, l4Len) + checksumSum(env.packet, env.l4Offset, env.packet.length));
  if (bad) checksum ^= BAD_CHECKSUM_MASK;
  putU16(env.packet, env.l4Offset + checksumOffset, checksum);
}

// ---- Packets ----------------------------------------------------------------------------

/** An IPv4 or IPv6 (by address form) TCP segment with valid IPv4 header and TCP checksums unless bad* is set. */
export function ipPacket(spec: TcpSegmentSpec): Uint8Array {
  const optionsLen = writeTcpOptions(OPTIONS_SCRATCH, 0, spec.options);
  const payloadLen = typeof spec.payload === "number" ? spec.payload : (spec.payload?.length ?? 0);
  const tcpHeaderLen = TCP_HEADER_LEN + optionsLen;
  const env = ipEnvelope(spec.src, spec.dst, IPPROTO_TCP, tcpHeaderLen + payloadLen, spec);
  const { packet, l4Offset: at } = env;
  putU16(packet, at, spec.sport);
  putU16(packet, at + 2, spec.dport);
  putU32(packet, at + TCP_SEQ, spec.seq >>> 0);
  putU32(packet, at + TCP_ACK, spec.ack >>> 0);
  packet[at + TCP_DATA_OFFSET] = (tcpHeaderLen >>> 2) << 4;
  packet[at + TCP_FLAGS] = spec.flags;
  putU16(packet, at + TCP_WINDOW, spec.window ?? DEFAULT_WINDOW);
  putU16(packet, at + TCP_URGENT, spec.urgent ?? 0);
  packet.set(OPTIONS_SCRATCH.subarray(0, optionsLen), at + TCP_HEADER_LEN);
  const payloadOffset = at + tcpHeaderLen;
  if (typeof spec.payload === "number") fillPattern(packet, payloadOffset, payloadLen);
  else if (spec.payload) packet.set(spec.payload, payloadOffset);
  putTransportChecksum(env, IPPROTO_TCP, TCP_CHECKSUM, spec.badTcpChecksum ?? false);
  return packet;
}

/** An IPv4 or IPv6 UDP datagram with a pattern payload and a valid checksum. */
export function udpPacket(src: string, dst: string, sport: number, dport: number, payloadLen: number): Uint8Array {
  const env = ipEnvelope(src, dst, IPPROTO_UDP, UDP_HEADER_LEN + payloadLen, {});
  const { packet, l4Offset: at } = env;
  putU16(packet, at, sport);
  putU16(packet, at + 2, dport);
  putU16(packet, at + UDP_LENGTH, UDP_HEADER_LEN + payloadLen);
  fillPattern(packet, at + UDP_HEADER_LEN, payloadLen);
  putTransportChecksum(env, IPPROTO_UDP, UDP_CHECKSUM, false);
  if (packet[at + UDP_CHECKSUM] === 0 && packet[at + UDP_CHECKSUM + 1] === 0) putU16(packet, at + UDP_CHECKSUM, 0xffff);
  return packet;
}

/**
 * An IPv4 or IPv6 packet of protocol `protocol` carrying `payload` as it is (a tunnel's outer
 * packet: GRE is 47, IP in IP 4 and 41).
 */
export function ipDatagram(src: string, dst: string, protocol: number, payload: Uint8Array): Uint8Array {
  const env = ipEnvelope(src, dst, protocol, payload.length, {});
  env.packet.set(payload, env.l4Offset);
  return env.packet;
}

/** How udpDatagram fills the UDP checksum. */
export type UdpChecksum = "valid" | "zero" | "bad";

/** An IPv4 or IPv6 UDP datagram carrying `payload` (a tunnel's), its checksum as asked. */
export function udpDatagram(src: string, dst: string, sport: number, dport: number, payload: Uint8Array, checksum: UdpChecksum = "valid"): Uint8Array {
  const env = ipEnvelope(src, dst, IPPROTO_UDP, UDP_HEADER_LEN + payload.length, {});
  const { packet, l4Offset: at } = env;
  putU16(packet, at, sport);
  putU16(packet, at + 2, dport);
  putU16(packet, at + UDP_LENGTH, UDP_HEADER_LEN + payload.length);
  packet.set(payload, at + UDP_HEADER_LEN);
  if (checksum === "zero") return packet;
  putTransportChecksum(env, IPPROTO_UDP, UDP_CHECKSUM, checksum === "bad");
  if (checksum === "valid" && packet[at + UDP_CHECKSUM] === 0 && packet[at + UDP_CHECKSUM + 1] === 0) putU16(packet, at + UDP_CHECKSUM, 0xffff);
  return packet;
}

/** An ICMP echo request (ICMPv6 for IPv6 addresses) with a 56-byte pattern payload. */
export function icmpEcho(src: string, dst: string, id = 1, sequence = 1): Uint8Array {
  const isV6 = src.includes(":");
  const protocol = isV6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
  const env = ipEnvelope(src, dst, protocol, ICMP_HEADER_LEN + ICMP_ECHO_PAYLOAD_LEN, {});
  const { packet, l4Offset: at } = env;
  packet[at] = isV6 ? ICMPV6_ECHO_REQUEST : ICMP_ECHO_REQUEST;
  putU16(packet, at + 4, id);
  putU16(packet, at + 6, sequence);
  fillPattern(packet, at + ICMP_HEADER_LEN, ICMP_ECHO_PAYLOAD_LEN);
  if (isV6) {
    putTransportChecksum(env, protocol, ICMP_CHECKSUM, false);
  } else {
    putU16(packet, at + ICMP_CHECKSUM, finishChecksum(checksumSum(packet, at, packet.length)));
  }
  return packet;
}

/** A complete Ethernet frame carrying an ARP who-has request (no trailer padding). */
export function arpFrame(senderIp = "10.0.0.1", targetIp = "10.0.0.2"): Uint8Array {
  const out = new Uint8Array(ETHERNET_HEADER_LEN + ARP_LEN);
  out.set(BROADCAST_MAC, 0);
  out.set(CLIENT_MAC, 6);
  putU16(out, ETHERNET_TYPE, ETHERTYPE_ARP);
  const at = ETHERNET_HEADER_LEN;
  putU16(out, at, ARPHRD_ETHER);
  putU16(out, at + 2, ETHERTYPE_IPV4);
  out[at + 4] = ARP_HLEN_ETHER;
  out[at + 5] = ARP_PLEN_IPV4;
  putU16(out, at + 6, ARP_OP_REQUEST);
  out.set(CLIENT_MAC, at + 8);
  parseIpv4(senderIp, out, at + 14);
  parseIpv4(targetIp, out, at + 24); // target hardware address stays zero
  return out;
}

// ---- Link layer -------------------------------------------------------------------------

export function linkTypeOf(link: LinkSpec["link"]): number {
  switch (link) {
    case "ethernet": return LINKTYPE.ETHERNET;
    case "raw": return LINKTYPE.RAW;
    case "null": return LINKTYPE.NULL;
    case "loop": return LINKTYPE.LOOP;
    case "sll": return LINKTYPE.LINUX_SLL;
    case "sll2": return LINKTYPE.LINUX_SLL2;
    case "ipv4": return LINKTYPE.IPV4;
    case "ipv6": return LINKTYPE.IPV6;
  }
}

/** Wraps an IP packet in the link header; raw, ipv4 and ipv6 return the packet itself. */
export function frame(ip: Uint8Array, link: LinkSpec): Uint8Array {
  const isV6 = ip[0] >>> 4 === 6;
  const ethertype = isV6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  switch (link.link) {
    case "raw": return ip;
    case "ipv4":
    case "ipv6":
      if (isV6 !== (link.link === "ipv6")) throw new Error(`an IPv${isV6 ? 6 : 4} packet cannot use link ${link.link}`);
      return ip;
    case "ethernet": return ethernetFrame(ip, ethertype, link.vlans ?? []);
    case "null": return nullFrame(ip, isV6, link.bigEndianNullFamily ?? false);
    case "loop": return nullFrame(ip, isV6, true);
    case "sll": return sllFrame(ip, ethertype);
    case "sll2": return sll2Frame(ip, ethertype);
  }
}

/** Ethernet II; with several VLAN tags the outermost uses TPID 0x88a8 (802.1ad), the rest 0x8100. */
function ethernetFrame(ip: Uint8Array, ethertype: number, vlans: number[]): Uint8Array {
  const headerLen = ETHERNET_HEADER_LEN + vlans.length * VLAN_TAG_LEN;
  const out = new Uint8Array(headerLen + ip.length);
  out.set(SERVER_MAC, 0);
  out.set(CLIENT_MAC, 6);
  let at = ETHERNET_TYPE;
  vlans.forEach((vlanId, i) => {
    putU16(out, at, i === 0 && vlans.length > 1 ? ETHERTYPE_QINQ : ETHERTYPE_VLAN);
    putU16(out, at + 2, vlanId & VLAN_ID_MASK);
    at += VLAN_TAG_LEN;
  });
  putU16(out, at, ethertype);
  out.set(ip, headerLen);
  return out;
}

/** BSD loopback: a 4-byte address family, host order for NULL (little-endian unless asked), network order for LOOP. */
function nullFrame(ip: Uint8Array, isV6: boolean, bigEndian: boolean): Uint8Array {
  const out = new Uint8Array(NULL_HEADER_LEN + ip.length);
  const family = isV6 ? BSD_AF_INET6 : BSD_AF_INET;
  if (bigEndian) putU32(out, 0, family);
  else putU32LE(out, 0, family);
  out.set(ip, NULL_HEADER_LEN);
  return out;
}

/** Linux cooked capture v1: packet type, ARPHRD type, address length, 8-byte address, protocol. */
function sllFrame(ip: Uint8Array, ethertype: number): Uint8Array {
  const out = new Uint8Array(SLL_HEADER_LEN + ip.length);
  putU16(out, 0, SLL_PACKET_HOST);
  putU16(out, 2, ARPHRD_ETHER);
  putU16(out, 4, CLIENT_MAC.length);
  out.set(CLIENT_MAC, 6);
  putU16(out, 14, ethertype);
  out.set(ip, SLL_HEADER_LEN);
  return out;
}

/** Linux cooked capture v2: protocol, reserved, interface index, ARPHRD type, packet type, address length, address. */
function sll2Frame(ip: Uint8Array, ethertype: number): Uint8Array {
  const out = new Uint8Array(SLL2_HEADER_LEN + ip.length);
  putU16(out, 0, ethertype);
  putU32(out, 4, SLL_IFINDEX);
  putU16(out, 8, ARPHRD_ETHER);
  out[10] = SLL_PACKET_HOST;
  out[11] = CLIENT_MAC.length;
  out.set(CLIENT_MAC, 12);
  out.set(ip, SLL2_HEADER_LEN);
  return out;
}
