// The core's exports: the whole surface the host calls (src/core/core.ts). Per-packet work never
// crosses it: the host hands over a chunk of bytes and gets back bytes consumed and, when a batch
// is full or the input ends, finished connections as column regions.

import { Abi, ErrorCode, Flag, Status } from "../src/core/abi";
import { readRecords, beginFile as beginCaptureFile, consumed } from "./capture/reader";
import { resetFrames } from "./capture/frame";
import { resetFragments } from "./decode/fragments";
import { resetUdpSessions } from "./decode/udp";
import { setVerifyChecksums, resetEngine, updateCommonFrames } from "./engine";
export { filterBuffer, setFilter } from "./filter";
import { refusedLinkType } from "./filter";
import { resetTable, setMaxFlows, setVlanKey, SLOT_BYTES } from "./flow/table";
import { setFastPath, oneStepZeek, oneStepAnalysis, oneStepDecode, oneStepBlocks } from "./flow/path";
import { FLOW_SIZE } from "./flow/record";
import { carryBytes } from "./flow/carry";
import { resetShape, shapeBytes, packetStatsOn } from "./flow/shape";
import { resetTimers } from "./flow/timers";
import { resetTracker, endOldest } from "./flow/tracker";
export { oldestFirstPacket } from "./flow/tracker";
import { initOutput, clearOutput as clearOutputRows, columnAddress as outColumnAddress, outRows, outFull, shiftOutput as shiftOutputRows } from "./out/columns";
import { setMode, setOwnHashes, mode, partitions, setFrameInput, clearCreated as clearCreatedFlows } from "./parallel/parts";
import { mapFrames as mapFramesInto } from "./parallel/map";
import { beginReduce as beginReduceBatch, reduce as reduceBatch } from "./parallel/reduce";
export { setStamping } from "./parallel/parts";
export { clearFrames, clearPartitions, timesAddress, timesCount, descAddress, descCount, partitionAddress, partitionBytes, deferredAddress, deferredCount, createdAddress, createdCount } from "./parallel/parts";
export { reduceInput, beginRecords, dueDeadline, reduceRecords, fireAt, nextFrame } from "./parallel/reduce";
export { beginRange, rangeFirstRecord, rangeEndOffset, fileGoodRecords, fileFirstDamage, fileFirstDamageOffset } from "./capture/reader";
import { initEvents, eventRows, clearEvents as clearEventRows, eventColumnAddress as eventsColumnAddress, eventsRoom } from "./out/events";
import { initPackets, packetRows, clearPackets as clearPacketRows, packetColumnAddress as packetsColumnAddress } from "./out/packets";
import { initSideTables } from "./out/side";
import { STATS, clearStats, fail, errorCode as lastErrorCode, errorOffset as lastErrorOffset } from "./stats";

let input: usize = 0;
let inputCap: u32 = 0;

export function abiVersion(): i32 {
  return Abi.Version;
}

/**
 * Starts a new run: forgets all flows and counters; at most `maxFlows` connections live at once.
 * Fails with OutOfMemory when memory cannot hold that many flow records.
 */
export function reset(flags: u32, maxFlows: u32): Status {
  setMaxFlows(maxFlows);
  initOutput();
  clearOutputRows();
  clearStats();
  resetFrames();
  resetFragments();
  resetUdpSessions();
  if (!resetTable() || !resetShape((flags & Flag.PacketStats) != 0, maxFlows)) return fail(ErrorCode.OutOfMemory, 0);
  resetTimers();
  resetTracker();
  beginCaptureFile();
  resetEngine();
  setVerifyChecksums((flags & Flag.VerifyChecksums) != 0);
  setFastPath((flags & Flag.ExactPathOnly) == 0);
  setVlanKey((flags & Flag.VlanKey) != 0);
  initEvents((flags & Flag.Events) != 0);
  initPackets((flags & Flag.Packets) != 0);
  initSideTables();
  setMode(mode, partitions);
  updateCommonFrames();
  return Status.Done;
}

/**
 * Sets this instance's part in a parallel run (assembly/parallel/parts.ts MODE_*): 0 a single pass, 1 the
 * framer, 2 a mapper, 3 a reducer, 4 a replica; framer and mappers write `partitionCount`
 * partitions. Kept by reset.
 */
export function setParallel(part: u32, partitionCount: u32): void {
  setMode(part, partitionCount);
  updateCommonFrames();
}

/** A replica keeps the flows whose hash lies in [lo, hi] (all of them by default). Kept by reset. */
export function ownHashes(lo: u32, hi: u32): void {
  setOwnHashes(lo, hi);
}

/**
 * Framer or mapper: decodes `n` frames (descriptors at `desc`, data from `chunk`) into the
 * partitions; a mapper (`defer`) lists fragments for the framer instead of reassembling them.
 * `indexes`: each frame's index in its chunk, or 0 for "its position".
 */
export function mapFrames(desc: usize, n: u32, chunk: usize, defer: bool, indexes: usize): void {
  mapFramesInto(desc, n, chunk, defer, indexes);
}


/** Reducer: starts a batch of `times` network times then `recBytes` of records in the input area. */
export function beginReduce(times: u32, recBytes: u32, firstIndex: i64): void {
  beginReduceBatch(times, recBytes, firstIndex);
}

/** Reducer: runs the batch on; OutputFull when the output must be drained first, else Done. */
export function reduce(): Status {
  return reduceBatch() ? Status.Done : Status.OutputFull;
}

/** Reducer: forgets the created-flow list the host has read. */
export function clearCreated(): void {
  clearCreatedFlows();
}

/** The input buffer, grown to `capacity` bytes (its contents are kept); returns its address. */
export function inputBuffer(capacity: u32): usize {
  if (capacity > inputCap) {
    input = input == 0 ? heap.alloc(capacity) : heap.realloc(input, capacity);
    inputCap = capacity;
  }
  return input;
}

/** The next bytes come from a new file (its own header), but the same capture. */
export function beginFile(): void {
  beginCaptureFile();
}

/**
 * Frames `len` bytes at `at`, anywhere in the input buffer (from its start, or in one of the two
 * halves the host reads into, src/input/feed.ts); see Status for what it stopped on.
 */
export function feedFrom(at: usize, len: u32, atEof: bool): Status {
  setFrameInput(at);
  return readRecords(at, len, atEof);
}

export function consumedBytes(): u32 {
  return consumed;
}

/** End of input: emits every connection still open, oldest first. */
export function finish(): Status {
  while (!outFull() && eventsRoom(1)) {
    if (!endOldest()) return Status.Done;
  }
  return Status.OutputFull;
}

export function outputRows(): u32 {
  return outRows;
}

export function clearOutput(): void {
  clearOutputRows();
}

/** Drops the first `n` output rows (taken by the host), keeping the rest. */
export function shiftOutput(n: u32): void {
  shiftOutputRows(n);
}

export function columnAddress(group: u32, col: u32): usize {
  return outColumnAddress(group, col);
}

export function eventCount(): u32 {
  return eventRows;
}

export function clearEvents(): void {
  clearEventRows();
}

export function eventColumnAddress(group: u32, col: u32): usize {
  return eventsColumnAddress(group, col);
}

export function packetCount(): u32 {
  return packetRows;
}

export function clearPackets(): void {
  clearPacketRows();
}

export function packetColumnAddress(group: u32, col: u32): usize {
  return packetsColumnAddress(group, col);
}

export function statsAddress(): usize {
  return STATS;
}

export function errorCode(): u32 {
  return lastErrorCode;
}

export function errorOffset(): u64 {
  return lastErrorOffset;
}

/** With ErrorCode.FilterRefused: the link type of the record the filter could not be applied to. */
export function filterRefusedLinkType(): u32 {
  return refusedLinkType;
}

/**
 * Segments of this run that took the one-step path (assembly/flow/path.ts): 0 Zeek's model, 1
 * Wireshark's analysis, 2 frames decoded in one step, 3 pcapng blocks framed in one step.
 */
export function oneStepSegments(model: u32): u64 {
  return model == 0 ? oneStepZeek() : model == 1 ? oneStepAnalysis() : model == 2 ? oneStepDecode() : oneStepBlocks;
}

/** Bytes reserved per flow of maxFlows: its record and its share of the kept analysis states (for memory bounds). */
export function flowRecordBytes(): u32 {
  return <u32>FLOW_SIZE + <u32>(carryBytes(1 << 20) >> 20) + <u32>SLOT_BYTES + (packetStatsOn ? shapeBytes() : 0);
}
