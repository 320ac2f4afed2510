// Connection timers on packet time: a binary min-heap of (deadline, flow, generation). Entries are
// lazy: a flow keeps the deadline of its earliest queued entry in `timerNs`, a later deadline needs
// no new entry (the timer re-arms itself when it fires early), and entries of removed flows are
// recognised by their generation and dropped. Stale entries are compacted away before the heap
// would grow past twice the live flows, so its size is bounded by maxFlows, not by the flows seen.

import { flowAt, liveFlows } from "./table";

const ENTRY_SIZE: usize = 16;
const INITIAL_ENTRIES: u32 = 1024;
export const NO_TIMER: i64 = i64.MAX_VALUE;

let heapBase: usize = 0;
let heapCap: u32 = 0;
let heapLen: u32 = 0;

export function resetTimers(): void {
  if (heapBase == 0) {
    heapCap = INITIAL_ENTRIES;
    heapBase = heap.alloc(<usize>heapCap * ENTRY_SIZE);
  }
  heapLen = 0;
}

@inline function entryAt(i: u32): usize { return heapBase + <usize>i * ENTRY_SIZE; }
@inline function deadlineAt(i: u32): i64 { return load<i64>(entryAt(i)); }

/** Makes sure flow `idx` is woken at `deadlineNs` or earlier. */
export function armTimer(idx: u32, deadlineNs: i64): void {
  const f = flowAt(idx);
  if (deadlineNs >= f.timerNs) return;
  f.timerNs = deadlineNs;
  if (heapLen == heapCap) {
    if (heapLen >= 2 * liveFlows + INITIAL_ENTRIES) {
      compact();
    } else {
      heapCap *= 2;
      heapBase = heap.realloc(heapBase, <usize>heapCap * ENTRY_SIZE);
    }
  }
  let i = heapLen++;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (deadlineAt(parent) <= deadlineNs) break;
    memory.copy(entryAt(i), entryAt(parent), ENTRY_SIZE);
    i = parent;
  }
  const e = entryAt(i);
  store<i64>(e, deadlineNs);
  store<u32>(e, idx, 8);
  store<u32>(e, f.gen, 12);
}

/** Earliest queued deadline, or NO_TIMER. */
@inline export function nextDeadline(): i64 {
  return heapLen == 0 ? NO_TIMER : deadlineAt(0);
}

/**
 * Removes the earliest entry and returns its flow if the entry is still that flow's current timer,
 * else NO_FLOW-like 0xffffffff. The flow's `timerNs` is cleared so the handler can re-arm it.
 */
export function popTimer(): u32 {
  const top = entryAt(0);
  const deadline = load<i64>(top);
  const idx = load<u32>(top, 8);
  const gen = load<u32>(top, 12);
  heapLen--;
  if (heapLen > 0) siftDown(heapLen);
  const f = flowAt(idx);
  if (f.gen != gen || f.timerNs != deadline) return 0xffffffff;
  f.timerNs = NO_TIMER;
  return idx;
}

/** Moves the last entry (index `last`) to the root and restores the heap order. */
function siftDown(last: u32): void {
  sink(0, entryAt(last));
}

/** Places the entry `moving` (read before anything moves) at hole `start` or below it. */
function sink(start: u32, moving: usize): void {
  const d = load<i64>(moving);
  const idx = load<u32>(moving, 8);
  const gen = load<u32>(moving, 12);
  let i = start;
  while (true) {
    let child: u32 = 2 * i + 1;
    if (child >= heapLen) break;
    if (child + 1 < heapLen && deadlineAt(child + 1) < deadlineAt(child)) child++;
    if (deadlineAt(child) >= d) break;
    memory.copy(entryAt(i), entryAt(child), ENTRY_SIZE);
    i = child;
  }
  const e = entryAt(i);
  store<i64>(e, d);
  store<u32>(e, idx, 8);
  store<u32>(e, gen, 12);
}

/** An entry is current when its flow is the same incarnation and still waits for this deadline. */
function current(e: usize): bool {
  const f = flowAt(load<u32>(e, 8));
  return f.gen == load<u32>(e, 12) && f.timerNs == load<i64>(e);
}

/** Drops the entries that would pop as stale and rebuilds the heap (Floyd's method). */
function compact(): void {
  let n: u32 = 0;
  for (let i: u32 = 0; i < heapLen; i++) {
    const e = entryAt(i);
    if (!current(e)) continue;
    if (n != i) memory.copy(entryAt(n), e, ENTRY_SIZE);
    n++;
  }
  heapLen = n;
  for (let i = <i32>(n >> 1) - 1; i >= 0; i--) {
    memory.copy(SPARE, entryAt(<u32>i), ENTRY_SIZE);
    sink(<u32>i, SPARE);
  }
}

const SPARE: usize = memory.data(<i32>ENTRY_SIZE, 8);
