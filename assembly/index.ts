// The core's exports: the whole surface the host calls (src/core.ts). Per-packet work never
// crosses it: the host hands over a chunk of bytes and gets back bytes consumed and, when a batch
// is full or the input ends, finished connections as column regions.

import { Abi, ErrorCode, Flag, Status } from "../src/abi";
import { readRecords, beginFile as beginCaptureFile, consumed } from "./capture/reader";
import { resetFrames } from "./capture/frame";
import { resetFragments } from "./decode/fragments";
import { setVerifyChecksums } from "./engine";
import { resetTable, setMaxFlows } from "./flow/table";
import { FLOW_SIZE } from "./flow/record";
import { resetTimers } from "./flow/timers";
import { resetTracker, endOldest } from "./flow/tracker";
import { initOutput, clearOutput as clearOutputRows, columnAddress as outColumnAddress, outRows, outFull } from "./out/columns";
import { initEvents, eventRows, clearEvents as clearEventRows, eventColumnAddress as eventsColumnAddress, eventsRoom } from "./out/events";
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
  if (!resetTable()) return fail(ErrorCode.OutOfMemory, 0);
  resetTimers();
  resetTracker();
  beginCaptureFile();
  setVerifyChecksums((flags & Flag.VerifyChecksums) != 0);
  initEvents((flags & Flag.Events) != 0);
  return Status.Done;
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

/** Frames the first `len` bytes of the input buffer; see Status for what it stopped on. */
export function feed(len: u32, atEof: bool): Status {
  return readRecords(input, len, atEof);
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

export function statsAddress(): usize {
  return STATS;
}

export function errorCode(): u32 {
  return lastErrorCode;
}

export function errorOffset(): u64 {
  return lastErrorOffset;
}

/** Bytes of one flow record (for memory bounds). */
export function flowRecordBytes(): u32 {
  return <u32>FLOW_SIZE;
}
