// The parts of a parallel run (DESIGN.md §4, src/run/parallel.ts), and what the map side writes.
// - One instance *frames* (the host's): it reads the capture exactly as a single pass does (pcap
//   and pcapng framing, damage, interfaces are sequential state), and writes for every frame a
//   descriptor and its time (the time track) instead of decoding it.
// - Instances *map* (in workers, map.ts): they decode framed chunks from the descriptors and write
//   each TCP segment as a compact record into the partition its flow hash picks. A frame that is
//   an IPv4 fragment goes back to the framer, whose one fragment table puts datagrams together in
//   input order as a single pass does.
// - Instances *reduce* (in workers, reduce.ts): each runs the flow layer for one partition, taking
//   its records in input order and the whole time track, so that timers fire at the very frames
//   they fire at in a single pass, with the same clock. A flow's whole life is in one partition,
//   so every row and value is the single pass's; rows carry their emit position (ColI64.EmitAt,
//   EmitKey, EmitTie) for the host to merge them back into single-pass order.
// - A *replica* (replicated decode) does all of a single pass but keeps only its own flows.
// The decoder and the flow layer read this module (the mode, the owner test) and write to it
// (frames, segment records, created flows); nothing here calls them back.

import { Abi, Stat, Tunnel } from "../../src/core/abi";
import { frameInterface, frameHasInterface } from "../capture/frame";
import { copyAddress } from "../capture/bytes";
import { optMss, optWscale, optSackOk, optTimestamps, tcpAnalysisLen } from "../decode/tcp";
import { setKey, keyHash } from "../flow/table";

/** Partitions a mapper writes into. */
export let partitions: u32 = 0;

export const MODE_SINGLE: u32 = 0;
export const MODE_FRAME: u32 = 1;
export const MODE_MAP: u32 = 2;
export const MODE_REDUCE: u32 = 3;
/**
 * A replica (replicated decode, DESIGN.md §4): frames and decodes the whole input as a single pass
 * does and steps its clock through every frame, but keeps only the flows of its own partition.
 */
export const MODE_REPLICA: u32 = 4;
/** This instance's part (MODE_*). */
export let mode: u32 = MODE_SINGLE;
/** A replica's flows: those whose hash lies in [ownLo, ownHi]. */
let ownLo: u32 = 0;
let ownHi: u32 = u32.MAX_VALUE;
/** Returned by decodeFrame for a fragment a map worker leaves to the framer. */
export const STAT_DEFERRED: Stat = Stat.Count;

const MAX_PARTITIONS: u32 = 256;
export const RECORD_FIXED: u32 = <u32>Abi.RecordFixed;
const INITIAL_BYTES: usize = 1 << 16;

// --- what the map side writes ---

/** One growable byte buffer per partition, and the time track (one i64 per delivered frame). */
const partBase = new StaticArray<usize>(MAX_PARTITIONS);
const partCap = new StaticArray<usize>(MAX_PARTITIONS);
const partLen = new StaticArray<usize>(MAX_PARTITIONS);
let timesBase: usize = 0;
let timesCap: u32 = 0;
let timesLen: u32 = 0;

/** The input buffer the framer is reading (descriptors hold offsets from it). */
export let frameInput: usize = 0;

export function setFrameInput(input: usize): void { frameInput = input; }

/** Sets this instance's part, and the partitions it maps into (framer and mappers). */
export function setMode(m: u32, n: u32): void {
  mode = m;
  framerClockNs = i64.MIN_VALUE;
  createdLen = 0;
  deferredLen = 0;
  descLen = 0;
  partitions = n < MAX_PARTITIONS ? n : MAX_PARTITIONS;
  for (let j: u32 = 0; j < partitions; j++) {
    if (unchecked(partBase[j]) == 0) {
      unchecked(partBase[j] = heap.alloc(INITIAL_BYTES));
      unchecked(partCap[j] = INITIAL_BYTES);
    }
  }
  if (timesBase == 0) {
    timesCap = 1 << 14;
    timesBase = heap.alloc(<usize>timesCap * 8);
  }
  clearFrames();
  clearPartitions();
}

/** Forgets the time track and descriptors (the host has copied them). */
export function clearFrames(): void {
  timesLen = 0;
  descLen = 0;
}

/** Forgets the partitions and the deferred list (the host has copied them). */
export function clearPartitions(): void {
  for (let j: u32 = 0; j < partitions; j++) unchecked(partLen[j] = 0);
  deferredLen = 0;
}

/** Whether decodeFrame hands fragments and UDP tunnels back instead of decoding them (their state is sequential). */
export let deferFragments: bool = false;

export function setDeferFragments(on: bool): void { deferFragments = on; }

/** The frame being decoded, as its index within the chunk (records carry it). */
let mapIndex: u32 = 0;

export function setMapIndex(i: u32): void { mapIndex = i; }

// A cluster's map task (src/cluster/map.ts) has each record written after a stamp, its frame's
// time and clock (what a cluster reducer reads instead of the whole time track), and numbers
// frames within the task rather than the chunk.

/** Bytes of a record's stamp. */
export const STAMP_BYTES: u32 = <u32>Abi.StampBytes;
let stamping: bool = false;
let stampBase: u32 = 0;
let stampTsNs: i64 = 0;
let stampClockNs: i64 = 0;

/** Stamps records (on), numbering frames from `base` (the chunk's first frame in the task). */
export function setStamping(on: bool, base: u32): void {
  stamping = on;
  stampBase = base;
}

/** The frame being decoded: its time and the framer's clock at it. */
@inline export function setStamp(tsNs: i64, clockNs: i64): void {
  stampTsNs = tsNs;
  stampClockNs = clockNs;
}

let deferredBase: usize = 0;
let deferredCap: u32 = 0;
let deferredLen: u32 = 0;

export function noteDeferred(i: u32): void {
  if (deferredLen == deferredCap) {
    deferredCap = deferredCap == 0 ? 256 : deferredCap * 2;
    deferredBase = deferredBase == 0 ? heap.alloc(<usize>deferredCap << 2) : heap.realloc(deferredBase, <usize>deferredCap << 2);
  }
  store<u32>(deferredBase + (<usize>deferredLen << 2), i);
  deferredLen++;
}

export function deferredAddress(): usize { return deferredBase; }
export function deferredCount(): u32 { return deferredLen; }

/** The framer, for each frame: its time on the time track, and its descriptor. */
/** A filtered record in the framer's output: a time that moves no clock, a link type no decoder knows. */
export const FILTERED_TIME: i64 = i64.MIN_VALUE;
export const LINKTYPE_FILTERED: u32 = 0xffffffff;

export function frameOut(tsNs: i64, capLen: u32, origLen: u32, linkType: u32, iface: u32, hasIface: bool, data: usize, input: usize): void {
  noteTime(tsNs);
  if (descLen == descCap) {
    descCap = descCap == 0 ? 1 << 14 : descCap * 2;
    descBase = descBase == 0 ? heap.alloc(<usize>descCap * DESC_SIZE) : heap.realloc(descBase, <usize>descCap * DESC_SIZE);
  }
  const d = descBase + <usize>descLen * DESC_SIZE;
  store<i64>(d, tsNs);
  store<u32>(d, <u32>(data - input), 8);
  store<u32>(d, capLen, 12);
  store<u32>(d, origLen, 16);
  store<u32>(d, linkType, 20);
  store<u32>(d, iface, 24);
  store<u32>(d, hasIface ? 1 : 0, 28);
  if (tsNs > framerClockNs) framerClockNs = tsNs;
  store<i64>(d, framerClockNs, 32);
  descLen++;
}

/** The latest frame time the framer has seen: a single pass's clock at that frame. */
let framerClockNs: i64 = i64.MIN_VALUE;

/** A frame descriptor: time, data offset in the chunk, lengths, link type, interface, the clock. */
export const DESC_SIZE: usize = 40;
let descBase: usize = 0;
let descCap: u32 = 0;
let descLen: u32 = 0;

export function descAddress(): usize { return descBase; }
export function descCount(): u32 { return descLen; }

/** Where a single pass would advance its clock: the framer notes the frame's time instead. */
function noteTime(tsNs: i64): void {
  if (timesLen == timesCap) {
    timesCap *= 2;
    timesBase = heap.realloc(timesBase, <usize>timesCap * 8);
  }
  store<i64>(timesBase + (<usize>timesLen << 3), tsNs);
  timesLen++;
}


/**
 * Where a single pass would call trackSegment: writes the segment, with everything the flow layer
 * reads of the frame and its decoding, to the partition of its flow.
 */
export function mapSegment(src: usize, dst: usize, addrLen: u32, vlan: i32, innerVlan: i32, flags: u32, srcPort: u32, dstPort: u32, seq: u32, ack: u32, window: u32, len: u32, capturedLen: u32, ipTotalLen: u32, drop: u32, tunnel: Tunnel, encap: u64): void {
  setKey(src, srcPort, dst, dstPort, addrLen, vlan, innerVlan);
  const j = partitionOf(keyHash);
  const stamp: usize = stamping ? STAMP_BYTES : 0;
  const size = stamp + (<usize>(RECORD_FIXED + 2 * addrLen + 7) & ~<usize>7);
  let used = unchecked(partLen[j]);
  if (used + size > unchecked(partCap[j])) {
    const cap = unchecked(partCap[j]) * 2;
    unchecked(partBase[j] = heap.realloc(unchecked(partBase[j]), cap));
    unchecked(partCap[j] = cap);
  }
  // The segment's time is the frame's, on the time track (or in its stamp).
  let r = unchecked(partBase[j]) + used;
  if (stamping) {
    store<i64>(r, stampTsNs);
    store<i64>(r, stampClockNs, 8);
    r += STAMP_BYTES;
  }
  store<u32>(r, stamping ? stampBase + mapIndex : mapIndex);
  store<u32>(r, keyHash, 4);
  store<u32>(r, seq, 8);
  store<u32>(r, ack, 12);
  store<u32>(r, len, 16);
  store<u32>(r, capturedLen, 20);
  store<u32>(r, ipTotalLen, 24);
  store<u32>(r, tcpAnalysisLen, 28);
  store<u32>(r, frameInterface, 32);
  store<i16>(r, <i16>vlan, 36);
  store<i16>(r, <i16>innerVlan, 38);
  store<i32>(r, optMss, 40);
  store<u16>(r, <u16>srcPort, 44);
  store<u16>(r, <u16>dstPort, 46);
  store<u16>(r, <u16>window, 48);
  store<u8>(r, <u8>flags, 50);
  store<u8>(r, <u8>(optWscale + 1), 51);
  store<u8>(r, (optSackOk ? 1 : 0) | (optTimestamps ? 2 : 0) | (frameHasInterface ? 4 : 0), 52);
  store<u8>(r, <u8>drop, 53);
  store<u8>(r, <u8>tunnel, 54);
  store<u8>(r, <u8>addrLen, 55);
  store<u64>(r, encap, 56);
  copyAddress(r + RECORD_FIXED, src, addrLen);
  copyAddress(r + RECORD_FIXED + addrLen, dst, addrLen);
  unchecked(partLen[j] = used + size);
}

/** The partition of a flow hash: the same in mappers and replicas. */
@inline function partitionOf(hash: u32): u32 {
  return <u32>((<u64>hash * <u64>partitions) >> 32);
}

/** A replica keeps the flows whose hash lies in [lo, hi] (the host shares the hash space out). */
export function setOwnHashes(lo: u32, hi: u32): void {
  ownLo = lo;
  ownHi = hi;
}

/** Whether the flow whose key was set last is this instance's (always, but in a replica). */
@inline export function ownsKey(): bool {
  return mode != MODE_REPLICA || (keyHash >= ownLo && keyHash <= ownHi);
}

export function timesAddress(): usize { return timesBase; }
export function timesCount(): u32 { return timesLen; }
export function partitionAddress(j: u32): usize { return unchecked(partBase[j]); }
export function partitionBytes(j: u32): u32 { return <u32>unchecked(partLen[j]); }

// The flows a reducer created, by first packet: the host numbers connections (conn_id) from them.
let createdBase: usize = 0;
let createdCap: u32 = 0;
let createdLen: u32 = 0;

/** Notes a created flow's first packet (reducers only). */
export function noteCreated(firstPacket: i64): void {
  if (createdLen == createdCap) {
    createdCap = createdCap == 0 ? 1024 : createdCap * 2;
    createdBase = createdBase == 0 ? heap.alloc(<usize>createdCap * 8) : heap.realloc(createdBase, <usize>createdCap * 8);
  }
  store<i64>(createdBase + (<usize>createdLen << 3), firstPacket);
  createdLen++;
}

export function createdAddress(): usize { return createdBase; }
export function createdCount(): u32 { return createdLen; }
export function clearCreated(): void { createdLen = 0; }
