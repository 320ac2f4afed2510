// What synfin adds to Zeek's model, per packet after it: each endpoint's inferred RFC 9293 state
// (as the capture point sees it: a segment is taken to reach its receiver), the lifecycle
// instants, handshake options, Wireshark's completeness bits, and Wireshark's per-direction
// analysis (analysis.ts).

import { Closer, Event, TcpState } from "../../src/core/abi";
import { eventsEnabled, putEvent } from "../out/events";
import { packetsEnabled, putPacket } from "../out/packets";
import { sideTables } from "../out/side";
import { analyzeSegment, analyzeInOrder, initAnalysis } from "./analysis";
import { mayTakeFastPath, countOneStepBoth, countOneStepZeekOnly, countOneStepAnalysisOnly } from "./path";
import { frameIndex } from "../capture/frame";
import { Flow, Endpoint, EndpointRare, NO_TIME, SENT_SYN, SENT_DATA, SENT_FIN, endpointOf, rareOf, OPT_MSS, OPT_WSCALE, OPT_SACK_OK, OPT_TIMESTAMPS, OPT_ECN_SETUP, OPT_ISN } from "./record";
import { seqGe } from "./seq";
import { TH_ACK, TH_CWR, TH_ECE, TH_FIN, TH_RST, TH_SYN, optMss, optSackOk, optTimestamps, optWscale, tcpAnalysisLen, NOT_ANALYZED } from "../decode/tcp";

// Wireshark's tcp.completeness bits.
const COMPLETE_SYN: u8 = 0x01;
const COMPLETE_SYNACK: u8 = 0x02;
const COMPLETE_ACK: u8 = 0x04;
const COMPLETE_DATA: u8 = 0x08;
const COMPLETE_FIN: u8 = 0x10;
const COMPLETE_RST: u8 = 0x20;

/** Resets an endpoint's lifecycle fields when its flow is created. */
export function initLifecycle(e: Endpoint, rare: EndpointRare): void {
  e.rfcState = TcpState.UNKNOWN;
  e.sent = 0;
  rare.synTs = NO_TIME;
  rare.firstDataTs = NO_TIME;
  rare.finTs = NO_TIME;
  initAnalysis(e);
}

/**
 * Updates the lifecycle of `f` for a segment sent by side `s` (after Zeek's model ran) and, when
 * the run asked for them, writes the transitions it made to the events table and the segment's
 * row to the packets table.
 */
export function trackLifecycle(f: Flow, s: u32, tsNs: i64, flags: u32, seq: u32, ack: u32, window: u32, len: u32): void {
  if (!sideTables) { updateLifecycle(f, s, tsNs, flags, seq, ack, window, len); return; }
  // Wireshark scales a segment's window by what it knew before the segment.
  const scale = endpointOf(f, s).wsWinScale;
  if (eventsEnabled) trackWithEvents(f, s, tsNs, flags, seq, ack, window, len);
  else updateLifecycle(f, s, tsNs, flags, seq, ack, window, len);
  if (packetsEnabled) putPacket(f, s, tsNs, flags, seq, ack, window, tcpAnalysisLen == NOT_ANALYZED ? len : tcpAnalysisLen, tcpAnalysisLen != NOT_ANALYZED, scale);
}

/**
 * trackLifecycle for a segment that Zeek's model took in one step (processInOrder: an ACK without
 * SYN, FIN or RST, and no flip), with no side tables: Wireshark's one-step analysis and what
 * updateLifecycle then does for such a segment (first data, the completeness bit, the ACK,
 * midstream establishment), without its tests for SYN, FIN and RST. A segment the one-step
 * analysis does not cover takes trackLifecycle.
 */
export function trackInOrder(f: Flow, s: u32, x: Endpoint, y: Endpoint, tsNs: i64, flags: u32, seq: u32, ack: u32, window: u32, len: u32): void {
  if (sideTables || tcpAnalysisLen == NOT_ANALYZED || !analyzeInOrder(f, s, x, y, tsNs, seq, ack, tcpAnalysisLen, window)) {
    countOneStepZeekOnly();
    trackLifecycle(f, s, tsNs, flags, seq, ack, window, len);
    return;
  }
  countOneStepBoth();
  if (len > 0) { if ((x.sent & SENT_DATA) == 0) noteFirstData(f, s, tsNs); }
  f.completeness |= len == 0 ? COMPLETE_ACK : COMPLETE_DATA;
  onAck(f, s, x, y, tsNs, flags, ack);
  if (x.rfcState == TcpState.UNKNOWN) x.rfcState = TcpState.ESTABLISHED;
}

function trackWithEvents(f: Flow, s: u32, tsNs: i64, flags: u32, seq: u32, ack: u32, window: u32, len: u32): void {
  const x = endpointOf(f, s), y = endpointOf(f, s ^ 1);
  const wasEstablished = f.establishedNs != NO_TIME, wasClosed = f.closedNs != NO_TIME;
  const hadData = (x.sent & SENT_DATA) != 0, hadFin = (x.sent & SENT_FIN) != 0, peerFinWasAcked = y.finAcked;
  const origWas = endpointOf(f, 0).rfcState, respWas = endpointOf(f, 1).rfcState;
  emitted = 0;
  updateLifecycle(f, s, tsNs, flags, seq, ack, window, len);
  if ((flags & TH_SYN) != 0) emit(f, s, tsNs, (flags & TH_ACK) != 0 ? Event.SynAck : Event.Syn);
  if (!wasEstablished && f.establishedNs != NO_TIME) emit(f, s, tsNs, Event.Established);
  if (!hadData && (x.sent & SENT_DATA) != 0) emit(f, s, tsNs, Event.FirstData);
  if (!peerFinWasAcked && y.finAcked) emit(f, s, tsNs, Event.FinAcked);
  if (!hadFin && (x.sent & SENT_FIN) != 0) emit(f, s, tsNs, Event.Fin);
  if ((flags & TH_RST) != 0) emit(f, s, tsNs, Event.Rst);
  if (!wasClosed && f.closedNs != NO_TIME) emit(f, s, tsNs, Event.Closed);
  // A state changed with none of the above (a handshake completed again after a reset, a side
  // first seen mid-stream): the events must still replay the states.
  if (emitted == 0 && (endpointOf(f, 0).rfcState != origWas || endpointOf(f, 1).rfcState != respWas)) emit(f, s, tsNs, Event.State);
}

/** Events written for the current segment. */
let emitted: u32 = 0;

/** An event caused by the current segment from side `s`, with both endpoints' states after it. */
function emit(f: Flow, s: u32, tsNs: i64, event: Event): void {
  putEvent(f.connId, tsNs, frameIndex, s, event, endpointOf(f, 0).rfcState, endpointOf(f, 1).rfcState);
  emitted++;
}

function updateLifecycle(f: Flow, s: u32, tsNs: i64, flags: u32, seq: u32, ack: u32, window: u32, len: u32): void {
  const x = endpointOf(f, s), y = endpointOf(f, s ^ 1);
  const syn = (flags & TH_SYN) != 0, fin = (flags & TH_FIN) != 0, rst = (flags & TH_RST) != 0, hasAck = (flags & TH_ACK) != 0;
  if (tcpAnalysisLen != NOT_ANALYZED) {
    const inOrder = mayTakeFastPath(flags) && analyzeInOrder(f, s, x, y, tsNs, seq, ack, tcpAnalysisLen, window);
    countOneStepAnalysisOnly(inOrder);
    if (!inOrder) analyzeSegment(f, s, tsNs, flags, seq, ack, tcpAnalysisLen, window);
  }
  if (syn) noteSyn(x, rareOf(f, s), tsNs, flags, seq);
  if (len > 0 && !rst && (x.sent & SENT_DATA) == 0) noteFirstData(f, s, tsNs);
  f.completeness |= completenessBits(f, flags, len);
  if (rst) { onReset(f, s, tsNs); return; }
  if (hasAck) onAck(f, s, x, y, tsNs, flags, ack);
  if (syn) onSynState(x, y, hasAck);
  if (fin) onFin(f, s, tsNs, seq + len + (syn ? 1 : 0), hasAck, ack);
  // Midstream: a side we first see without a handshake is taken as established.
  if (x.rfcState == TcpState.UNKNOWN && !syn) x.rfcState = TcpState.ESTABLISHED;
}

/** A side's first payload. */
function noteFirstData(f: Flow, s: u32, tsNs: i64): void {
  endpointOf(f, s).sent |= SENT_DATA;
  rareOf(f, s).firstDataTs = tsNs;
}

function noteSyn(x: Endpoint, xRare: EndpointRare, tsNs: i64, flags: u32, seq: u32): void {
  xRare.lastSynTs = tsNs;
  if ((x.sent & SENT_SYN) != 0) return;
  x.sent |= SENT_SYN;
  xRare.synTs = tsNs;
  x.isn = seq;
  let bits = OPT_ISN;
  if (optMss >= 0) { bits |= OPT_MSS; xRare.mss = <u16>optMss; }
  if (optWscale >= 0) { bits |= OPT_WSCALE; xRare.wscale = <u8>optWscale; }
  if (optSackOk) bits |= OPT_SACK_OK;
  if (optTimestamps) bits |= OPT_TIMESTAMPS;
  // RFC 3168 §6.1.1: ECN-setup SYN has ECE and CWR; ECN-setup SYN-ACK has ECE only.
  const ecnSetup = (flags & TH_ACK) != 0 ? (flags & (TH_ECE | TH_CWR)) == TH_ECE : (flags & (TH_ECE | TH_CWR)) == (TH_ECE | TH_CWR);
  if (ecnSetup) bits |= OPT_ECN_SETUP;
  xRare.optionBits = bits;
}

function completenessBits(f: Flow, flags: u32, len: u32): u8 {
  const synAck = flags & (TH_SYN | TH_ACK);
  let bits: u8 = 0;
  if (synAck == TH_SYN && f.completeness == 0) bits |= COMPLETE_SYN | (len > 0 ? COMPLETE_DATA : 0);
  if (synAck == (TH_SYN | TH_ACK)) bits |= COMPLETE_SYNACK;
  if (synAck == TH_ACK) bits |= len == 0 ? COMPLETE_ACK : COMPLETE_DATA;
  if ((flags & (TH_FIN | TH_ACK)) == (TH_FIN | TH_ACK)) bits |= COMPLETE_FIN;
  if ((flags & TH_RST) != 0) bits |= COMPLETE_RST;
  return bits;
}

function onReset(f: Flow, s: u32, tsNs: i64): void {
  if (f.rstNs == NO_TIME) f.rstNs = tsNs;
  if (f.closedNs == NO_TIME) f.closedNs = tsNs;
  if (f.closer == Closer.None) f.closer = <u8>(s == 0 ? Closer.Orig : Closer.Resp);
  endpointOf(f, 0).rfcState = TcpState.CLOSED;
  endpointOf(f, 1).rfcState = TcpState.CLOSED;
}

/**
 * The ACK field of a segment from side `s` (endpoint `x`, peer `y`): completes the handshake, or
 * acknowledges the peer's FIN.
 */
function onAck(f: Flow, s: u32, x: Endpoint, y: Endpoint, tsNs: i64, flags: u32, ack: u32): void {
  const ackOfSyn = (y.sent & SENT_SYN) != 0 && ack == y.isn + 1;
  if ((flags & TH_SYN) == 0 && ackOfSyn) {
    // RFC 9293 §3.5: SYN-RECEIVED + ACK of our SYN → ESTABLISHED.
    if (y.rfcState == TcpState.SYN_RECEIVED) y.rfcState = TcpState.ESTABLISHED;
    if (s == 0 && f.establishedNs == NO_TIME) f.establishedNs = tsNs;
    if (x.rfcState == TcpState.SYN_SENT || x.rfcState == TcpState.UNKNOWN) x.rfcState = TcpState.ESTABLISHED;
  }
  if ((y.sent & SENT_FIN) != 0 && !y.finAcked && seqGe(ack, rareOf(f, s ^ 1).finSeqAbs + 1)) {
    y.finAcked = true;
    // §3.6: the ACK of our FIN moves FIN-WAIT-1 on, CLOSING to TIME-WAIT, LAST-ACK to CLOSED.
    if (y.rfcState == TcpState.FIN_WAIT_1) y.rfcState = TcpState.FIN_WAIT_2;
    else if (y.rfcState == TcpState.CLOSING) y.rfcState = TcpState.TIME_WAIT;
    else if (y.rfcState == TcpState.LAST_ACK) y.rfcState = TcpState.CLOSED;
    if (x.finAcked && f.closedNs == NO_TIME) f.closedNs = tsNs;
  }
}

function onSynState(x: Endpoint, y: Endpoint, hasAck: bool): void {
  if (!hasAck) {
    if (x.rfcState == TcpState.UNKNOWN || x.rfcState == TcpState.CLOSED) x.rfcState = TcpState.SYN_SENT;
    return;
  }
  // A SYN-ACK: its sender is SYN-RECEIVED; a SYN-SENT receiver is established by it.
  if (x.rfcState == TcpState.UNKNOWN || x.rfcState == TcpState.CLOSED || x.rfcState == TcpState.SYN_SENT) x.rfcState = TcpState.SYN_RECEIVED;
  if (y.rfcState == TcpState.SYN_SENT) y.rfcState = TcpState.ESTABLISHED;
}

/** A FIN from side `s` whose sequence number is finSeqAbs (RFC 9293 §3.6). */
function onFin(f: Flow, s: u32, tsNs: i64, finSeqAbs: u32, hasAck: bool, ack: u32): void {
  const x = endpointOf(f, s), y = endpointOf(f, s ^ 1);
  if ((x.sent & SENT_FIN) != 0) return;
  x.sent |= SENT_FIN;
  rareOf(f, s).finTs = tsNs;
  rareOf(f, s).finSeqAbs = finSeqAbs;
  if (f.closer == Closer.None) {
    f.closer = <u8>(s == 0 ? Closer.Orig : Closer.Resp);
  } else if ((y.sent & SENT_FIN) != 0 && !(hasAck && seqGe(ack, rareOf(f, s ^ 1).finSeqAbs + 1))) {
    // This FIN was sent before the peer's FIN arrived: a simultaneous close.
    f.closer = <u8>Closer.Both;
  }
  const peerClosing = y.rfcState == TcpState.FIN_WAIT_1 || y.rfcState == TcpState.FIN_WAIT_2 || y.rfcState == TcpState.CLOSING;
  if (f.closer == Closer.Both) x.rfcState = y.finAcked ? TcpState.TIME_WAIT : TcpState.CLOSING;
  else if (x.rfcState == TcpState.CLOSE_WAIT) x.rfcState = TcpState.LAST_ACK;
  else x.rfcState = TcpState.FIN_WAIT_1;
  // The receiver: ESTABLISHED → CLOSE-WAIT; FIN-WAIT-1 → CLOSING; FIN-WAIT-2 → TIME-WAIT.
  if (!peerClosing) y.rfcState = TcpState.CLOSE_WAIT;
  else if (y.rfcState == TcpState.FIN_WAIT_2) y.rfcState = TcpState.TIME_WAIT;
  else if (y.rfcState == TcpState.FIN_WAIT_1) y.rfcState = TcpState.CLOSING;
}
