// A reducer of a parallel run (parts.ts): the flow layer for one partition, on the whole time track.

import { Tunnel } from "../../src/core/abi";
import { setFrameAt } from "../capture/frame";
import { setAnalysisLen, setOptions } from "../decode/tcp";
import { setKeyHashed } from "../flow/table";
import { advanceTime, trackSegmentAs, setClockIndex } from "../flow/tracker";
import { nextDeadline } from "../flow/timers";
import { outRoom, outFull } from "../out/columns";
import { RECORD_FIXED, FILTERED_TIME, STAMP_BYTES } from "./parts";

let reduceBase: usize = 0;
let reduceCap: usize = 0;
let rTimes: u32 = 0;
let rRecBytes: usize = 0;
let rFirstIndex: i64 = 0;
let rTimePos: u32 = 0;
let rRecPos: usize = 0;

/** The reducer's input area, grown to `capacity` bytes: the time track, then the records. */
export function reduceInput(capacity: usize): usize {
  if (capacity > reduceCap) {
    reduceBase = reduceBase == 0 ? heap.alloc(capacity) : heap.realloc(reduceBase, capacity);
    reduceCap = capacity;
  }
  return reduceBase;
}

/** Starts a map batch: `times` frames from global index `firstIndex`, then `recBytes` of records. */
export function beginReduce(times: u32, recBytes: usize, firstIndex: i64): void {
  rTimes = times;
  rRecBytes = recBytes;
  rFirstIndex = firstIndex;
  rTimePos = 0;
  rRecPos = 0;
}

/**
 * Runs the batch on: every frame advances the clock (timers fire at the frame they fire at in a
 * single pass), and this partition's segments go through the flow layer. Returns false when the
 * output batch must be drained first; call again to go on.
 */
export function reduce(): bool {
  const times = reduceBase;
  const recs = reduceBase + (<usize>rTimes << 3);
  while (rTimePos < rTimes) {
    const i = rTimePos;
    const tsNs = load<i64>(times + (<usize>i << 3));
    // A record the framer's filter rejected runs no timer (engine.ts skipRecord).
    if (tsNs == FILTERED_TIME) { rTimePos++; continue; }
    setClockIndex(rFirstIndex + <i64>i);
    if (!advanceTime(tsNs)) return false;
    if (rRecPos < rRecBytes && load<u32>(recs + rRecPos) == i) {
      if (outFull() || !outRoom(2)) return false;
      rRecPos += replaySegment(recs + rRecPos, rFirstIndex + <i64>i, tsNs);
    }
    rTimePos++;
  }
  return true;
}

/** Runs one compact record through the flow layer as trackSegment would have; returns its size. */
function replaySegment(r: usize, index: i64, tsNs: i64): usize {
  const addrLen = <u32>load<u8>(r, 55);
  const bits = <u32>load<u8>(r, 52);
  setFrameAt(index, tsNs, load<u32>(r, 32), (bits & 4) != 0);
  setAnalysisLen(load<u32>(r, 28));
  setOptions(load<i32>(r, 40), <i32>load<u8>(r, 51) - 1, (bits & 1) != 0, (bits & 2) != 0);
  const srcPort = <u32>load<u16>(r, 44), dstPort = <u32>load<u16>(r, 46);
  setKeyHashed(r + RECORD_FIXED, srcPort, r + RECORD_FIXED + addrLen, dstPort, addrLen, <i32>load<i16>(r, 36), <i32>load<i16>(r, 38), load<u32>(r, 4));
  trackSegmentAs(tsNs, <u32>load<u8>(r, 50), load<u32>(r, 8), load<u32>(r, 12),
    <u32>load<u16>(r, 48), load<u32>(r, 16), load<u32>(r, 20), load<u32>(r, 24), <u32>load<u8>(r, 53), <Tunnel>load<u8>(r, 54), load<u64>(r, 56));
  return <usize>(RECORD_FIXED + 2 * addrLen + 7) & ~<usize>7;
}


// --- a cluster's reducer (src/cluster/reduce.ts): its records, and the clock only where it fires ---
// A cluster's map task writes, per partition, each record after its frame's time and the task's
// clock at that frame (the latest time so far; the host raises it to the archive's clock before
// the task). Timers due before a record fire at the first frame of the whole archive whose clock
// reaches their deadline: the reducer stops (NEED_CLOCK) and the host, which holds the archive's
// time track, says which frame that is and its clock (fireAt). So a reducer steps through its own
// records and the frames where its timers fire, not through every frame of the archive.

/** reduceRecords' answers: done with the records, output full (drain, call again), a clock is needed. */
export const SPARSE_DONE: i32 = 0;
export const SPARSE_FULL: i32 = 1;
export const SPARSE_NEED_CLOCK: i32 = 2;

let sBytes: usize = 0;
let sPos: usize = 0;
let sFirstIndex: i64 = 0;
let sClockFloor: i64 = i64.MIN_VALUE;
/** The first frame at which a timer can still fire: after the last record replayed, or where the last fired. */
let sNextFrame: i64 = 0;

export function nextFrame(): i64 {
  return sNextFrame;
}

/** Starts `bytes` of stamped records (in the input area) of a task whose frames start at `firstIndex`, its clocks raised to `clockFloor`. */
export function beginRecords(bytes: usize, firstIndex: i64, clockFloor: i64): void {
  sBytes = bytes;
  sPos = 0;
  sFirstIndex = firstIndex;
  sClockFloor = clockFloor;
}

/** The deadline the host must find a frame for (after SPARSE_NEED_CLOCK). */
export function dueDeadline(): i64 {
  return nextDeadline();
}

/** Runs the records on, as `reduce` does; see SPARSE_*. */
export function reduceRecords(): i32 {
  while (sPos < sBytes) {
    const r = reduceBase + sPos;
    const tsNs = load<i64>(r);
    let clockNs = load<i64>(r, 8);
    if (clockNs < sClockFloor) clockNs = sClockFloor;
    if (nextDeadline() <= clockNs) return SPARSE_NEED_CLOCK;
    const index = sFirstIndex + <i64>load<u32>(r + STAMP_BYTES);
    setClockIndex(index);
    // Nothing is due: this only moves the clock.
    advanceTime(clockNs);
    if (outFull() || !outRoom(2)) return SPARSE_FULL;
    sPos += STAMP_BYTES + replaySegment(r + STAMP_BYTES, index, tsNs);
    sNextFrame = index + 1;
  }
  return SPARSE_DONE;
}

/** Advances the clock to `clockNs` at frame `index`, firing what is due; false: drain, call again. */
export function fireAt(index: i64, clockNs: i64): bool {
  setClockIndex(index);
  sNextFrame = index;
  return advanceTime(clockNs);
}
