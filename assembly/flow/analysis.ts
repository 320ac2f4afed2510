// Wireshark 4.0's TCP sequence analysis (epan/dissectors/packet-tcp.c, tcp_analyze_sequence_number
// and the steps of dissect_tcp around it), on absolute sequence numbers, totalled per direction:
// the counts equal those of tshark 4.0's tcp.analysis.* flags for the same packets. Where 4.0
// differs from later Wireshark (no SACK rules, no "already in the unacked list" test, unsigned
// time differences, a u32 duplicate-ACK counter that the ACKed-unseen path sets to -1), 4.0 is
// followed.

import { Flow, Endpoint, EndpointRare, RttStats, endpointOf, rareOf, rttOf } from "./record";
import { seqGe, seqGt, seqLt, seqLe } from "./seq";
import { TH_ACK, TH_FIN, TH_RST, TH_SYN, optWscale } from "../decode/tcp";
import { TcpAnalysis } from "../../src/core/abi";

// The TCP_A_* flags of one packet.
const A_RETRANSMISSION: u32 = TcpAnalysis.Retransmission;
const A_LOST_PACKET: u32 = TcpAnalysis.LostPacket;
const A_ACK_LOST_PACKET: u32 = TcpAnalysis.AckLostPacket;
const A_KEEP_ALIVE: u32 = TcpAnalysis.KeepAlive;
const A_DUPLICATE_ACK: u32 = TcpAnalysis.DuplicateAck;
const A_ZERO_WINDOW: u32 = TcpAnalysis.ZeroWindow;
const A_ZERO_WINDOW_PROBE: u32 = TcpAnalysis.ZeroWindowProbe;
const A_ZERO_WINDOW_PROBE_ACK: u32 = TcpAnalysis.ZeroWindowProbeAck;
const A_KEEP_ALIVE_ACK: u32 = TcpAnalysis.KeepAliveAck;
const A_OUT_OF_ORDER: u32 = TcpAnalysis.OutOfOrder;
const A_FAST_RETRANSMISSION: u32 = TcpAnalysis.FastRetransmission;
const A_WINDOW_UPDATE: u32 = TcpAnalysis.WindowUpdate;
const A_WINDOW_FULL: u32 = TcpAnalysis.WindowFull;
const A_SPURIOUS_RETRANSMISSION: u32 = TcpAnalysis.SpuriousRetransmission;

/** The flags of the segment analysed last, and the data RTT sample its ACK gave (NO_SAMPLE: none): the packets table's. */
export let segmentAnalysis: u32 = 0;
export const NO_SAMPLE: i64 = i64.MIN_VALUE;
export let segmentRttNs: i64 = NO_SAMPLE;
/** The packets table has read segmentRttNs. */
export function clearSegmentRtt(): void { segmentRttNs = NO_SAMPLE; }

/** win_scale: not known yet, or not in use (one SYN lacked the option). */
const SCALE_UNKNOWN: i8 = -1;
const SCALE_NONE: i8 = -2;
const MAX_SCALE: i32 = 14;
const FAST_RETRANSMIT_NS: i64 = 20_000_000;
const OOO_DEFAULT_NS: i64 = 3_000_000;
const DUPACK_LOST: u32 = 0xffffffff;

/** Initial per-direction state (init_tcp_conversation_data). */
export function initAnalysis(e: Endpoint): void {
  e.wsWindow = 0xffffffff;
  e.wsWinScale = SCALE_UNKNOWN;
  e.wsIsFirstAck = false;
  e.wsLastSegmentFlags = 0;
  e.wsLastAck = 0;
  e.wsLastAckTs = 0;
  e.wsDupAcks = 0;
  e.wsNextSeq = 0;
  e.wsNextSeqTs = 0;
  e.wsMaxSeqToBeAcked = 0;
  e.wsBaseSeqSet = false;
}

/** `now - then` is below `limit`, in 4.0's unsigned arithmetic (time running back never is). */
@inline function within(now: i64, then: i64, limit: i64): bool {
  const t = now - then;
  return t >= 0 && t < limit;
}

/** One TCP segment from side `s` of `f`. */
export function analyzeSegment(f: Flow, s: u32, tsNs: i64, flags: u32, seq: u32, ack: u32, len: u32, window: u32): void {
  const fwd = endpointOf(f, s), rev = endpointOf(f, s ^ 1);
  const syn = (flags & TH_SYN) != 0, fin = (flags & TH_FIN) != 0, rst = (flags & TH_RST) != 0;
  const synAck = flags & (TH_SYN | TH_ACK);
  beforeAnalysis(f, s, synAck, seq, ack, (flags & TH_ACK) != 0);
  let a: u32 = 0;
  const control = syn || fin || rst;
  // 1. A zero-window probe: one byte at nextseq into a zero window.
  if (len == 1 && seq == fwd.wsNextSeq && rev.wsWindow == 0) {
    a |= A_ZERO_WINDOW_PROBE;
  } else {
    a |= forwardChecks(fwd, rev, control, rst, seq, ack, len, window);
  }
  // FINISHED_FWD
  if (ack != fwd.wsLastAck) fwd.wsDupAcks = 0;
  a |= ackLost(rev, ack, (flags & TH_ACK) != 0);
  if (len > 0 || syn || fin) a |= retransmissionFamily(f, fwd, rev, a, tsNs, seq, len, syn || fin);
  timeData(fwd, rev, rttOf(f, s ^ 1), a, tsNs, seq, ack, len, (flags & TH_ACK) != 0);
  advance(fwd, a, tsNs, seq, len, syn || fin);
  fwd.wsWindow = window;
  fwd.wsLastAck = ack;
  fwd.wsLastAckTs = tsNs;
  fwd.wsLastSegmentFlags = a;
  afterAnalysis(f, fwd, rev, syn, synAck, tsNs);
  // Most segments have no flag: then nothing to count.
  if (a != 0) count(rareOf(f, s), a);
  segmentAnalysis = a;
}

/**
 * analyzeSegment for the common segment, in one step: an ACK without SYN, FIN or RST at exactly
 * the sender's nextseq, with a non-zero window both ways (no zero-window rules), that is neither
 * a duplicate ACK nor a keep-alive ACK, ACKs nothing unseen and resends nothing the peer ACKed.
 * Of the analysis flags only "window full" can then be set. Does what analyzeSegment does and
 * returns true; returns false, having changed nothing, for any other segment.
 */
export function analyzeInOrder(f: Flow, s: u32, fwd: Endpoint, rev: Endpoint, tsNs: i64, seq: u32, ack: u32, len: u32, window: u32): bool {
  // (No window scale option to take: options are read on SYN segments only, and this one has none.)
  // (One test each: a chain of || or && makes and tests a boolean per condition.)
  if (!fwd.wsBaseSeqSet) return false;
  if (!rev.wsBaseSeqSet) return false;
  if (window == 0) return false;
  if (fwd.wsNextSeq == 0) return false;
  if (seq != fwd.wsNextSeq) return false;
  if (len == 1) { if (rev.wsWindow == 0) return false; }
  // A length of 2^31 or more (a jumbogram's) would step nextseq back: the exact path's.
  if (len >= 0x8000_0000) return false;
  const sameAck = ack == fwd.wsLastAck;
  // A pure ACK repeating the last ACK and window: values ORed, one test.
  if ((len | (ack ^ fwd.wsLastAck) | (window ^ fwd.wsWindow)) == 0) return false;
  if (rev.wsMaxSeqToBeAcked != 0) { if (seqGt(ack, rev.wsMaxSeqToBeAcked)) return false; }
  if (len > 0) { if (rev.wsLastAck != 0) { if (seqLe(seq + len, rev.wsLastAck)) return false; } }
  let a: u32 = 0;
  if (len == 0 && sameAck && window != fwd.wsWindow) a |= A_WINDOW_UPDATE;
  if (fillsWindow(rev, seq, len)) a |= A_WINDOW_FULL;
  if (!sameAck) fwd.wsDupAcks = 0;
  // timeData and advance for an ACK at nextseq (not 0) whose flags can only be a window update or full.
  completeSample(rev, rttOf(f, s ^ 1), tsNs, ack);
  if (len > 0) {
    startSample(fwd, tsNs, seq, len);
    fwd.wsNextSeq = seq + len;
    fwd.wsNextSeqTs = tsNs;
  }
  if (seq == fwd.wsMaxSeqToBeAcked) fwd.wsMaxSeqToBeAcked = fwd.wsNextSeq;
  else if (fwd.wsMaxSeqToBeAcked == 0) fwd.wsMaxSeqToBeAcked = fwd.wsNextSeq;
  fwd.wsWindow = window;
  fwd.wsLastAck = ack;
  fwd.wsLastAckTs = tsNs;
  fwd.wsLastSegmentFlags = a;
  afterAnalysis(f, fwd, rev, false, TH_ACK, tsNs);
  if ((a & A_WINDOW_FULL) != 0) rareOf(f, s).windowFull++;
  segmentAnalysis = a;
  return true;
}

/** dissect_tcp before the analysis: a new ISN on a pure SYN resets the stream; base_seq set. */
function beforeAnalysis(f: Flow, s: u32, synAck: u32, seq: u32, ack: u32, hasAck: bool): void {
  const fwd = endpointOf(f, s), rev = endpointOf(f, s ^ 1);
  const fwdRare = rareOf(f, s);
  if (synAck == TH_SYN && fwd.wsBaseSeqSet) {
    if (seq != fwdRare.wsBaseSeq) {
      // A new conversation (tcp.stream) in Wireshark: fresh analysis state both ways.
      initAnalysis(fwd);
      initAnalysis(rev);
      f.wsMruSynNs = 0;
      f.wsFirstRttNs = 0;
    } else {
      fwd.wsNextSeq = fwd.wsMaxSeqToBeAcked; // issue 17616: a SYN retransmitted with the same ISN
    }
  }
  if (synAck == (TH_SYN | TH_ACK) && fwd.wsBaseSeqSet && seq != fwdRare.wsBaseSeq) fwdRare.wsBaseSeq = seq;
  if (!fwd.wsBaseSeqSet) {
    fwdRare.wsBaseSeq = (synAck & TH_SYN) != 0 ? seq : seq - 1;
    fwd.wsBaseSeqSet = true;
  }
  if (!rev.wsBaseSeqSet && hasAck) {
    rareOf(f, s ^ 1).wsBaseSeq = ack - 1;
    rev.wsBaseSeqSet = true;
  }
}

/** Step 6, window full: the payload ends exactly at the right edge of the peer's last window. */
@inline function fillsWindow(rev: Endpoint, seq: u32, len: u32): bool {
  if (len == 0) return false;
  if (rev.wsWinScale == SCALE_UNKNOWN) return false;
  const shift = rev.wsIsFirstAck || rev.wsWinScale == SCALE_NONE ? 0 : rev.wsWinScale;
  return seq + len == rev.wsLastAck + (rev.wsWindow << <u32>shift);
}

/** Steps 2–9: zero window, lost segment, keep-alive, window update/full, their ACKs, dup ACK. */
function forwardChecks(fwd: Endpoint, rev: Endpoint, control: bool, rst: bool, seq: u32, ack: u32, len: u32, window: u32): u32 {
  let a: u32 = 0;
  if (window == 0 && !control) a |= A_ZERO_WINDOW;
  if (fwd.wsNextSeq != 0 && seqGt(seq, fwd.wsNextSeq) && !rst) a |= A_LOST_PACKET;
  if (len <= 1 && seq == fwd.wsNextSeq - 1 && !control) a |= A_KEEP_ALIVE;
  if (control) return a;
  const atNext = seq == fwd.wsNextSeq && ack == fwd.wsLastAck;
  if (len == 0 && window != 0 && window != fwd.wsWindow && atNext) a |= A_WINDOW_UPDATE;
  if (fillsWindow(rev, seq, len)) a |= A_WINDOW_FULL;
  if (len != 0 || !atNext) return a;
  if (window != 0 && window == fwd.wsWindow && (rev.wsLastSegmentFlags & A_KEEP_ALIVE) != 0) return a | A_KEEP_ALIVE_ACK;
  if (window == 0 && fwd.wsWindow == 0 && (rev.wsLastSegmentFlags & A_ZERO_WINDOW_PROBE) != 0) return a | A_ZERO_WINDOW_PROBE_ACK;
  if (window != 0 && window == fwd.wsWindow) {
    fwd.wsDupAcks = fwd.wsDupAcks == DUPACK_LOST ? 1 : fwd.wsDupAcks + 1;
    a |= A_DUPLICATE_ACK;
  }
  return a;
}

/** Step 10: an ACK above what the peer is known to have sent ("ACKed unseen segment"). */
function ackLost(rev: Endpoint, ack: u32, hasAck: bool): u32 {
  if (rev.wsMaxSeqToBeAcked == 0 || !seqGt(ack, rev.wsMaxSeqToBeAcked) || !hasAck) return 0;
  if (seqLt(rev.wsMaxSeqToBeAcked, rev.wsNextSeq)) {
    rev.wsMaxSeqToBeAcked = rev.wsNextSeq;
    return A_ACK_LOST_PACKET;
  }
  const flag = rev.wsDupAcks == 0 ? A_ACK_LOST_PACKET : 0;
  rev.wsDupAcks = DUPACK_LOST;
  return flag;
}

/** Step 11: spurious, fast, out-of-order or plain retransmission. */
function retransmissionFamily(f: Flow, fwd: Endpoint, rev: Endpoint, a: u32, tsNs: i64, seq: u32, len: u32, synOrFin: bool): u32 {
  if ((a & A_KEEP_ALIVE) != 0) return 0;
  let notAdvanced = fwd.wsNextSeq != 0 && seqLt(seq, fwd.wsNextSeq);
  if (len > 1 && fwd.wsNextSeq - 1 == seq) notAdvanced = false;
  if (len > 0 && rev.wsLastAck != 0 && seqLe(seq + len, rev.wsLastAck)) return A_SPURIOUS_RETRANSMISSION;
  if (!notAdvanced) return 0;
  if (rev.wsDupAcks >= 2 && rev.wsLastAck == seq && within(tsNs, rev.wsLastAckTs, FAST_RETRANSMIT_NS)) return A_FAST_RETRANSMISSION;
  const threshold = f.wsFirstRttNs == 0 ? OOO_DEFAULT_NS : f.wsFirstRttNs;
  const inTime = threshold < 0 || within(tsNs, fwd.wsNextSeqTs, threshold);
  if (inTime && fwd.wsNextSeq != seq + len + (synOrFin ? 1 : 0)) return A_OUT_OF_ORDER;
  return A_RETRANSMISSION;
}

const A_RETRANSMISSION_FAMILY: u32 = A_RETRANSMISSION | A_FAST_RETRANSMISSION | A_SPURIOUS_RETRANSMISSION | A_OUT_OF_ORDER;

/**
 * Data RTT samples, Karn's rule (RFC 6298 §3): a segment of new data is timed when none is, the
 * first ACK covering it gives a sample, and a retransmission of it discards the timing.
 */
function timeData(fwd: Endpoint, rev: Endpoint, revRtt: RttStats, a: u32, tsNs: i64, seq: u32, ack: u32, len: u32, hasAck: bool): void {
  if (hasAck) completeSample(rev, revRtt, tsNs, ack);
  if (len == 0) return;
  if ((a & A_RETRANSMISSION_FAMILY) != 0) {
    if (fwd.rttTimed && seqLt(seq, fwd.rttTimedEnd)) fwd.rttTimed = false;
  } else if ((a & A_ZERO_WINDOW_PROBE) == 0) {
    startSample(fwd, tsNs, seq, len);
  }
}

/** An ACK at or past the end of the peer's timed segment: its RTT sample. */
@inline function completeSample(rev: Endpoint, revRtt: RttStats, tsNs: i64, ack: u32): void {
  if (!rev.rttTimed) return;
  if (!seqGe(ack, rev.rttTimedEnd)) return;
  const sample = tsNs - rev.rttTimedNs;
  rev.rttTimed = false;
  if (sample >= 0) {
    segmentRttNs = sample;
    revRtt.minNs = revRtt.count == 0 || sample < revRtt.minNs ? sample : revRtt.minNs;
    revRtt.maxNs = revRtt.count == 0 || sample > revRtt.maxNs ? sample : revRtt.maxNs;
    revRtt.sumNs += sample;
    revRtt.count++;
  }
}

/** A new data segment, neither retransmitted nor a zero-window probe: timed unless one is already. */
@inline function startSample(fwd: Endpoint, tsNs: i64, seq: u32, len: u32): void {
  if (fwd.rttTimed) return;
  fwd.rttTimed = true;
  fwd.rttTimedEnd = seq + len;
  fwd.rttTimedNs = tsNs;
}

/** Steps 12–14: nextseq and maxseqtobeacked move forward (never for a zero-window probe). */
function advance(fwd: Endpoint, a: u32, tsNs: i64, seq: u32, len: u32, synOrFin: bool): void {
  if ((a & A_ZERO_WINDOW_PROBE) != 0) return;
  // SYN and FIN take a sequence number (the 10000-segment cap on the +1 is not reproduced).
  const next = seq + len + (synOrFin ? 1 : 0);
  if (seqGt(next, fwd.wsNextSeq) || fwd.wsNextSeq == 0) {
    fwd.wsNextSeq = next;
    fwd.wsNextSeqTs = tsNs;
  }
  if (seq == fwd.wsMaxSeqToBeAcked || fwd.wsMaxSeqToBeAcked == 0) fwd.wsMaxSeqToBeAcked = fwd.wsNextSeq;
}

/**
 * dissect_tcp after the analysis: window scale option, is_first_ack, the initial RTT. Options are
 * read on SYN segments only (decode/tcp.ts): another segment's may be an earlier SYN's.
 */
function afterAnalysis(f: Flow, fwd: Endpoint, rev: Endpoint, syn: bool, synAck: u32, tsNs: i64): void {
  if (syn && optWscale >= 0) fwd.wsWinScale = <i8>(optWscale > MAX_SCALE ? MAX_SCALE : optWscale);
  if (syn) {
    if (fwd.wsWinScale == SCALE_UNKNOWN) { fwd.wsWinScale = SCALE_NONE; rev.wsWinScale = SCALE_NONE; }
    else if (synAck == (TH_SYN | TH_ACK) && rev.wsWinScale == SCALE_NONE) fwd.wsWinScale = SCALE_NONE;
    fwd.wsIsFirstAck = true;
  }
  if (synAck == TH_ACK) fwd.wsIsFirstAck = false;
  if (synAck == TH_SYN) f.wsMruSynNs = tsNs;
  if (synAck == TH_ACK) { if (f.wsFirstRttNs == 0) { if (f.wsMruSynNs != 0) f.wsFirstRttNs = tsNs - f.wsMruSynNs; } }
}

/** tshark shows tcp.analysis.retransmission on fast and spurious retransmissions too. */
function count(rare: EndpointRare, a: u32): void {
  if ((a & (A_RETRANSMISSION | A_FAST_RETRANSMISSION | A_SPURIOUS_RETRANSMISSION)) != 0) rare.retransmits++;
  if ((a & A_FAST_RETRANSMISSION) != 0) rare.fastRetransmits++;
  if ((a & A_SPURIOUS_RETRANSMISSION) != 0) rare.spuriousRetransmits++;
  if ((a & A_OUT_OF_ORDER) != 0) rare.outOfOrder++;
  if ((a & A_LOST_PACKET) != 0) rare.lostSegments++;
  if ((a & A_ACK_LOST_PACKET) != 0) rare.ackLostSegments++;
  if ((a & A_DUPLICATE_ACK) != 0) rare.dupAcks++;
  if ((a & A_ZERO_WINDOW) != 0) rare.zeroWindows++;
  if ((a & A_ZERO_WINDOW_PROBE) != 0) rare.zeroWindowProbes++;
  if ((a & A_WINDOW_FULL) != 0) rare.windowFull++;
  if ((a & A_KEEP_ALIVE) != 0) rare.keepalives++;
}
