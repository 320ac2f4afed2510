// IPv4 (RFC 791, options by IHL, fragments) and IPv6 (RFC 8200, extension headers) decoding: finds
// the transport header and the lengths that connection accounting uses.

import { Stat } from "../../src/core/abi";
import { be16 } from "../capture/bytes";
import { onesComplementSum, foldChecksum } from "./checksum";

export const IPPROTO_TCP: u32 = 6;
const IPPROTO_HOPOPTS: u32 = 0;
const IPPROTO_ROUTING: u32 = 43;
const IPPROTO_FRAGMENT: u32 = 44;
const IPPROTO_AH: u32 = 51;
const IPPROTO_DSTOPTS: u32 = 60;

export const IPV4_MIN_HEADER_LEN: u32 = 20;
export const IPV4_TOTAL_LEN: usize = 2;
export const IPV4_FRAG: usize = 6;
export const IPV4_PROTOCOL: usize = 9;
export const IPV4_SRC: usize = 12;
export const IPV4_DST: usize = 16;
export const IPV4_FRAG_OFFSET_MASK: u32 = 0x1fff;
export const IPV4_MORE_FRAGMENTS: u32 = 0x2000;

export const IPV6_HEADER_LEN: u32 = 40;
export const IPV6_PAYLOAD_LEN: usize = 4;
export const IPV6_NEXT_HEADER: usize = 6;
export const IPV6_SRC: usize = 8;
export const IPV6_DST: usize = 24;
const IPV6_FRAGMENT_HEADER_LEN: u32 = 8;
const IPV6_MAX_EXTENSION_HEADERS: u32 = 16;

/** Decoded IP fields, valid after decodeIp returned Stat.TcpPackets or Stat.NonTcpIp. */
export let ipVersion: u32 = 0;
export let ipSrc: usize = 0;
export let ipDst: usize = 0;
/** IP-layer length of the packet (IPv4 total length; IPv6 payload length + 40), Zeek's ip_bytes. */
export let ipTotalLen: u32 = 0;
/** Offset of the transport header from the start of the IP header. */
export let l4Offset: u32 = 0;
/** Length of the transport header and payload, from the IP length fields. */
export let l4Len: u32 = 0;
/** The transport protocol number (IPv6: after the extension headers). */
export let ipProtocol: u32 = 0;
/** For Stat.IpFragment: the fragment was captured whole, so it can be reassembled. */
export let ipFragmentWhole: bool = false;
/** For fragments: offset of this fragment's data in the datagram, and whether more follow. */
export let ipFragmentOffset: u32 = 0;
export let ipMoreFragments: bool = false;

/**
 * Decodes the IP header at `p` with `capLen` bytes captured and `wireLen` on the wire. Returns
 * Stat.TcpPackets for TCP (checked no further), or the bucket the frame falls into.
 */
export function decodeIp(version: i32, p: usize, capLen: u32, wireLen: u32, verifyChecksum: bool): Stat {
  return version == 4 ? decodeIpv4(p, capLen, wireLen, verifyChecksum) : decodeIpv6(p, capLen, wireLen);
}

function decodeIpv4(p: usize, capLen: u32, wireLen: u32, verifyChecksum: bool): Stat {
  if (capLen < IPV4_MIN_HEADER_LEN) return Stat.TruncatedHeader;
  const b0 = <u32>load<u8>(p);
  if (b0 >> 4 != 4) return Stat.BadHeader;
  const headerLen = (b0 & 0x0f) << 2;
  if (headerLen < IPV4_MIN_HEADER_LEN) return Stat.BadHeader;
  if (headerLen > capLen) return Stat.TruncatedHeader;
  const headerTotalLen = be16(p + IPV4_TOTAL_LEN);
  let totalLen = headerTotalLen;
  // TCP segmentation offload can leave the total length zero. Zeek drops such packets when it
  // checks checksums (weird ip_hdr_len_zero); otherwise it takes the captured length for the
  // segment but still counts the header's 0 in ip_bytes.
  if (totalLen == 0) {
    if (verifyChecksum) return Stat.BadHeader;
    totalLen = capLen;
  }
  if (totalLen < headerLen) return Stat.BadHeader;
  if (totalLen > wireLen) return Stat.TruncatedHeader;
  // SAFE: headerLen <= capLen, so the whole header may be summed.
  if (verifyChecksum && foldChecksum(onesComplementSum(p, headerLen, 0)) != 0xffff) return Stat.BadChecksum;
  ipVersion = 4;
  ipSrc = p + IPV4_SRC;
  ipDst = p + IPV4_DST;
  ipTotalLen = headerTotalLen;
  l4Offset = headerLen;
  l4Len = totalLen - headerLen;
  const frag = be16(p + IPV4_FRAG);
  ipProtocol = <u32>load<u8>(p + IPV4_PROTOCOL);
  ipFragmentOffset = (frag & IPV4_FRAG_OFFSET_MASK) << 3;
  ipMoreFragments = (frag & IPV4_MORE_FRAGMENTS) != 0;
  // A fragment captured whole waits for its datagram (as Zeek reassembles); a cut one cannot be
  // reassembled: a cut first fragment is used alone, the others are only counted.
  ipFragmentWhole = totalLen <= capLen && headerTotalLen != 0;
  if (ipFragmentOffset != 0 || ipMoreFragments) {
    if (ipFragmentWhole || ipFragmentOffset != 0) return Stat.IpFragment;
  }
  return ipProtocol == IPPROTO_TCP ? Stat.TcpPackets : Stat.NonTcpIp;
}

function decodeIpv6(p: usize, capLen: u32, wireLen: u32): Stat {
  if (capLen < IPV6_HEADER_LEN) return Stat.TruncatedHeader;
  if (<u32>load<u8>(p) >> 4 != 6) return Stat.BadHeader;
  const payloadLen = be16(p + IPV6_PAYLOAD_LEN);
  // A zero payload length is a jumbogram (RFC 2675) or offload: dropped, as Zeek does.
  if (payloadLen == 0) return Stat.BadHeader;
  if (payloadLen + IPV6_HEADER_LEN > wireLen) return Stat.TruncatedHeader;
  ipVersion = 6;
  ipSrc = p + IPV6_SRC;
  ipDst = p + IPV6_DST;
  ipTotalLen = payloadLen + IPV6_HEADER_LEN;
  const end = ipTotalLen;
  let next = <u32>load<u8>(p + IPV6_NEXT_HEADER);
  let off = IPV6_HEADER_LEN;
  for (let i: u32 = 0; i < IPV6_MAX_EXTENSION_HEADERS; i++) {
    if (next == IPPROTO_TCP) break;
    const isExtension = next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS || next == IPPROTO_FRAGMENT || next == IPPROTO_AH;
    if (!isExtension) break;
    if (off + 2 > capLen) return Stat.TruncatedHeader;
    const h = p + off;
    let len: u32;
    if (next == IPPROTO_FRAGMENT) {
      if (off + IPV6_FRAGMENT_HEADER_LEN > capLen) return Stat.TruncatedHeader;
      const fragField = be16(h + 2);
      if ((fragField >> 3) != 0) return Stat.IpFragment;
      len = IPV6_FRAGMENT_HEADER_LEN;
    } else if (next == IPPROTO_AH) {
      len = (<u32>load<u8>(h + 1) + 2) << 2;
    } else {
      len = (<u32>load<u8>(h + 1) + 1) << 3;
    }
    next = <u32>load<u8>(h);
    off += len;
    if (off > end) return Stat.BadHeader;
  }
  ipProtocol = next;
  l4Offset = off;
  l4Len = end - off;
  return next == IPPROTO_TCP ? Stat.TcpPackets : Stat.NonTcpIp;
}

// Two endpoints in canonical order (the lower address, then port, first), the same for both
// directions: the key of a UDP connection (udp.ts) and of an IP tunnel (encap.ts). The flow
// table orders its key in place (flow/table.ts), on the per-packet path.
export let pairA0: u64 = 0;
export let pairA1: u64 = 0;
export let pairB0: u64 = 0;
export let pairB1: u64 = 0;
/** Side A's port | side B's port << 16. */
export let pairPorts: u32 = 0;

/** Orders `src`:`sport` and `dst`:`dport` (`addrLen`-byte addresses; IPv4 in the low word) into pair*. */
export function orderPair(src: usize, sport: u32, dst: usize, dport: u32, addrLen: u32): void {
  let s0: u64, s1: u64, d0: u64, d1: u64;
  if (addrLen == 4) {
    s0 = <u64>load<u32>(src); s1 = 0;
    d0 = <u64>load<u32>(dst); d1 = 0;
  } else {
    s0 = load<u64>(src); s1 = load<u64>(src, 8);
    d0 = load<u64>(dst); d1 = load<u64>(dst, 8);
  }
  const srcFirst = s0 < d0 || (s0 == d0 && (s1 < d1 || (s1 == d1 && sport <= dport)));
  pairA0 = srcFirst ? s0 : d0; pairA1 = srcFirst ? s1 : d1;
  pairB0 = srcFirst ? d0 : s0; pairB1 = srcFirst ? d1 : s1;
  pairPorts = srcFirst ? sport | (dport << 16) : dport | (sport << 16);
}
