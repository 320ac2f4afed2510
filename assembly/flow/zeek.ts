// Zeek's passive per-endpoint TCP model, step for step as TCPSessionAdapter::Process runs it
// (zeek/zeek src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc, TCP_Endpoint.cc). Each step
// names the Zeek function it reproduces; conn_state, history, the byte counts and duration of a
// row are functions of the state kept here.

import { Flow, Endpoint, Zeek, endpointOf, rareOf } from "./record";
import { seqDiff, fullSeq } from "./seq";
import { HIST_SYN, HIST_FIN, HIST_RST, HIST_FIN_RST, HIST_DATA, HIST_ACK, HIST_MULTI_FLAG, addHistory, checkHistory, scaledHistory, historyIs, setHistory2 } from "./history";
import { TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../decode/tcp";
import { ackReceived, dataSent, dataPending } from "./reassembly";
import { flipRoles, onConnectionEstablished } from "./roles";
import { armAttempt, onCloseComplete, onHalfClose } from "./expiry";

/** Zeek's TOO_LARGE_SEQ_DELTA. */
const TOO_LARGE_SEQ_DELTA: i32 = 1048576;
const LETTER_S: u32 = 0x53, LETTER_H: u32 = 0x48, LETTER_F: u32 = 0x46, LETTER_R: u32 = 0x52;
const LETTER_I: u32 = 0x49, LETTER_Q: u32 = 0x51, LETTER_D: u32 = 0x44, LETTER_A: u32 = 0x41;
const LETTER_T: u32 = 0x54, LETTER_W: u32 = 0x57, LETTER_C: u32 = 0x43, LETTER_CARET: u32 = 0x5e;
const LETTER_H_LOWER: u32 = 0x68;

// first_packet_seen bits.
export const SEEN_ORIG: u8 = 1;
export const SEEN_RESP: u8 = 2;

/** The side (0 originator, 1 responder) of the packet being processed; flips move it. */
let side: u32 = 0;

@inline function sender(f: Flow): Endpoint { return endpointOf(f, side); }
@inline function receiver(f: Flow): Endpoint { return endpointOf(f, side ^ 1); }
@inline function isHandshake(state: i32): bool { return state <= Zeek.SynAckSent; }


/** TCP_Endpoint::SetState: leaving the handshake switches to the TCP inactivity timeout. */
function setState(f: Flow, e: Endpoint, peer: Endpoint, state: i32): void {
  if (state == e.state) return;
  if (!isHandshake(state) && isHandshake(e.state) && isHandshake(peer.state)) setTcpInactivity(f);
  e.prevState = <u8>e.state;
  e.state = state;
}

/** The timeouts of init-bare.zeek, in ns. */
export const TCP_INACTIVITY_NS: i64 = 300_000_000_000;
export const HANDSHAKE_INACTIVITY_NS: i64 = 60_000_000_000;

function setTcpInactivity(f: Flow): void {
  if (f.inactivityNs == HANDSHAKE_INACTIVITY_NS) f.inactivityNs = TCP_INACTIVITY_NS;
}

/** A packet dropped for its TCP checksum: only the scaled 'C' letter (TCP_Endpoint::ChecksumError). */
export function checksumError(f: Flow, isOrig: bool): void {
  const r = rareOf(f, isOrig ? 0 : 1);
  r.chkCount++;
  r.chkThresh = scaledHistory(f, isOrig, LETTER_C, r.chkCount, r.chkThresh);
}

/**
 * TCPSessionAdapter::Process for one segment. Returns the side the packet is counted on by
 * ConnSize (the side before any flip inside this packet, as Zeek passes it).
 */
export function processSegment(f: Flow, isOrig: bool, tsNs: i64, flags: u32, seq: u32, ack: u32, window: u32, len: u32, capturedLen: u32): u32 {
  side = isOrig ? 0 : 1;
  const syn = (flags & TH_SYN) != 0, fin = (flags & TH_FIN) != 0, rst = (flags & TH_RST) != 0, hasAck = (flags & TH_ACK) != 0;
  setPartialStatus(f, syn, hasAck);
  // get_segment_len: SYN and FIN take one sequence number each; a RST's payload takes none.
  const segLen: u32 = (rst ? 0 : len) + (syn ? 1 : 0) + (fin ? 1 : 0);
  const seqOnePast = seq + segLen;
  initEndpoint(sender(f), syn, seq, seqOnePast);
  const e0 = sender(f);
  const relSeq = relativeSeq(e0, seq, e0.lastSeq, e0.seqWraps);
  const seqUnderflow = relSeqUnderflow;
  updateHistory(f, syn, fin, rst, hasAck, relSeq, len);
  // ConnSize counts on the side as it stands now: after the second-packet flip, before the
  // SYN/SYN-ACK reordering flip in the state machine (zeek-logic §6.3).
  const countedSide = side;
  updateWindow(f, window, rst);
  const orig = endpointOf(f, 0), resp = endpointOf(f, 1);
  if (!orig.didClose || !resp.didClose) f.lastNs = tsNs;
  if (fin) { sender(f).finSeen = true; rareOf(f, side).finSeq = relSeq + <u64>segLen; }
  let relAck: u64 = 0;
  if (hasAck) relAck = noteAck(f, ack, rst);
  const deltaLast = updateLastSeq(f, seqOnePast, syn, fin, rst, len);
  const close = updateStateMachine(f, tsNs, seq, ack, len, deltaLast, syn, fin, rst, hasAck);
  if (hasAck && ackReceived(f, side ^ 1, receiver(f), sender(f), relAck)) checkEof(f, side ^ 1);
  const relDataSeq = syn ? relSeq + 1 : relSeq;
  if (len > 0 && !rst && !seqUnderflow) dataSent(f, side, sender(f), relDataSeq, len, capturedLen);
  checkEof(f, side);
  if (close != 0) connectionClosed(f, side, close == 2);
  return countedSide;
}

/**
 * processSegment for the common segment, in one step: an ACK (PSH, URG, ECE, CWR allowed) without
 * SYN, FIN or RST, sent at exactly its side's last sequence number with a non-zero window, by an
 * established or partial side that began no close (the peer may have), or with no payload by a
 * side that sent its FIN and reached its EOF; and no second-packet flip to make. Then
 * Zeek's rules reduce to: the partial-status bit, the D or A letter the first time, the time, the
 * ACK (noteAck), last_seq moving over the payload, and the reassembler's ACK and data steps, which
 * are called as they are. Does what processSegment does and returns true; returns false, having
 * changed nothing, for any other segment. `e` and `peer` are the endpoints of sides `s` and s ^ 1.
 */
export function processInOrder(f: Flow, s: u32, e: Endpoint, peer: Endpoint, tsNs: i64, seq: u32, ack: u32, window: u32, len: u32, capturedLen: u32): bool {
  const isOrig = s == 0;
  // update_last_seq moves only forward; a payload of 2^31 or more would read as a step back.
  // (One test each: a chain of || makes and tests a boolean per condition.)
  if (seq != e.lastSeq) return false;
  if (window == 0) return false;
  if (len >= 0x8000_0000) return false;
  // UpdateStateMachine changes nothing for these states without SYN, FIN or RST, whatever the
  // peer's; CheckEOF waits for this side's FIN. A side that sent its FIN (Closed) and reached its
  // EOF may send pure ACKs too: UpdateClosedState acts on a RST only, CheckEOF has run.
  // (Partial and Established are 3 and 4; the flags' bytes ORed make one test, not a boolean each.)
  if (<u32>(e.state - Zeek.Partial) <= 1) {
    if ((<u32>e.finSeen | <u32>e.didClose) != 0) return false;
  } else {
    if (e.state != Zeek.Closed) return false;
    if (!e.didEof) return false;
    if (len != 0) return false;
  }
  // update_history's second-packet flip ("H" alone, answered) is the exact path's.
  if (!isOrig) { if (f.historyLen == 1) return false; }
  // SetPartialStatus with no SYN and an ACK: partial unless this side's first packet was seen.
  // (SEEN_RESP is SEEN_ORIG << 1.)
  if ((<u32>f.firstPacketSeen & (<u32>SEEN_ORIG << s)) == 0) f.isPartial = true;
  // update_history: the D or A letter of its direction, the first time.
  // (The responder's bits lie 16 above the originator's: s is 0 or 1.)
  const seen = (len > 0 ? HIST_DATA : HIST_ACK) << (s << 4);
  if ((f.histSeen & seen) == 0) checkHistory(f, isOrig, len > 0 ? HIST_DATA : HIST_ACK, len > 0 ? LETTER_D : LETTER_A);
  // get_relative_seq at last_seq itself: no wrap to count (the wraps before setLastSeq's; nothing
  // below changes the sender's startSeq).
  const seqWraps = e.seqWraps;
  // The last time stops once both sides closed.
  if (!e.didClose) f.lastNs = tsNs;
  else if (!peer.didClose) f.lastNs = tsNs;
  const relAck = ackOf(peer, ack, false);
  if (len > 0) setLastSeq(e, seq + len);
  if (ackReceived(f, s ^ 1, peer, e, relAck)) checkEof(f, s ^ 1);
  // A payload cut by the snap length is never stored (dataSent): its position is not needed then.
  if (len > 0) {
    if (capturedLen >= len) {
      const relSeq = relativeOrUnderflow(seq, e.startSeq, seqWraps);
      if (relSeq != UNDERFLOW) dataSent(f, s, e, relSeq, len, capturedLen);
    }
  }
  return true;
}

/** relativeOrUnderflow's answer for a position before the endpoint's start (get_relative_seq's underflow). */
const UNDERFLOW: u64 = u64.MAX_VALUE;

/**
 * get_relative_seq of `cur` for an endpoint whose wraps, after counting the step from its last
 * number, are `wraps`: the position, or UNDERFLOW (never a position) when it lies before `start`
 * with no wrap.
 */
@inline function relativeOrUnderflow(cur: u32, start: u32, wraps: u32): u64 {
  if (wraps == 0) {
    const d = seqDiff(cur, start);
    return d < 0 ? UNDERFLOW : <u64>d;
  }
  return fullSeq(cur, wraps) - <u64>start;
}

/** The wraps get_relative_seq counts for `cur` after the endpoint's `last`. */
@inline function wrapsAt(cur: u32, last: u32, wrapsIn: u32): u32 {
  const d = seqDiff(cur, last);
  if (d < 0) return wrapsIn != 0 && cur > last ? wrapsIn - 1 : wrapsIn;
  if (d > 0) { if (cur < last) return wrapsIn + 1; }
  return wrapsIn;
}

/** TCPSessionAdapter::SetPartialStatus. */
function setPartialStatus(f: Flow, syn: bool, hasAck: bool): void {
  if (side == 0) {
    if ((f.firstPacketSeen & SEEN_ORIG) == 0) f.isPartial = !syn || hasAck;
  } else if ((f.firstPacketSeen & SEEN_RESP) == 0 && !f.isPartial) {
    f.isPartial = !syn;
  }
}

/** init_endpoint: (re)bases an endpoint's sequence space on its first packet or a new SYN. */
function initEndpoint(e: Endpoint, syn: bool, firstSeq: u32, last: u32): void {
  switch (e.state) {
    case Zeek.Inactive:
      if (syn) { e.ackSeq = firstSeq; e.startSeq = firstSeq; e.lastSeq = last; }
      else { e.ackSeq = firstSeq - 1; e.startSeq = firstSeq - 1; e.lastSeq = firstSeq; }
      break;
    case Zeek.SynSent:
    case Zeek.SynAckSent:
      if (syn && firstSeq != e.startSeq) { e.startSeq = firstSeq; e.ackSeq = firstSeq; e.lastSeq = last; }
      break;
    case Zeek.Established:
    case Zeek.Partial:
      if (syn) { e.startSeq = firstSeq; e.ackSeq = firstSeq; e.lastSeq = last; }
      break;
    case Zeek.Reset:
      if (syn && e.prevState == Zeek.Inactive) { e.startSeq = firstSeq; e.ackSeq = firstSeq; e.lastSeq = last; }
      break;
    default:
      break;
  }
}

let relSeqUnderflow: bool = false;

/** get_relative_seq: position of `cur` in the endpoint's sequence space (wraps counted). */
export function relativeSeq(e: Endpoint, cur: u32, last: u32, wrapsIn: u32): u64 {
  const wraps = wrapsAt(cur, last, wrapsIn);
  const rel = relativeOrUnderflow(cur, e.startSeq, wraps);
  relSeqUnderflow = rel == UNDERFLOW;
  // An underflow's position, as Zeek computes it: the negative distance, as an unsigned number.
  return relSeqUnderflow ? <u64><i64>seqDiff(cur, e.startSeq) : rel;
}

/** update_history, plus the second-packet flip of zeek/zeek#2191 in CheckHistory. */
function updateHistory(f: Flow, syn: bool, fin: bool, rst: bool, hasAck: bool, relSeq: u64, len: u32): void {
  const flagCount = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0);
  if (flagCount > 1) {
    if (fin && rst) checkHistory(f, side == 0, HIST_FIN_RST, LETTER_I);
    else checkHistory(f, side == 0, HIST_MULTI_FLAG, LETTER_Q);
    return;
  }
  const e = rareOf(f, side);
  if (flagCount == 1) {
    if (syn) {
      const code = hasAck ? LETTER_H : LETTER_S;
      if (checkHistory(f, side == 0, HIST_SYN, code) && relSeq != e.histLastSyn) addHistory(f, side == 0, code);
      e.histLastSyn = relSeq;
    } else if (fin) {
      if (checkHistory(f, side == 0, HIST_FIN, LETTER_F) && relSeq + len != e.histLastFin) addHistory(f, side == 0, LETTER_F);
      e.histLastFin = relSeq + len;
    } else {
      if (checkHistory(f, side == 0, HIST_RST, LETTER_R) && relSeq != e.histLastRst) addHistory(f, side == 0, LETTER_R);
      e.histLastRst = relSeq;
    }
    return;
  }
  if (len == 0 && !hasAck) return;
  // A SYN-ACK seen first and answered: the SYN-ACK's sender was the responder after all.
  if (side == 1 && historyIs(f, LETTER_H)) {
    flipRoles(f);
    side ^= 1;
    setHistory2(f, LETTER_CARET, LETTER_H_LOWER);
  }
  if (len > 0) checkHistory(f, side == 0, HIST_DATA, LETTER_D);
  else checkHistory(f, side == 0, HIST_ACK, LETTER_A);
}

/** update_window: a zero window is the scaled 'W'. */
function updateWindow(f: Flow, window: u32, rst: bool): void {
  const e = sender(f);
  if (window == 0 && !rst && receiver(f).state != Zeek.Closed && e.state != Zeek.Reset) {
    const r = rareOf(f, side);
    r.win0Count++;
    r.win0Thresh = scaledHistory(f, side == 0, LETTER_W, r.win0Count, r.win0Thresh);
  }
}

/** Step 11 of Process: the ACK field, relative to the receiver's sequence space. */
function noteAck(f: Flow, ack: u32, rst: bool): u64 {
  return ackOf(receiver(f), ack, rst);
}

/** noteAck for the receiver `peer`. */
@inline function ackOf(peer: Endpoint, ack: u32, rst: bool): u64 {
  if (peer.state == Zeek.Inactive) {
    // init_peer: seed the silent side's sequence space from the ACK.
    peer.startSeq = ack - 1;
    peer.ackSeq = ack - 1;
    peer.lastSeq = ack - 1;
    return 1;
  }
  const relAck = relativeOrUnderflow(ack, peer.startSeq, wrapsAt(ack, peer.ackSeq, peer.ackWraps));
  if (relAck == UNDERFLOW) return 0;
  if (!rst) {
    // update_ack_seq
    const d = seqDiff(ack, peer.ackSeq);
    // 0 < d <= TOO_LARGE_SEQ_DELTA as one unsigned test (the common ACK), then the rest.
    if (<u32>(d - 1) < <u32>TOO_LARGE_SEQ_DELTA) updateAckSeq(peer, ack);
    else if (d > 0 && ack != 0) updateAckSeq(peer, ack);
  }
  return relAck;
}

@inline function updateAckSeq(peer: Endpoint, ack: u32): void {
  if (ack < peer.ackSeq) peer.ackWraps++;
  peer.ackSeq = ack;
}

/** update_last_seq; a segment with payload that does not advance last_seq is the scaled 'T'. */
function updateLastSeq(f: Flow, s: u32, syn: bool, fin: bool, rst: bool, len: u32): i32 {
  const e = sender(f);
  const d = seqDiff(s, e.lastSeq);
  if ((syn || rst) && (d > TOO_LARGE_SEQ_DELTA || d < -TOO_LARGE_SEQ_DELTA)) {
    // An implausible jump on a SYN or RST is not trusted.
  } else if (fin && e.lastSeq == e.startSeq + 1) {
    setLastSeq(e, s);
  } else if (e.state == Zeek.Reset) {
    // Nothing after a RST is trusted.
  } else if (d > 0) {
    setLastSeq(e, s);
  } else if (len > 0) {
    const r = rareOf(f, side);
    r.rxmitCount++;
    r.rxmitThresh = scaledHistory(f, side == 0, LETTER_T, r.rxmitCount, r.rxmitThresh);
  }
  return d;
}

@inline function setLastSeq(e: Endpoint, s: u32): void {
  if (s < e.lastSeq) e.seqWraps++;
  e.lastSeq = s;
}

/** UpdateStateMachine. Returns 0 (no close), 1 (close, no event) or 2 (close with event). */
function updateStateMachine(f: Flow, tsNs: i64, seq: u32, ack: u32, len: u32, deltaLast: i32, syn: bool, fin: bool, rst: bool, hasAck: bool): u32 {
  const state = sender(f).state;
  if (state == Zeek.Inactive) return updateInactive(f, tsNs, seq, len, syn, fin, rst, hasAck);
  if (state == Zeek.SynSent || state == Zeek.SynAckSent) return updateSynSent(f, fin, rst);
  if (state == Zeek.Established || state == Zeek.Partial) return updateEstablished(f, syn, fin, rst, hasAck);
  if (state == Zeek.Closed) return updateClosed(f, rst);
  return 0; // RESET is terminal (UpdateResetState only raises weirds).
}

/** UpdateInactiveState. */
function updateInactive(f: Flow, tsNs: i64, seq: u32, len: u32, syn: bool, fin: bool, rst: bool, hasAck: bool): u32 {
  let close: u32 = 0;
  if (syn) {
    if (side == 0) {
      setState(f, sender(f), receiver(f), hasAck ? Zeek.SynAckSent : Zeek.SynSent);
      armAttempt(f, tsNs);
    } else {
      if (!hasAck && receiver(f).state == Zeek.SynAckSent && seq == sender(f).startSeq) {
        // SYN/SYN-ACK reordering: the SYN's sender is the originator.
        f.isPartial = false;
        flipRoles(f);
        side ^= 1;
        setState(f, receiver(f), sender(f), Zeek.Established);
        f.firstPacketSeen |= SEEN_ORIG;
      }
      const peer = receiver(f);
      if (peer.state == Zeek.SynSent) setState(f, peer, sender(f), Zeek.Established);
      setState(f, sender(f), peer, Zeek.Established);
      if (peer.state != Zeek.Partial) onConnectionEstablished(f);
    }
  }
  if (fin) {
    setState(f, sender(f), receiver(f), Zeek.Closed);
    close = 2;
  }
  if (rst) {
    setState(f, sender(f), receiver(f), Zeek.Reset);
    const peerState = receiver(f).state;
    const isReject = side == 0 ? peerState == Zeek.Established : peerState == Zeek.SynSent || peerState == Zeek.SynAckSent;
    close = isReject ? 1 : 2;
  }
  if (sender(f).state == Zeek.Inactive) {
    const orig = endpointOf(f, 0);
    if (side == 1 && len == 0 && orig.state == Zeek.SynSent) {
      // An ACK of the SYN before the SYN-ACK: not a partial connection.
    } else if (hasAck && receiver(f).state == Zeek.Established) {
      setState(f, sender(f), receiver(f), Zeek.Established);
      f.isPartial = false;
      f.firstPacketSeen |= side == 0 ? SEEN_ORIG : SEEN_RESP;
    } else {
      setState(f, sender(f), receiver(f), Zeek.Partial);
    }
  }
  return close;
}

/** UpdateSYN_SentState. */
function updateSynSent(f: Flow, fin: bool, rst: bool): u32 {
  let close: u32 = 0;
  if (fin) { setState(f, sender(f), receiver(f), Zeek.Closed); close = 2; }
  if (rst) {
    setState(f, sender(f), receiver(f), Zeek.Reset);
    f.isActive = false; // ConnectionReset
    close = 1;
  }
  return close;
}

/** UpdateEstablishedState. */
function updateEstablished(f: Flow, syn: bool, fin: bool, rst: bool, hasAck: bool): u32 {
  let close: u32 = 0;
  const e = sender(f), peer = receiver(f);
  if (syn && e.state == Zeek.Partial && peer.state == Zeek.Inactive && !hasAck) setState(f, e, peer, Zeek.SynSent);
  if (fin && !rst) {
    setState(f, e, peer, Zeek.Closed);
    // A FIN answering a FIN-then-RST: the peer's close was normal after all.
    if (peer.state == Zeek.Reset && peer.prevState == Zeek.Closed) setState(f, peer, e, Zeek.Closed);
    close = 2;
  }
  if (rst) {
    setState(f, e, peer, Zeek.Reset);
    close = 1;
    if (peer.state != Zeek.Reset || peer.prevState != Zeek.Established) f.isActive = false;
  }
  return close;
}

/** UpdateClosedState: a RST after our FIN resets us unless the peer closed too. */
function updateClosed(f: Flow, rst: bool): u32 {
  const e = sender(f), peer = receiver(f);
  if (rst && peer.state != Zeek.Closed) {
    setState(f, e, peer, Zeek.Reset);
    if (!e.didClose) return 1;
  }
  return 0;
}

/** TCPSessionAdapter::ConnectionClosed, with the deferral while data is pending. */
export function connectionClosed(f: Flow, s: u32, genEvent: bool): void {
  const e = endpointOf(f, s), peer = endpointOf(f, s ^ 1);
  if (dataPending(f, s)) {
    f.closeDeferred = true;
    if (!f.deferredGenEvent) f.deferredGenEvent = genEvent;
    return;
  }
  f.closeDeferred = false;
  if (e.didClose) return;
  e.didClose = true;
  if (e.state == Zeek.Reset || peer.didClose || peer.state == Zeek.Inactive) {
    if (genEvent) f.isActive = false;
    onCloseComplete(f);
  } else if (e.prevState != Zeek.Inactive) {
    onHalfClose(f);
  }
}

/** TCP_Endpoint::CheckEOF / EndpointEOF: a deferred close completes once no data is pending. */
export function checkEof(f: Flow, s: u32): void {
  const e = endpointOf(f, s);
  if (e.didEof) return;
  if (!(e.finSeen || e.state == Zeek.Closed || e.state == Zeek.Reset)) return;
  if (dataPending(f, s)) return;
  e.didEof = true;
  if (f.closeDeferred) {
    connectionClosed(f, s, f.deferredGenEvent);
    f.closeDeferred = false;
  }
}

