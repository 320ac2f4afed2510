// TCP header view (RFC 9293 §3.1) and options (MSS, window scale RFC 7323, SACK-permitted and SACK
// RFC 2018, timestamps RFC 7323).

import { Stat } from "../../src/core/abi";
import { be16, be32 } from "../capture/bytes";
import { transportChecksumOk } from "./checksum";
import { IPPROTO_TCP } from "./ip";

export const TH_FIN: u32 = 0x01;
export const TH_SYN: u32 = 0x02;
export const TH_RST: u32 = 0x04;
export const TH_PSH: u32 = 0x08;
export const TH_ACK: u32 = 0x10;
export const TH_URG: u32 = 0x20;
export const TH_ECE: u32 = 0x40;
export const TH_CWR: u32 = 0x80;

export const TCP_MIN_HEADER_LEN: u32 = 20;
export const TCP_SEQ: usize = 4;
export const TCP_ACK: usize = 8;
export const TCP_DATA_OFFSET: usize = 12;
export const TCP_FLAGS: usize = 13;
export const TCP_WINDOW: usize = 14;

const OPT_EOL: u32 = 0;
const OPT_NOP: u32 = 1;
const OPT_MSS: u32 = 2;
const OPT_WSCALE: u32 = 3;
const OPT_SACK_PERMITTED: u32 = 4;
const OPT_TIMESTAMPS: u32 = 8;

/** Decoded TCP fields, valid after decodeTcp returned Stat.TcpPackets. */
export let tcpSrcPort: u32 = 0;
export let tcpDstPort: u32 = 0;
export let tcpSeq: u32 = 0;
export let tcpAck: u32 = 0;
export let tcpFlags: u32 = 0;
export let tcpWindow: u32 = 0;
export let tcpHeaderLen: u32 = 0;
export let tcpPayloadLen: u32 = 0;
/**
 * The segment length Wireshark's analysis sees: the payload length, but bounded by what the link
 * layer says it carries (Wireshark trims the IP packet to a PPPoE length, Zeek does not).
 */
export let tcpAnalysisLen: u32 = 0;
/**
 * tcpAnalysisLen of a segment Wireshark does not analyze: its TCP header is cut short by what
 * Wireshark takes for a link trailer ("Short segment", a malformed-packet exception before
 * tcp_analyze_sequence_number). Zeek's model and the lifecycle still take the segment.
 */
export const NOT_ANALYZED: u32 = 0xffffffff;

export function setAnalysisLen(len: u32): void {
  tcpAnalysisLen = len;
}

/** The segment's TCP options and how many of their bytes were captured (the packets table reads SACK blocks there). */
export let tcpOptionsAt: usize = 0;
export let tcpOptionsLen: u32 = 0;

/** Whether the snap length cut the header's options (Zeek then drops the segment). */
export let tcpHeaderCut: bool = false;
/**
 * A SYN's options (-1 when absent), set when a SYN is decoded: they are parsed on SYN segments
 * only. decodeTcp clears them for any other segment; the one-step decode (assembly/common.ts)
 * leaves them as they were, so that they are to be read on a SYN only.
 */
export let optMss: i32 = -1;
export let optWscale: i32 = -1;
export let optSackOk: bool = false;
export let optTimestamps: bool = false;

/** No options (a segment without SYN: they are parsed on SYN segments only). */
@inline export function clearOptions(): void {
  optMss = -1;
  optWscale = -1;
  optSackOk = false;
  optTimestamps = false;
}

/** Sets the options as a reducer replays a segment decoded elsewhere. */
export function setOptions(mss: i32, wscale: i32, sackOk: bool, timestamps: bool): void {
  optMss = mss;
  optWscale = wscale;
  optSackOk = sackOk;
  optTimestamps = timestamps;
}

/**
 * Decodes the TCP header at `p`: `capLen` bytes of it captured, `segLen` bytes (header and
 * payload) by the IP length fields.
 */
export function decodeTcp(p: usize, capLen: u32, segLen: u32): Stat {
  if (capLen < TCP_MIN_HEADER_LEN || segLen < TCP_MIN_HEADER_LEN) return Stat.TruncatedHeader;
  // SAFE: the 20-byte fixed header is captured (checked above).
  const headerLen = (<u32>load<u8>(p + TCP_DATA_OFFSET) >> 4) << 2;
  if (headerLen < TCP_MIN_HEADER_LEN || headerLen > segLen) return Stat.BadHeader;
  tcpSrcPort = be16(p);
  tcpDstPort = be16(p + 2);
  tcpSeq = be32(p + TCP_SEQ);
  tcpAck = be32(p + TCP_ACK);
  tcpFlags = <u32>load<u8>(p + TCP_FLAGS);
  tcpWindow = be16(p + TCP_WINDOW);
  tcpHeaderLen = headerLen;
  tcpPayloadLen = segLen - headerLen;
  tcpHeaderCut = headerLen > capLen;
  // Options cut by the snap length are read as far as they were captured.
  tcpOptionsAt = p + TCP_MIN_HEADER_LEN;
  tcpOptionsLen = (headerLen < capLen ? headerLen : capLen) - TCP_MIN_HEADER_LEN;
  clearOptions();
  if ((tcpFlags & TH_SYN) != 0) parseOptions(tcpOptionsAt, tcpOptionsLen, false);
  return Stat.TcpPackets;
}

/** Reads the options of a SYN whose `len` bytes of options at `p` are all captured (assembly/common.ts). */
export function parseSynOptions(p: usize, len: u32): void {
  clearOptions();
  parseOptions(p, len, false);
}

/**
 * Walks the `len` captured bytes of options at `p`. A SYN's options (`sackOnly` false) set the
 * opt* globals; with `sackOnly`, only a SACK option is read: its blocks go to sackEdges and their
 * number is returned (0: none).
 */
function parseOptions(p: usize, len: u32, sackOnly: bool): u32 {
  let i: u32 = 0;
  while (i < len) {
    const kind = <u32>load<u8>(p + i);
    if (kind == OPT_EOL) break;
    if (kind == OPT_NOP) { i++; continue; }
    if (i + 2 > len) break;
    const optLen = <u32>load<u8>(p + i + 1);
    if (optLen < 2 || i + optLen > len) break;
    // SAFE: [i, i + optLen) lies inside the captured options (checked above).
    if (sackOnly) {
      if (kind == OPT_SACK && optLen >= 10 && (optLen - 2) % 8 == 0) return readSack(p + i + 2, (optLen - 2) / 8);
    } else if (kind == OPT_MSS && optLen == 4) optMss = <i32>be16(p + i + 2);
    else if (kind == OPT_WSCALE && optLen == 3) optWscale = <i32>load<u8>(p + i + 2);
    else if (kind == OPT_SACK_PERMITTED && optLen == 2) optSackOk = true;
    else if (kind == OPT_TIMESTAMPS && optLen == 10) optTimestamps = true;
    i += optLen;
  }
  return 0;
}

/** The `n` blocks of a SACK option at `p` (at most MAX_SACK_BLOCKS kept), into sackEdges. */
function readSack(p: usize, n: u32): u32 {
  if (n > MAX_SACK_BLOCKS) n = MAX_SACK_BLOCKS;
  for (let b: u32 = 0; b < n; b++) {
    unchecked(sackEdges[2 * b] = be32(p + 8 * b));
    unchecked(sackEdges[2 * b + 1] = be32(p + 4 + 8 * b));
  }
  return n;
}

/** Sets where a segment decoded in one step (assembly/common.ts) has its options: all captured. */
@inline export function setOptionsAt(p: usize, len: u32): void {
  tcpOptionsAt = p;
  tcpOptionsLen = len;
}

/** Kind and length byte of a SACK option with `n` blocks (RFC 2018): 2 + 8n. */
const OPT_SACK: u32 = 5;
/** Most SACK blocks an option holds. */
export const MAX_SACK_BLOCKS: u32 = 4;

/**
 * The SACK blocks of the current segment's options, as found: returns how many (0: no SACK
 * option) and leaves their edges in sackEdges (left, right, …), as sent.
 */
export function sackBlocks(): u32 {
  return parseOptions(tcpOptionsAt, tcpOptionsLen, true);
}

export const sackEdges = new StaticArray<u32>(2 * MAX_SACK_BLOCKS);

/** Verifies the TCP checksum over the pseudo-header and `segLen` bytes at `p` (all captured). */
export function tcpChecksumOk(p: usize, segLen: u32, ipVersion: u32, src: usize, dst: usize): bool {
  return transportChecksumOk(IPPROTO_TCP, p, segLen, ipVersion, src, dst);
}
