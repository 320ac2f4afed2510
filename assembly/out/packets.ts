// The packets table: one row per TCP segment of a connection, with the sequence numbers as
// Wireshark shows them and that segment's analysis flags, column-major like the connection batch,
// written only when the run asked for it.

import { Abi, PacketCol, PacketPresent, TcpAnalysis } from "../../src/core/abi";
import { Flow, endpointOf, rareOf } from "../flow/record";
import { segmentAnalysis, segmentRttNs, clearSegmentRtt, NO_SAMPLE } from "../flow/analysis";
import { TH_ACK, TH_SYN, sackBlocks, sackEdges } from "../decode/tcp";
import { frameIndex } from "../capture/frame";

const ROWS: usize = <usize>Abi.BatchPackets;
const I64_COLUMNS: usize = 4;
const U32_COLUMNS: usize = 15;
const U16_COLUMNS: usize = 3;
const U8_COLUMNS: usize = 3;

let regionI64: usize = 0;
let regionU32: usize = 0;
let regionU16: usize = 0;
let regionU8: usize = 0;
export let packetRows: u32 = 0;
export let packetsEnabled: bool = false;

export function initPackets(enabled: bool): void {
  packetsEnabled = enabled;
  packetRows = 0;
  if (!enabled || regionI64 != 0) return;
  regionI64 = heap.alloc(ROWS * 8 * I64_COLUMNS);
  regionU32 = heap.alloc(ROWS * 4 * U32_COLUMNS);
  regionU16 = heap.alloc(ROWS * 2 * U16_COLUMNS);
  regionU8 = heap.alloc(ROWS * U8_COLUMNS);
}

/** Whether the packets batch has room for the row of one more frame. */
export function packetsRoom(): bool {
  return !packetsEnabled || packetRows < <u32>Abi.BatchPackets;
}

export function clearPackets(): void { packetRows = 0; }

/** Base address of a packets column: group 0 i64, 1 u32, 2 u16, 3 u8 (src/core/abi.ts PacketCol). */
export function packetColumnAddress(group: u32, col: u32): usize {
  if (group == 0) return regionI64 + <usize>col * ROWS * 8;
  if (group == 1) return regionU32 + <usize>col * ROWS * 4;
  if (group == 2) return regionU16 + <usize>col * ROWS * 2;
  return regionU8 + <usize>col * ROWS;
}

/**
 * The row of a segment from side `s` of `f`, after Wireshark's analysis of it ran (analysed: it
 * did run). `scale` is the sender's window scale as it stood before the segment: Wireshark scales
 * a segment's window before it reads that segment's own options, and never a SYN's.
 */
export function putPacket(f: Flow, s: u32, tsNs: i64, flags: u32, seq: u32, ack: u32, window: u32, len: u32, analysed: bool, scale: i32): void {
  const x = endpointOf(f, s);
  const hasAck = (flags & TH_ACK) != 0;
  const a = analysed ? segmentAnalysis : 0;
  const dupAck = (a & TcpAnalysis.DuplicateAck) != 0;
  let present: u32 = 0;
  if (analysed) present |= PacketPresent.Analysed;
  if (hasAck) present |= PacketPresent.Ack;
  if (dupAck) present |= PacketPresent.DupAckNum;
  putI64(PacketCol.ConnId, f.connId);
  putI64(PacketCol.Ts, tsNs);
  putI64(PacketCol.Packet, frameIndex);
  putI64(PacketCol.RttNs, analysed ? segmentRttNs : NO_SAMPLE);
  // A segment Wireshark does not analyse keeps its numbers as sent, as tshark shows them.
  putU32(PacketCol.Seq, analysed ? seq - rareOf(f, s).wsBaseSeq : seq);
  putU32(PacketCol.Ack, analysed ? ack - relativeBase(f, s ^ 1) : ack);
  putU32(PacketCol.SeqRaw, seq);
  putU32(PacketCol.AckRaw, ack);
  putU32(PacketCol.Len, len);
  putU32(PacketCol.Window, (flags & TH_SYN) == 0 && analysed && scale >= 0 ? window << <u32>scale : window);
  putU32(PacketCol.DupAckNum, dupAck ? x.wsDupAcks : 0);
  putU16(PacketCol.Present, present);
  putU16(PacketCol.Analysis, a);
  putU16(PacketCol.WindowRaw, window);
  putU8(PacketCol.Direction, s);
  putU8(PacketCol.Flags, flags);
  // SACK blocks acknowledge the peer's data: relative to the peer's base, as the ACK number.
  const blocks = sackBlocks();
  const base = analysed ? relativeBase(f, s ^ 1) : 0;
  putU8(PacketCol.SackBlocks, blocks);
  for (let k: u32 = 0; k < 2 * blocks; k++) putU32(<PacketCol>(<u32>PacketCol.SackEdge0 + k), unchecked(sackEdges[k]) - base);
  clearSegmentRtt();
  packetRows++;
}

@inline function putI64(col: PacketCol, v: i64): void { store<i64>(regionI64 + (<usize>col * ROWS + <usize>packetRows) * 8, v); }
@inline function putU32(col: PacketCol, v: u32): void { store<u32>(regionU32 + (<usize>col * ROWS + <usize>packetRows) * 4, v); }
@inline function putU16(col: PacketCol, v: u32): void { store<u16>(regionU16 + (<usize>col * ROWS + <usize>packetRows) * 2, <u16>v); }
@inline function putU8(col: PacketCol, v: u32): void { store<u8>(regionU8 + <usize>col * ROWS + <usize>packetRows, <u8>v); }

/** The base Wireshark subtracts from the peer's sequence numbers (0 while it has none). */
@inline function relativeBase(f: Flow, side: u32): u32 {
  return endpointOf(f, side).wsBaseSeqSet ? rareOf(f, side).wsBaseSeq : 0;
}
