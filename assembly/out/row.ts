// One connection's row: conn_state (the pure function of the two endpoint states in Zeek's
// scripts/base/protocols/conn/main.zeek), end_reason, and every column of src/output/schema.ts.

import { Abi, ColBytes, ColI64, ColU16, ColU32, ColU8, ConnState, EndReason, Present, TcpState } from "../../src/core/abi";
import { Flow, Endpoint, EndpointRare, Zeek, NO_TIME, endpointOf, rareOf, rttOf, historyOf, OPT_MSS, OPT_WSCALE, OPT_SACK_OK, OPT_TIMESTAMPS, OPT_ECN_SETUP, OPT_ISN } from "../flow/record";
import { endpointSize } from "../flow/seq";
import { origPort, respPort } from "../flow/roles";
import { NULL_I64, putI64, putU16, putU32, putU8, rowI64, rowU32, rowU16, rowU8, bytesCell, commitRow } from "./columns";
import { copyAddress } from "../capture/bytes";
import { packetStatsOn, writeShape } from "../flow/shape";

const LETTER_CARET: u8 = 0x5e;
const LETTER_S: u8 = 0x53;
const LETTER_R: u8 = 0x52;

/** Zeek's conn_state(c, trans), in its order of tests. */
export function connState(f: Flow): ConnState {
  const o = endpointOf(f, 0), r = endpointOf(f, 1);
  const os = o.state, rs = r.state;
  const oInactive = os == Zeek.Inactive || os == Zeek.Partial;
  const rInactive = rs == Zeek.Inactive || rs == Zeek.Partial;
  if (rs == Zeek.Reset) {
    if (os == Zeek.SynSent || os == Zeek.SynAckSent) return ConnState.REJ;
    if (os == Zeek.Reset && endpointSize(f, 0) == 0 && endpointSize(f, 1) == 0) return ConnState.REJ;
    return oInactive ? ConnState.RSTRH : ConnState.RSTR;
  }
  if (os == Zeek.Reset) {
    if (rInactive) return historyIsSynThenRst(f) ? ConnState.RSTOS0 : ConnState.OTH;
    return ConnState.RSTO;
  }
  if (rs == Zeek.Closed && os == Zeek.Closed) return ConnState.SF;
  if (os == Zeek.Closed) return rInactive ? ConnState.SH : ConnState.S2;
  if (rs == Zeek.Closed) return oInactive ? ConnState.SHR : ConnState.S3;
  if (os == Zeek.SynSent && rs == Zeek.Inactive) return ConnState.S0;
  if (os == Zeek.Established && rs == Zeek.Established) return ConnState.S1;
  return ConnState.OTH;
}

/** history matches /^\^?S[^HAFGIQ]*R.*$/ (zeek/zeek#1164). */
function historyIsSynThenRst(f: Flow): bool {
  const h = historyOf(f);
  const n = <u32>f.historyLen;
  let i: u32 = 0;
  if (i < n && load<u8>(h + i) == LETTER_CARET) i++;
  if (i >= n || load<u8>(h + i) != LETTER_S) return false;
  for (i++; i < n; i++) {
    const c = load<u8>(h + i);
    if (c == LETTER_R) return true;
    if (c == 0x48 || c == 0x41 || c == 0x46 || c == 0x47 || c == 0x49 || c == 0x51) return false;
  }
  return false;
}

/** Why the row ends: an eviction, else a completed close, whatever removed the connection. */
function endReason(f: Flow, cause: EndReason): EndReason {
  // An eviction says so even for a connection that had closed (it was waiting for its timer).
  if (cause == EndReason.Evicted) return cause;
  const o = endpointOf(f, 0), r = endpointOf(f, 1);
  if (o.state == Zeek.Reset || r.state == Zeek.Reset) return EndReason.Rst;
  if (o.state == Zeek.Closed && r.state == Zeek.Closed) return EndReason.Fin;
  return cause;
}

@inline function orNull(t: i64): i64 { return t == NO_TIME ? NULL_I64 : t; }

/** Writes the row; returns the end_reason it was given. */
let emitAt: i64 = 0;
let emitKey: i64 = 0;
let emitTie: i64 = 0;

/** Where the next row is written from, for the merge of parallel partitions (ColI64.EmitAt). */
export function setEmit(at: i64, key: i64, tie: i64): void {
  emitAt = at;
  emitKey = key;
  emitTie = tie;
}

export function writeRow(f: Flow, cause: EndReason): EndReason {
  const i64s = rowI64();
  const o = endpointOf(f, 0), r = endpointOf(f, 1);
  putI64(i64s, ColI64.EmitAt, emitAt);
  putI64(i64s, ColI64.EmitKey, emitKey);
  putI64(i64s, ColI64.EmitTie, emitTie);
  const durationNs = f.lastNs - f.startNs;
  putI64(i64s, ColI64.ConnId, f.connId);
  putI64(i64s, ColI64.FirstPacket, f.firstPacket);
  putI64(i64s, ColI64.Ts, f.startNs);
  putI64(i64s, ColI64.LastTs, f.lastPacketNs);
  putI64(i64s, ColI64.DurationNs, durationNs > 0 ? durationNs : 0);
  const oRare = rareOf(f, 0), rRare = rareOf(f, 1);
  putI64(i64s, ColI64.SynTs, orNull(oRare.synTs));
  putI64(i64s, ColI64.SynAckTs, orNull(rRare.synTs));
  putI64(i64s, ColI64.EstablishedTs, orNull(f.establishedNs));
  putI64(i64s, ColI64.OrigFirstDataTs, orNull(oRare.firstDataTs));
  putI64(i64s, ColI64.RespFirstDataTs, orNull(rRare.firstDataTs));
  putI64(i64s, ColI64.OrigFinTs, orNull(oRare.finTs));
  putI64(i64s, ColI64.RespFinTs, orNull(rRare.finTs));
  putI64(i64s, ColI64.RstTs, orNull(f.rstNs));
  putI64(i64s, ColI64.ClosedTs, orNull(f.closedNs));
  // Handshake legs: the SYN-ACK against the latest SYN before it, the ACK against the latest SYN-ACK.
  const synAckTs = rRare.synTs;
  putI64(i64s, ColI64.RttSynSynAck, oRare.lastSynTs != NO_TIME && synAckTs != NO_TIME && synAckTs >= oRare.lastSynTs ? synAckTs - oRare.lastSynTs : NULL_I64);
  putI64(i64s, ColI64.RttSynAckAck, f.establishedNs != NO_TIME && rRare.lastSynTs != NO_TIME ? f.establishedNs - rRare.lastSynTs : NULL_I64);
  putI64(i64s, ColI64.OrigPkts, o.pkts);
  putI64(i64s, ColI64.RespPkts, r.pkts);
  // Zeek logs the byte counts only with a positive duration.
  putI64(i64s, ColI64.OrigBytes, durationNs > 0 ? endpointSize(f, 0) : 0);
  putI64(i64s, ColI64.RespBytes, durationNs > 0 ? endpointSize(f, 1) : 0);
  putI64(i64s, ColI64.OrigIpBytes, o.ipBytes);
  putI64(i64s, ColI64.RespIpBytes, r.ipBytes);
  putI64(i64s, ColI64.MissedBytes, f.missedBytes);
  writeAnalysis(f, oRare, rRare);
  const reason = endReason(f, cause);
  writeStates(f, o, r, reason);
  writeOptions(f, o, r, oRare, rRare, packetStatsOn ? writeShape(f) : 0);
  writeAddresses(f);
  commitRow();
  return reason;
}

/** Wireshark's tcp.analysis totals, per direction. */
function writeAnalysis(f: Flow, oRare: EndpointRare, rRare: EndpointRare): void {
  const i64s = rowI64();
  putI64(i64s, ColI64.OrigRetransmits, oRare.retransmits);
  putI64(i64s, ColI64.RespRetransmits, rRare.retransmits);
  putI64(i64s, ColI64.OrigFastRetransmits, oRare.fastRetransmits);
  putI64(i64s, ColI64.RespFastRetransmits, rRare.fastRetransmits);
  putI64(i64s, ColI64.OrigSpuriousRetransmits, oRare.spuriousRetransmits);
  putI64(i64s, ColI64.RespSpuriousRetransmits, rRare.spuriousRetransmits);
  putI64(i64s, ColI64.OrigOutOfOrder, oRare.outOfOrder);
  putI64(i64s, ColI64.RespOutOfOrder, rRare.outOfOrder);
  putI64(i64s, ColI64.OrigLostSegments, oRare.lostSegments);
  putI64(i64s, ColI64.RespLostSegments, rRare.lostSegments);
  putI64(i64s, ColI64.OrigAckLostSegments, oRare.ackLostSegments);
  putI64(i64s, ColI64.RespAckLostSegments, rRare.ackLostSegments);
  putI64(i64s, ColI64.OrigDupAcks, oRare.dupAcks);
  putI64(i64s, ColI64.RespDupAcks, rRare.dupAcks);
  putI64(i64s, ColI64.OrigZeroWindows, oRare.zeroWindows);
  putI64(i64s, ColI64.RespZeroWindows, rRare.zeroWindows);
  putI64(i64s, ColI64.OrigZeroWindowProbes, oRare.zeroWindowProbes);
  putI64(i64s, ColI64.RespZeroWindowProbes, rRare.zeroWindowProbes);
  putI64(i64s, ColI64.OrigWindowFull, oRare.windowFull);
  putI64(i64s, ColI64.RespWindowFull, rRare.windowFull);
  putI64(i64s, ColI64.OrigKeepalives, oRare.keepalives);
  putI64(i64s, ColI64.RespKeepalives, rRare.keepalives);
  const oRtt = rttOf(f, 0), rRtt = rttOf(f, 1);
  putI64(i64s, ColI64.OrigRttMin, oRtt.count == 0 ? NULL_I64 : oRtt.minNs);
  putI64(i64s, ColI64.OrigRttAvg, oRtt.count == 0 ? NULL_I64 : oRtt.sumNs / <i64>oRtt.count);
  putI64(i64s, ColI64.OrigRttMax, oRtt.count == 0 ? NULL_I64 : oRtt.maxNs);
  putI64(i64s, ColI64.RespRttMin, rRtt.count == 0 ? NULL_I64 : rRtt.minNs);
  putI64(i64s, ColI64.RespRttAvg, rRtt.count == 0 ? NULL_I64 : rRtt.sumNs / <i64>rRtt.count);
  putI64(i64s, ColI64.RespRttMax, rRtt.count == 0 ? NULL_I64 : rRtt.maxNs);
}

function writeStates(f: Flow, o: Endpoint, r: Endpoint, reason: EndReason): void {
  const u8s = rowU8();
  putU8(u8s, ColU8.ConnState, connState(f));
  putU8(u8s, ColU8.OrigState, o.rfcState);
  putU8(u8s, ColU8.RespState, r.rfcState);
  putU8(u8s, ColU8.Closer, f.closer);
  putU8(u8s, ColU8.EndReason, reason);
  putU8(u8s, ColU8.Completeness, f.completeness);
  putU8(u8s, ColU8.Tunnel, f.tunnel);
  putU8(u8s, ColU8.HistoryLen, f.historyLen);
  // The whole cell, word by word (past historyLen the record's history bytes are zero): a
  // memory.copy of a few bytes is a call into the engine per row.
  const cell = bytesCell(ColBytes.History), h = historyOf(f);
  for (let i: usize = 0; i < <usize>Abi.HistoryBytes; i += 8) store<u64>(cell + i, load<u64>(h + i));
}

function writeOptions(f: Flow, o: Endpoint, r: Endpoint, oRare: EndpointRare, rRare: EndpointRare, shapePresent: u32): void {
  const u32s = rowU32(), u16s = rowU16(), u8s = rowU8();
  let present: u32 = shapePresent;
  if (f.vlan >= 0) present |= Present.Vlan;
  if (f.innerVlan >= 0) present |= Present.InnerVlan;
  if ((oRare.optionBits & OPT_MSS) != 0) present |= Present.OrigMss;
  if ((rRare.optionBits & OPT_MSS) != 0) present |= Present.RespMss;
  if ((oRare.optionBits & OPT_WSCALE) != 0) present |= Present.OrigWscale;
  if ((rRare.optionBits & OPT_WSCALE) != 0) present |= Present.RespWscale;
  if ((oRare.optionBits & OPT_ISN) != 0) present |= Present.OrigIsn;
  if ((rRare.optionBits & OPT_ISN) != 0) present |= Present.RespIsn;
  if (f.hasInterface) present |= Present.Interface;
  putU16(u16s, ColU16.Present, present);
  putU16(u16s, ColU16.Vlan, f.vlan >= 0 ? <u16>f.vlan : 0);
  putU16(u16s, ColU16.InnerVlan, f.innerVlan >= 0 ? <u16>f.innerVlan : 0);
  putU16(u16s, ColU16.OrigMss, oRare.mss);
  putU16(u16s, ColU16.RespMss, rRare.mss);
  putU8(u8s, ColU8.OrigWscale, oRare.wscale);
  putU8(u8s, ColU8.RespWscale, rRare.wscale);
  putU8(u8s, ColU8.OrigSackOk, (oRare.optionBits & OPT_SACK_OK) != 0 ? 1 : 0);
  putU8(u8s, ColU8.RespSackOk, (rRare.optionBits & OPT_SACK_OK) != 0 ? 1 : 0);
  putU8(u8s, ColU8.OrigTsOk, (oRare.optionBits & OPT_TIMESTAMPS) != 0 ? 1 : 0);
  putU8(u8s, ColU8.RespTsOk, (rRare.optionBits & OPT_TIMESTAMPS) != 0 ? 1 : 0);
  putU8(u8s, ColU8.Ecn, (oRare.optionBits & rRare.optionBits & OPT_ECN_SETUP) != 0 ? 1 : 0);
  putU32(u32s, ColU32.OrigIsn, o.isn);
  putU32(u32s, ColU32.RespIsn, r.isn);
  putU32(u32s, ColU32.Interface, f.interface);
}

function writeAddresses(f: Flow): void {
  const u16s = rowU16(), u8s = rowU8();
  const ipv6 = (f.keyBits & 1) != 0;
  const addrLen: u32 = ipv6 ? 16 : 4;
  putU8(u8s, ColU8.IpVersion, ipv6 ? 6 : 4);
  const origCell = bytesCell(ColBytes.OrigAddr);
  const respCell = bytesCell(ColBytes.RespAddr);
  const a = changetype<usize>(f) + offsetof<Flow>("keyA0"); // keyA0..keyB1: side A's address, then side B's
  const sideA = a, sideB = a + 16;
  copyAddress(origCell, f.origIsA ? sideA : sideB, addrLen);
  copyAddress(respCell, f.origIsA ? sideB : sideA, addrLen);
  putU16(u16s, ColU16.OrigPort, origPort(f));
  putU16(u16s, ColU16.RespPort, respPort(f));
}
