// The flow record: one fixed-size block in the flow arena per live connection. A Flow header is
// followed by two Endpoint records (originator, responder) and the history bytes. Field names
// follow Zeek's TCP_Endpoint where the field is Zeek's.

import { Abi } from "../../src/core/abi";

/** Zeek's endpoint states (TCP_Endpoint.h, EndpointState). */
export const enum Zeek {
  Inactive = 0, SynSent = 1, SynAckSent = 2, Partial = 3, Established = 4, Closed = 5, Reset = 6,
}

/** Out-of-order data blocks kept per endpoint for gap detection (Zeek keeps all of them). */
export const MAX_BLOCKS: u32 = 4;

// The record is laid out by who touches it (Linux's tcp_sock cache-line groups): what the common
// segment reads and writes (the Flow fields from `keyA0` on, then both Endpoint records) lies in
// one stretch of six cache lines, which starts on a line (RECORD_SKEW below); the RTT samples
// (RttStats), written once per sample, take the line after it; the rest (the Flow fields before
// `keyA0`, the reassembly blocks, EndpointRare, the history, FlowRare) is touched by rare rules,
// when a flow starts and ends, and when its row is written. Which fields
// are hot is a matter of speed only: a field in the wrong part costs a cache line, never a result.

/** One side's state that the common segment reads or writes (the one-step path, path.ts). */
@unmanaged export class Endpoint {
  // Zeek's passive model (TCP_Endpoint).
  startSeq: u32;
  lastSeq: u32;
  ackSeq: u32;
  seqWraps: u32;
  ackWraps: u32;
  gapCount: u32; gapThresh: u32; // TCP_Reassembler's content gaps, scaled (a header-only capture has one per ACK)
  // Wireshark 4.0's per-flow analysis state (tcp_flow_t, tcp_analyze_seq_info), absolute numbers.
  wsWindow: u32;           // last raw window
  wsLastSegmentFlags: u32; // TCP_A_* flags of the last segment
  wsLastAck: u32;          // last ack field (any segment)
  wsDupAcks: u32;          // dupacknum (u32: the ACKed-unseen path stores 0xffffffff)
  wsNextSeq: u32;          // nextseq, 0 = unknown
  wsMaxSeqToBeAcked: u32;  // maxseqtobeacked, 0 = unknown
  rttTimedEnd: u32;
  isn: u32;                // synfin's: this side's ISN (with SENT_SYN)
  state: i32;              // Zeek
  rfcState: i32;           // TcpState
  wsWinScale: i8;          // -1 unknown, -2 not in use, else the shift
  blockCount: u8;
  didClose: bool;
  finSeen: bool;           // FIN_cnt > 0
  skipDeliveries: bool;
  didEof: bool;
  rttTimed: bool;          // data RTT: one segment of this side's timed at a time (Karn's rule)
  wsIsFirstAck: bool;
  wsBaseSeqSet: bool;
  finAcked: bool;          // synfin's: this side's FIN was acknowledged
  prevState: u8;           // Zeek: the state before `state`
  sent: u8;                // SENT_* below: which of EndpointRare's synTs, firstDataTs and finTs are set
  // Reassembly bookkeeping for content gaps (TCP_Reassembler), relative sequence space.
  lastReassemSeq: u64;
  trimSeq: u64;
  // ConnSize.
  pkts: u64;
  ipBytes: u64;
  wsLastAckTs: i64;        // lastacktime: time of the last segment (any)
  wsNextSeqTs: i64;        // time of the segment that last moved nextseq
  rttTimedNs: i64;
}

// Endpoint.sent
export const SENT_SYN: u8 = 1;
export const SENT_DATA: u8 = 2;
export const SENT_FIN: u8 = 4;

/** One side's state that only rare rules and the row read: letters' counters, options, totals, instants. */
@unmanaged export class EndpointRare {
  histLastSyn: u64;
  histLastFin: u64;
  histLastRst: u64;
  // Scaled history counters (Session::ScaledHistoryEntry): count and next threshold.
  chkCount: u32; chkThresh: u32;
  rxmitCount: u32; rxmitThresh: u32;
  win0Count: u32; win0Thresh: u32;
  optionBits: u8;          // OPT_* below
  wscale: u8;
  mss: u16;
  finSeqAbs: u32;          // absolute seq of this side's first FIN
  lastSynTs: i64;          // most recent SYN (or SYN-ACK) from this side
  // Zeek's passive model, off the common segment's way.
  finSeq: u64;             // relative seq one past the FIN
  wsBaseSeq: u32;          // Wireshark's base_seq (Endpoint.wsBaseSeqSet says whether it is set)
  // synfin's instants of this side (Endpoint.sent says which are set).
  synTs: i64;              // first SYN (or SYN-ACK) from this side
  firstDataTs: i64;
  finTs: i64;
  // Wireshark's tcp.analysis flags from this side, totalled (analysis.ts).
  retransmits: u64;
  fastRetransmits: u64;
  spuriousRetransmits: u64;
  outOfOrder: u64;
  lostSegments: u64;
  ackLostSegments: u64;
  dupAcks: u64;
  zeroWindows: u64;
  zeroWindowProbes: u64;
  keepalives: u64;
  windowFull: u64;
}

/**
 * One side's data RTT samples (of the segments it sent). The ACK completing a sample writes them,
 * on the one-step path too, so both sides' lie on the line right after the hot stretch: among the
 * rare fields they cost one cache miss per sample with tens of thousands of connections alive.
 */
@unmanaged export class RttStats {
  count: u32;
  sumNs: i64;
  minNs: i64;
  maxNs: i64;
}

// Endpoint.optionBits
export const OPT_MSS: u8 = 1;
export const OPT_WSCALE: u8 = 2;
export const OPT_SACK_OK: u8 = 4;
export const OPT_TIMESTAMPS: u8 = 8;
export const OPT_ECN_SETUP: u8 = 16;   // SYN with ECE+CWR, or SYN-ACK with ECE
export const OPT_ISN: u8 = 32;

@unmanaged export class Flow {
  // Rarely touched: identity and instants for the row, deadlines, list links, the close's details.
  connId: i64;
  firstPacket: i64;
  startNs: i64;            // Zeek's start_time
  rstNs: i64;
  closedNs: i64;
  attemptNs: i64;          // AttemptTimer deadline, or NO_TIME
  expireNs: i64;           // ExpireTimer deadline, or NO_TIME
  deleteNs: i64;           // ConnDeleteTimer deadline, or NO_TIME
  wsMruSynNs: i64;         // Wireshark's ts_mru_syn (0 = none)
  inactivityNs: i64;       // current inactivity timeout
  establishedNs: i64;
  interface: u32;
  older: u32;              // creation-order list (for the end-of-input flush); of a free record, the next free one
  newer: u32;
  lruPrev: u32;            // activity-order list (for eviction), one of two (tracker.ts)
  lruNext: u32;
  hash: u32;
  index: u32;              // this record's index in the arena
  vlan: i16;               // the first packet's outer VLAN id, -1 untagged (the row's vlan)
  innerVlan: i16;          // and its inner one (inner_vlan)
  hasInterface: bool;
  tunnel: u8;
  closer: u8;              // Closer
  deferredGenEvent: bool;
  isActive: bool;          // Zeek's is_active (cleared by connection_attempt / reset / finish)
  // Touched by every segment from here on, starting on a cache line. Canonical key: side A sorts
  // below side B (see table.ts); keyA0..keyB1 stay in this order (row.ts reads them as addresses).
  keyA0: u64; keyA1: u64; keyB0: u64; keyB1: u64;
  lastNs: i64;             // Zeek's last_time (duration)
  lastPacketNs: i64;       // any packet, for last_ts
  lruStamp: i64;           // packet index of its last move in that list
  missedBytes: u64;
  wsFirstRttNs: i64;       // Wireshark's ts_first_rtt, the initial RTT (0 = not yet)
  // portA, portB and keyVlan stay in this order, one word together (table.ts compares them so).
  portA: u16; portB: u16;
  keyVlan: u32;            // with Flag.VlanKey: outer VLAN | inner VLAN << 16 (0: none), else 0
  histSeen: u32;           // Zeek's hist_seen mask (responder bits << 16)
  keyBits: u8;
  tunnelled: bool;         // a packet came through a tunnel: FlowRare.encap is not 0 (tracker.ts)
  origIsA: bool;
  historyLen: u8;
  completeness: u8;
  firstPacketSeen: u8;     // Zeek's first_packet_seen bits (1 orig, 2 resp)
  isPartial: bool;
  closeDeferred: bool;
  lruList: u8;             // which: 0 attempts without a reply, 1 the others
}

/** The rarely touched part of the Flow, after the history. */
@unmanaged export class FlowRare {
  encap: u64;              // the encapsulation of its last packet (decode/encap.ts), 0 for none
  tunnelChanges: u8;       // Zeek's tunnel_changes; past the limit, one more (tracker.ts)
}

// The layout's constants are written as plain expressions (no function calls), which the compiler
// folds: a constant computed by a call becomes a global, loaded wherever a record is addressed.
const CACHE_LINE: usize = 64;
export const ENDPOINT_SIZE: usize = (offsetof<Endpoint>() + 7) & ~7;
const RARE_SIZE: usize = (offsetof<EndpointRare>() + 7) & ~7;
const BLOCKS_SIZE: usize = <usize>MAX_BLOCKS * 16;
const RTT_SIZE: usize = (offsetof<RttStats>() + 7) & ~7;
const ENDPOINTS_OFFSET: usize = (offsetof<Flow>() + 7) & ~7;
/**
 * Where a record starts past a cache line: records are whole lines (FLOW_SIZE) in an arena that
 * starts this far past a page (table.ts), so that the hot stretch, from `keyA0`, starts on a line.
 */
export const RECORD_SKEW: usize = (CACHE_LINE - (offsetof<Flow>("keyA0") & (CACHE_LINE - 1))) & (CACHE_LINE - 1);
// The RTT samples start on the line after the hot stretch, then the blocks (touched by segments with payload).
const RTT_OFFSET: usize = ((ENDPOINTS_OFFSET + 2 * ENDPOINT_SIZE + RECORD_SKEW + CACHE_LINE - 1) & ~(CACHE_LINE - 1)) - RECORD_SKEW;
const BLOCKS_OFFSET: usize = RTT_OFFSET + 2 * RTT_SIZE;
const RARE_OFFSET: usize = BLOCKS_OFFSET + 2 * BLOCKS_SIZE;
const HISTORY_OFFSET: usize = RARE_OFFSET + 2 * RARE_SIZE;
const FLOW_RARE_OFFSET: usize = (HISTORY_OFFSET + <usize>Abi.HistoryBytes + 7) & ~7;
/** Whole cache lines, so that the hot stretch is the same lines in each record. */
export const FLOW_SIZE: usize = (FLOW_RARE_OFFSET + offsetof<FlowRare>() + CACHE_LINE - 1) & ~(CACHE_LINE - 1);

export const NO_TIME: i64 = i64.MIN_VALUE;

/** The originator's (0) or responder's (1) endpoint. */
@inline export function endpointOf(f: Flow, side: u32): Endpoint {
  return changetype<Endpoint>(changetype<usize>(f) + ENDPOINTS_OFFSET + <usize>side * ENDPOINT_SIZE);
}

/** The rarely touched part of the originator's (0) or responder's (1) endpoint. */
@inline export function rareOf(f: Flow, side: u32): EndpointRare {
  return changetype<EndpointRare>(changetype<usize>(f) + RARE_OFFSET + <usize>side * RARE_SIZE);
}

/** The originator's (0) or responder's (1) data RTT samples. */
@inline export function rttOf(f: Flow, side: u32): RttStats {
  return changetype<RttStats>(changetype<usize>(f) + RTT_OFFSET + <usize>side * RTT_SIZE);
}

/** Start of an endpoint's reassembly blocks: MAX_BLOCKS pairs of u64 (seq, upper). */
@inline export function blocksOf(f: Flow, side: u32): usize {
  return changetype<usize>(f) + BLOCKS_OFFSET + <usize>side * BLOCKS_SIZE;
}

@inline export function historyOf(f: Flow): usize {
  return changetype<usize>(f) + HISTORY_OFFSET;
}

@inline export function flowRareOf(f: Flow): FlowRare {
  return changetype<FlowRare>(changetype<usize>(f) + FLOW_RARE_OFFSET);
}

/** Swaps the originator's and responder's records (Zeek's FlipRoles): endpoints, blocks, rare parts. */
export function swapEndpoints(f: Flow): void {
  const a = changetype<usize>(f) + ENDPOINTS_OFFSET;
  swapBytes(a, a + ENDPOINT_SIZE, ENDPOINT_SIZE);
  const ba = changetype<usize>(f) + BLOCKS_OFFSET;
  swapBytes(ba, ba + BLOCKS_SIZE, BLOCKS_SIZE);
  const ra = changetype<usize>(f) + RARE_OFFSET;
  swapBytes(ra, ra + RARE_SIZE, RARE_SIZE);
  const rt = changetype<usize>(f) + RTT_OFFSET;
  swapBytes(rt, rt + RTT_SIZE, RTT_SIZE);
}

function swapBytes(a: usize, b: usize, len: usize): void {
  for (let i: usize = 0; i < len; i += 8) {
    const t = load<u64>(a + i);
    store<u64>(a + i, load<u64>(b + i));
    store<u64>(b + i, t);
  }
}
