// The common frame in one step: Ethernet with at most one 802.1Q tag, an IPv4 packet neither
// fragmented nor cut short or an IPv6 packet without extension headers, and a TCP segment whose
// header is captured whole. Most frames of most captures are this; the general
// path (decodeLink, decodeIp, decodeTcp in assembly/engine.ts) reaches the same fields through
// every link layer, tunnel and option. Here they stay in locals, with one length check per layer,
// and go straight to the flow layer. For any other frame `trackCommonFrame` says so having
// changed nothing, and the frame takes the general path; with the one-step paths off
// (Flag.ExactPathOnly) every frame does, and test/conformance/fast-path.test.ts compares the two.

import { be16, be32 } from "./capture/bytes";
import { ETH_HEADER_LEN, ETH_TYPE, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN } from "./decode/link";
import { IPPROTO_TCP, IPV4_DST, IPV4_FRAG, IPV4_FRAG_OFFSET_MASK, IPV4_MIN_HEADER_LEN, IPV4_MORE_FRAGMENTS, IPV4_PROTOCOL, IPV4_SRC, IPV4_TOTAL_LEN, IPV6_DST, IPV6_HEADER_LEN, IPV6_NEXT_HEADER, IPV6_PAYLOAD_LEN, IPV6_SRC } from "./decode/ip";
import { TCP_ACK, TCP_DATA_OFFSET, TCP_FLAGS, TCP_MIN_HEADER_LEN, TCP_SEQ, TCP_WINDOW, TH_SYN, parseSynOptions, setAnalysisLen, setOptionsAt } from "./decode/tcp";
import { setKey } from "./flow/table";
import { trackSegment } from "./flow/tracker";
import { ownsKey } from "./parallel/parts";

/** An 802.1Q tag: tag control information, then the next type. */
const VLAN_TAG_LEN: u32 = 4;

// Big-endian fields as a little-endian load reads them.
const RAW_VLAN: u32 = <u32>bswap<u16>(<u16>ETHERTYPE_VLAN);
const RAW_IPV4: u32 = <u32>bswap<u16>(<u16>ETHERTYPE_IPV4);
const RAW_IPV6: u32 = <u32>bswap<u16>(<u16>ETHERTYPE_IPV6);
const RAW_FRAGMENTED: u32 = <u32>bswap<u16>(<u16>(IPV4_MORE_FRAGMENTS | IPV4_FRAG_OFFSET_MASK));

/**
 * Takes the Ethernet frame at `data` from bytes to connection if it is a common frame (see above)
 * and returns true; returns false, having changed nothing, for any other frame. The general path
 * would find the same fields and count the frame as a TCP packet: every condition under which it
 * would not (or would parse options, or drop the segment) sends the frame there.
 */
@inline export function trackCommonFrame(tsNs: i64, data: usize, capLen: u32, origLen: u32): bool {
  if (capLen < ETH_HEADER_LEN + IPV4_MIN_HEADER_LEN + TCP_MIN_HEADER_LEN) return false;
  // SAFE: the Ethernet header and 40 more bytes are captured (checked above).
  // Types are compared in the frame's byte order (no swap for a field only compared).
  let type = <u32>load<u16>(data + ETH_TYPE);
  let off = ETH_HEADER_LEN;
  let vlan: i32 = -1;
  if (type == RAW_VLAN) {
    vlan = <i32>(be16(data + ETH_HEADER_LEN) & 0x0fff);
    type = <u32>load<u16>(data + ETH_HEADER_LEN + 2);
    off += VLAN_TAG_LEN;
  }
  const ip = data + off;
  const ipCap = capLen - off;
  const wire = (origLen > capLen ? origLen : capLen) - off;
  let headerLen: u32, totalLen: u32, addrLen: u32, src: usize, dst: usize;
  if (type == RAW_IPV4) {
    const b0 = <u32>load<u8>(ip);
    headerLen = (b0 & 0x0f) << 2;
    if (b0 >> 4 != 4) return false;
    if (headerLen < IPV4_MIN_HEADER_LEN) return false;
    if (headerLen + TCP_MIN_HEADER_LEN > ipCap) return false;
    // SAFE: the IPv4 header and a fixed TCP header after it are captured (checked above).
    totalLen = be16(ip + IPV4_TOTAL_LEN);
    // A zero total length (segmentation offload) and a packet longer than the wire's are the general path's.
    if (totalLen < headerLen + TCP_MIN_HEADER_LEN) return false;
    if (totalLen > wire) return false;
    if (<u32>load<u8>(ip + IPV4_PROTOCOL) != IPPROTO_TCP) return false;
    if ((<u32>load<u16>(ip + IPV4_FRAG) & RAW_FRAGMENTED) != 0) return false;
    addrLen = 4;
    src = ip + IPV4_SRC;
    dst = ip + IPV4_DST;
  } else if (type == RAW_IPV6) {
    // An IPv6 header whose next header is TCP: extension headers are the general path's.
    headerLen = IPV6_HEADER_LEN;
    if (headerLen + TCP_MIN_HEADER_LEN > ipCap) return false;
    // SAFE: the IPv6 header and a fixed TCP header after it are captured (checked above).
    if (<u32>load<u8>(ip) >> 4 != 6) return false;
    if (<u32>load<u8>(ip + IPV6_NEXT_HEADER) != IPPROTO_TCP) return false;
    // ip_bytes counts the fixed header and the payload; a zero payload length (jumbogram) is the general path's.
    totalLen = headerLen + be16(ip + IPV6_PAYLOAD_LEN);
    if (totalLen < headerLen + TCP_MIN_HEADER_LEN) return false;
    if (totalLen > wire) return false;
    addrLen = 16;
    src = ip + IPV6_SRC;
    dst = ip + IPV6_DST;
  } else {
    return false;
  }
  const tcp = ip + headerLen;
  const tcpCap = ipCap - headerLen;
  const segLen = totalLen - headerLen;
  const tcpHeaderLen = (<u32>load<u8>(tcp + TCP_DATA_OFFSET) >> 4) << 2;
  // A header cut by the snap length, or longer than the segment, is the general path's.
  if (tcpHeaderLen < TCP_MIN_HEADER_LEN) return false;
  if (tcpHeaderLen > segLen) return false;
  if (tcpHeaderLen > tcpCap) return false;
  const flags = <u32>load<u8>(tcp + TCP_FLAGS);
  const srcPort = be16(tcp);
  const dstPort = be16(tcp + 2);
  const payload = segLen - tcpHeaderLen;
  const captured = tcpCap - tcpHeaderLen;
  setOptionsAt(tcp + TCP_MIN_HEADER_LEN, tcpHeaderLen - TCP_MIN_HEADER_LEN);
  // A SYN's options are the flow layer's (those of other segments are read only by the packets
  // table). Another segment's opt* are left as they were, an earlier SYN's: the flow layer reads
  // them on a SYN only, and a parallel run's mapper, which stores every segment's, does not get here.
  if ((flags & TH_SYN) != 0) parseSynOptions(tcp + TCP_MIN_HEADER_LEN, tcpHeaderLen - TCP_MIN_HEADER_LEN);
  setAnalysisLen(payload);
  setKey(src, srcPort, dst, dstPort, addrLen, vlan, -1);
  if (ownsKey()) {
    trackSegment(tsNs, flags, be32(tcp + TCP_SEQ), be32(tcp + TCP_ACK), be16(tcp + TCP_WINDOW),
      payload, captured < payload ? captured : payload, totalLen);
  }
  return true;
}
