// The per-packet entry of the flow layer: finds or creates the connection (Zeek's port-reuse rule
// and creation-time flip), runs Zeek's model and synfin's lifecycle on the segment, and ends
// connections whose timers ran out. Nothing here allocates per packet.

import { EndReason, Event, Stat, Tunnel } from "../../src/core/abi";
import { putEvent, eventsRoom, DIR_NONE } from "../out/events";
import { Flow, Zeek, NO_TIME, endpointOf, rareOf, flowRareOf } from "./record";
import { NO_FLOW, packetSrcPort, packetDstPort, findFlow, insertFlow, removeFlow, flowAt, packetFromA, liveFlows, lruSlack, maxFlows, keyDestinationIsBroadcast } from "./table";
import { appendLetter } from "./history";
import { clearTimer, nextDeadline, popTimer, poppedDeadlineNs } from "./timers";
import { mode, MODE_REDUCE, MODE_REPLICA, noteCreated } from "../parallel/parts";
import { processSegment, processInOrder, checksumError, HANDSHAKE_INACTIVITY_NS } from "./zeek";
import { fastPath, ONE_STEP_FLAGS } from "./path";
import { flipAtCreation, flipRoles } from "./roles";
import { initReassembly } from "./reassembly";
import { initLifecycle, trackLifecycle, trackInOrder } from "./lifecycle";
import { packetStatsOn, initShape, noteShape } from "./shape";
import { keepAnalysis, takeAnalysis } from "./carry";
import { armFirstExpire, scheduleFlow, onWake, STAY } from "./expiry";
import { TH_ACK, TH_SYN } from "../decode/tcp";
import { writeRow, setEmit } from "../out/row";
import { outFull } from "../out/columns";
import { count, setMax } from "../stats";
import { frameIndex, frameInterface, frameHasInterface } from "../capture/frame";

/** Why a looked-up segment is not processed (Zeek drops it after the connection lookup). */
export const DROP_NONE: u32 = 0;
export const DROP_CHECKSUM: u32 = 1;
export const DROP_HEADER_CUT: u32 = 2;

let nextConnId: i64 = 0;
let oldest: u32 = NO_FLOW;
let newest: u32 = NO_FLOW;
// Two activity-ordered lists (least recently active first): attempts that got no reply yet, and
// the others. Eviction takes from the first, then from the second.
const ATTEMPTS: u8 = 0;
const ANSWERED: u8 = 1;
let lruHead = StaticArray.fromArray<u32>([NO_FLOW, NO_FLOW]);
let lruTail = StaticArray.fromArray<u32>([NO_FLOW, NO_FLOW]);
/** Zeek's network_time: the latest packet time seen (it never goes back). */
export let networkTimeNs: i64 = i64.MIN_VALUE;
/** Index of the frame the clock is being advanced for (timers fire before it). */
let clockIndex: i64 = 0;
/** Rows the current frame has ended itself (port reuse, eviction). */
let frameRows: i64 = 0;

export function setClockIndex(index: i64): void {
  clockIndex = index;
}

export function resetTracker(): void {
  nextConnId = 0;
  oldest = NO_FLOW;
  newest = NO_FLOW;
  networkTimeNs = i64.MIN_VALUE;
  clockIndex = 0;
  for (let i = 0; i < 2; i++) { unchecked(lruHead[i] = NO_FLOW); unchecked(lruTail[i] = NO_FLOW); }
}

/**
 * Runs every timer due at `nowNs` (before the packet of that time, as Zeek does). Returns false if
 * the output batch filled up first; the caller retries after draining it.
 */
@inline export function advanceTime(nowNs: i64): bool {
  if (nowNs > networkTimeNs) networkTimeNs = nowNs;
  return nextDeadline() > networkTimeNs || runTimers();
}

/** advanceTime's work when a timer is due: runs every due timer, or until the output is full. */
function runTimers(): bool {
  while (nextDeadline() <= networkTimeNs) {
    if (outFull() || !eventsRoom(1)) return false;
    const idx = popTimer(networkTimeNs);
    if (idx == NO_FLOW) continue;
    const f = flowAt(idx);
    const reason = onWake(f, networkTimeNs);
    if (reason == STAY) continue;
    setEmit(clockIndex, poppedDeadlineNs, f.firstPacket);
    endFlow(idx, <EndReason>reason, networkTimeNs);
  }
  return true;
}

/** A segment's drop, tunnel and encapsulation (trackSegmentAs), for trackSegment: none but while it runs. */
let segmentDrop: u32 = DROP_NONE;
let segmentTunnel: Tunnel = Tunnel.None;
let segmentEncap: u64 = 0;

/**
 * trackSegment for a segment that may be dropped (`drop`, see DROP_*), came through a tunnel or
 * has an encapsulation (decode/encap.ts): the general decoding's and a reducer's. The one-step
 * decode's segments have none of these, and it calls trackSegment with three arguments fewer.
 */
export function trackSegmentAs(tsNs: i64, flags: u32, seq: u32, ack: u32, window: u32, len: u32, capturedLen: u32, ipTotalLen: u32, drop: u32, tunnel: Tunnel, encap: u64): void {
  segmentDrop = drop;
  segmentTunnel = tunnel;
  segmentEncap = encap;
  trackSegment(tsNs, flags, seq, ack, window, len, capturedLen, ipTotalLen);
  segmentDrop = DROP_NONE;
  segmentTunnel = Tunnel.None;
  segmentEncap = 0;
}

/**
 * One TCP segment whose key was set with setKey. `capturedLen` is how much of the payload the
 * capture holds; segmentDrop says why it goes no further than the lookup (see DROP_*).
 */
export function trackSegment(tsNs: i64, flags: u32, seq: u32, ack: u32, window: u32, len: u32, capturedLen: u32, ipTotalLen: u32): void {
  const drop = segmentDrop, encap = segmentEncap;
  let idx = findFlow();
  frameRows = 0;
  if (idx != NO_FLOW && isReuse(flowAt(idx), flags, seq)) {
    setEmit(frameIndex, i64.MAX_VALUE, frameRows++);
    endFlow(idx, EndReason.Reuse, tsNs);
    idx = NO_FLOW;
  }
  if (idx == NO_FLOW) idx = createFlow(tsNs, flags, drop, segmentTunnel, encap);
  else if (encap != 0) checkEncapsulation(flowAt(idx), encap);
  else if (flowAt(idx).tunnelled) checkEncapsulation(flowAt(idx), encap);
  const f = flowAt(idx);
  const isOrig = packetFromA == f.origIsA;
  const s: u32 = isOrig ? 0 : 1;
  if (drop != DROP_NONE) {
    if (drop == DROP_CHECKSUM) checksumError(f, isOrig);
    scheduleFlow(f);
    return;
  }
  f.lastPacketNs = tsNs;
  if (trackOneStep(f, idx, s, tsNs, flags, seq, ack, window, len, capturedLen, ipTotalLen)) return;
  const counted = endpointOf(f, processSegment(f, isOrig, tsNs, flags, seq, ack, window, len, capturedLen));
  counted.pkts++;
  counted.ipBytes += ipTotalLen;
  if (packetStatsOn) noteShape(f, counted == endpointOf(f, 0) ? (f.origIsA ? 0 : 1) : (f.origIsA ? 1 : 0), tsNs, ipTotalLen);
  // Zeek's flips may have moved the sender to the other side: find it again.
  trackLifecycle(f, (packetFromA == f.origIsA) ? 0 : 1, tsNs, flags, seq, ack, window, len);
  scheduleFlow(f);
  touch(f, idx);
}

/**
 * The common segment in one step: Zeek's model (processInOrder), then the lifecycle's and
 * Wireshark's (trackInOrder). Returns false, having changed nothing, for a segment Zeek's one-step
 * rules do not cover, which then takes the exact path. (Early returns, one test each: see
 * docs/development.md.)
 */
@inline function trackOneStep(f: Flow, idx: u32, s: u32, tsNs: i64, flags: u32, seq: u32, ack: u32, window: u32, len: u32, capturedLen: u32, ipTotalLen: u32): bool {
  // mayTakeFastPath's two tests, one each.
  if (!fastPath) return false;
  if ((flags & ONE_STEP_FLAGS) != TH_ACK) return false;
  const lastNs = f.lastNs, closeDeferred = f.closeDeferred;
  // Both endpoints, once for the one-step path's helpers (as Zeek's model has no flip there).
  const sender = endpointOf(f, s), peer = endpointOf(f, s ^ 1);
  if (!processInOrder(f, s, sender, peer, tsNs, seq, ack, window, len, capturedLen)) return false;
  // Zeek's model in one step (no flip): the sender is counted, and its side is the lifecycle's.
  sender.pkts++;
  sender.ipBytes += ipTotalLen;
  if (packetStatsOn) noteShape(f, packetFromA ? 0 : 1, tsNs, ipTotalLen);
  trackInOrder(f, s, sender, peer, tsNs, flags, seq, ack, window, len);
  // The queued timer is never later than the flow's earliest deadline. Of the deadlines this
  // segment moved only the inactivity timer's, with the last time (a deferred close completing
  // is the one way it sets others): the queued timer still comes first unless the time went back.
  if (tsNs < lastNs) scheduleFlow(f);
  else if (closeDeferred) scheduleFlow(f);
  touch(f, idx);
  return true;
}

/**
 * Moves a flow to the most recently active end of its list (attempts until both sides spoke).
 * Within lruSlack packets of its last move (table.ts: 1,024, or twice the live flows) it stays
 * put: eviction order is least recently active to within that many packets, and a flow costs no
 * relinking per packet. (A relink writes the neighbours' records: with tens of thousands of flows
 * alive, a packet of each in turn, a fixed slack had every packet pay for two more records' cache
 * lines.)
 */
function touch(f: Flow, idx: u32): void {
  const slack = lruSlack;
  if (frameIndex - f.lruStamp < slack) { if (f.lruList == ANSWERED) return; } // an answered flow stays answered
  const list = endpointOf(f, 0).pkts == 0 || endpointOf(f, 1).pkts == 0 ? ATTEMPTS : ANSWERED;
  if (f.lruList == list && frameIndex - f.lruStamp < slack) return;
  f.lruStamp = frameIndex;
  lruUnlink(idx);
  lruAppend(idx, list);
}

function lruAppend(idx: u32, list: u8): void {
  const f = flowAt(idx);
  f.lruList = list;
  f.lruNext = NO_FLOW;
  f.lruPrev = unchecked(lruTail[list]);
  if (f.lruPrev != NO_FLOW) flowAt(f.lruPrev).lruNext = idx; else unchecked(lruHead[list] = idx);
  unchecked(lruTail[list] = idx);
}

function lruUnlink(idx: u32): void {
  const f = flowAt(idx);
  const list = f.lruList;
  if (f.lruPrev != NO_FLOW) flowAt(f.lruPrev).lruNext = f.lruNext; else unchecked(lruHead[list] = f.lruNext);
  if (f.lruNext != NO_FLOW) flowAt(f.lruNext).lruPrev = f.lruPrev; else unchecked(lruTail[list] = f.lruPrev);
}

/** At maxFlows: ends the least recently active unanswered attempt, else the least recently active flow. */
function evictOne(nowNs: i64): void {
  const victim = unchecked(lruHead[ATTEMPTS]) != NO_FLOW ? unchecked(lruHead[ATTEMPTS]) : unchecked(lruHead[ANSWERED]);
  if (victim == NO_FLOW) return;
  count(Stat.Evicted);
  setEmit(frameIndex, i64.MAX_VALUE, frameRows++);
  endFlow(victim, EndReason.Evicted, nowNs);
}

/** TCPSessionAdapter::IsReuse: a SYN that cannot belong to the connection starts a new one. */
function isReuse(f: Flow, flags: u32, seq: u32): bool {
  if ((flags & TH_SYN) == 0) return false;
  const orig = endpointOf(f, 0), resp = endpointOf(f, 1);
  let cOrig = orig;
  if ((flags & TH_ACK) != 0) {
    if (orig.state != Zeek.Inactive) return false;
    cOrig = resp;
  }
  if (!orig.didClose && !resp.didClose) {
    if (seq == cOrig.startSeq) return false;
    if ((flags & TH_ACK) == 0 && cOrig.state == Zeek.SynAckSent && resp.state == Zeek.Inactive && seq == resp.startSeq) return false;
  }
  return true;
}

/** Tunnel::max_changes_per_connection (init-bare.zeek). */
const MAX_TUNNEL_CHANGES: u8 = 5;
/** tunnelChanges once the limit was passed and 'X' added. */
const TUNNEL_CHANGES_X: u8 = MAX_TUNNEL_CHANGES + 1;
const LETTER_X: u32 = 0x58;

/**
 * Connection::CheckEncapsulation (Conn.cc), for a packet of a connection that existed before it:
 * a tunnel_changed for each change of encapsulation, and past Tunnel::max_changes_per_connection
 * the history letter 'X' (CheckHistory with HIST_ANALYZER_LIMIT_REACHED: once).
 */
function checkEncapsulation(f: Flow, encap: u64): void {
  const rare = flowRareOf(f);
  if (rare.encap == encap) return;
  rare.encap = encap;
  f.tunnelled = encap != 0;
  if (rare.tunnelChanges < MAX_TUNNEL_CHANGES) {
    rare.tunnelChanges++;
  } else if (rare.tunnelChanges == MAX_TUNNEL_CHANGES) {
    rare.tunnelChanges = TUNNEL_CHANGES_X;
    appendLetter(f, LETTER_X);
  }
}

function createFlow(tsNs: i64, flags: u32, drop: u32, tunnel: Tunnel, encap: u64): u32 {
  if (liveFlows >= maxFlows) evictOne(tsNs);
  const idx = insertFlow();
  const f = flowAt(idx);
  f.index = idx;
  f.origIsA = packetFromA;
  f.connId = nextConnId++;
  f.firstPacket = frameIndex;
  if (mode == MODE_REDUCE || mode == MODE_REPLICA) noteCreated(frameIndex);
  f.interface = frameInterface;
  f.hasInterface = frameHasInterface;
  f.tunnel = <u8>tunnel;
  flowRareOf(f).encap = encap;
  f.tunnelled = encap != 0;
  f.startNs = tsNs;
  f.lastNs = tsNs;
  f.lastPacketNs = tsNs;
  f.inactivityNs = HANDSHAKE_INACTIVITY_NS;
  f.isActive = true;
  clearTimer(idx);
  f.attemptNs = NO_TIME;
  f.deleteNs = NO_TIME;
  f.establishedNs = NO_TIME;
  f.rstNs = NO_TIME;
  f.closedNs = NO_TIME;
  armFirstExpire(f, networkTimeNs);
  for (let s: u32 = 0; s < 2; s++) {
    const e = endpointOf(f, s);
    const r = rareOf(f, s);
    r.chkThresh = 1; r.rxmitThresh = 1; r.win0Thresh = 1; e.gapThresh = 1;
    r.lastSynTs = NO_TIME;
    initReassembly(e);
    initLifecycle(e, r);
  }
  if (packetStatsOn) initShape(f);
  // Wireshark's stream of this key may go on from a row that ended (carry.ts), on the network clock.
  takeAnalysis(f, networkTimeNs);
  // Creation order, for the flush at the end of the input.
  f.older = newest;
  f.newer = NO_FLOW;
  if (newest != NO_FLOW) flowAt(newest).newer = idx; else oldest = idx;
  newest = idx;
  f.lruStamp = frameIndex;
  lruAppend(idx, ATTEMPTS);
  // A segment whose options the snap length cut does not flip (Zeek baseline core.vntag-in-vlan);
  // nor does one to the broadcast address (IPBasedAnalyzer::NewConn).
  if (drop != DROP_HEADER_CUT && flipAtCreation(flags, packetSrcPort(), packetDstPort()) && !keyDestinationIsBroadcast()) flipRoles(f);
  setMax(Stat.PeakFlows, liveFlows);
  return idx;
}

/** Writes the connection's row (and its last event) and forgets it. */
export function endFlow(idx: u32, cause: EndReason, nowNs: i64): void {
  const f = flowAt(idx);
  const reason = writeRow(f, cause);
  keepAnalysis(f, networkTimeNs);
  const ending = endEvent(reason);
  if (ending >= 0) putEvent(f.connId, nowNs, -1, DIR_NONE, <Event>ending, endpointOf(f, 0).rfcState, endpointOf(f, 1).rfcState);
  count(Stat.Connections);
  if (f.older != NO_FLOW) flowAt(f.older).newer = f.newer; else oldest = f.newer;
  if (f.newer != NO_FLOW) flowAt(f.newer).older = f.older; else newest = f.older;
  lruUnlink(idx);
  removeFlow(idx);
}

/** The first packet of the oldest live connection (i64 max when none is live). */
export function oldestFirstPacket(): i64 {
  return oldest == NO_FLOW ? i64.MAX_VALUE : flowAt(oldest).firstPacket;
}

/** Ends the oldest live connection (end of input); false when none is left. */
export function endOldest(): bool {
  if (oldest == NO_FLOW) return false;
  setEmit(i64.MAX_VALUE, 0, flowAt(oldest).firstPacket);
  endFlow(oldest, EndReason.Eof, flowAt(oldest).lastPacketNs);
  return true;
}

/** The event that says why a row ended, or -1 when its close already said so. */
function endEvent(reason: EndReason): i32 {
  if (reason == EndReason.IdleTimeout) return Event.IdleTimeout;
  if (reason == EndReason.AttemptTimeout) return Event.AttemptTimeout;
  if (reason == EndReason.Reuse) return Event.Reuse;
  if (reason == EndReason.Eof) return Event.Eof;
  if (reason == EndReason.Evicted) return Event.Evicted;
  return -1;
}
