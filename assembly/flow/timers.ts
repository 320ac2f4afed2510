// Connection timers on packet time: a binary min-heap of (deadline, first packet, flow, generation),
// ordered by deadline and then by the flow's first packet, so that timers due together fire in an
// order that does not depend on the heap's shape (nor on which flows share a worker). Entries are
// lazy: a flow's slot keeps the deadline of its queued entry (table.ts slotTimer), a later deadline
// needs no new entry (the timer re-arms itself when it fires early) unless the caller asks for an
// exact one (rearmTimer, which keeps the entry it supersedes as the slot's early one), and
// entries no longer their flow's (an earlier deadline queued since, or the flow removed: its
// slot's generation) are dropped, told by the slot's words alone. A flow has at most two current
// entries, and the stale ones are compacted away before the heap would grow past twice the live
// flows, so its size is bounded by maxFlows, not by the flows seen.

import { flowAt, liveFlows, slotGen, slotTimer, setSlotTimer, slotEarlyTimer, setSlotEarlyTimer } from "./table";

const ENTRY_SIZE: usize = 24;
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
  store<i64>(heapBase, NO_TIMER);
}

@inline function entryAt(i: u32): usize { return heapBase + <usize>i * ENTRY_SIZE; }
@inline function deadlineAt(i: u32): i64 { return load<i64>(entryAt(i)); }
/**
 * Copies one entry: three words, inline (a memory.copy is a call into the engine for each
 * entry moved, in the heap's inner loops).
 */
@inline function copyEntry(to: usize, from: usize): void {
  store<i64>(to, load<i64>(from));
  store<i64>(to, load<i64>(from, 8), 8);
  store<u64>(to, load<u64>(from, 16), 16);
}

/** Whether entry `a` fires before entry `b`: earlier deadline, then earlier first packet. */
@inline function before(a: usize, b: usize): bool {
  const da = load<i64>(a), db = load<i64>(b);
  return da < db || (da == db && load<i64>(a, 8) < load<i64>(b, 8));
}

/** Makes sure flow `idx` is woken at `deadlineNs` or earlier. */
export function armTimer(idx: u32, deadlineNs: i64): void {
  if (deadlineNs < slotTimer(idx)) queue(idx, deadlineNs);
}

/**
 * Makes flow `idx` be woken at `deadlineNs` exactly, also when its queued entry is earlier: for a
 * deadline that moved later for good (a completed close), whose flow would otherwise be woken
 * early once, its record read for nothing. The earlier entry stays the slot's early one, which
 * wakes the flow only if the exact deadline is due by then (popTimer): where the lazy scheme woke it.
 */
export function rearmTimer(idx: u32, deadlineNs: i64): void {
  const queued = slotTimer(idx);
  if (deadlineNs == queued) return;
  if (deadlineNs > queued && queued < slotEarlyTimer(idx)) setSlotEarlyTimer(idx, queued);
  queue(idx, deadlineNs);
}

/** A flow has no timer queued (a new flow in its slot, or one just woken). */
export function clearTimer(idx: u32): void {
  setSlotTimer(idx, NO_TIMER);
  setSlotEarlyTimer(idx, NO_TIMER);
}

/** Queues an entry for flow `idx` at `deadlineNs`, which becomes its current one. */
function queue(idx: u32, deadlineNs: i64): void {
  const f = flowAt(idx);
  setSlotTimer(idx, deadlineNs);
  if (heapLen == heapCap) {
    if (heapLen >= 2 * liveFlows + INITIAL_ENTRIES) {
      compact();
    } else {
      heapCap *= 2;
      heapBase = heap.realloc(heapBase, <usize>heapCap * ENTRY_SIZE);
    }
  }
  store<i64>(SPARE, deadlineNs);
  store<i64>(SPARE, f.firstPacket, 8);
  store<u32>(SPARE, idx, 16);
  store<u32>(SPARE, slotGen(idx), 20);
  rise(heapBase, heapLen++, SPARE);
}

/**
 * Places the entry `moving` at hole `i` or above it, moving the parents it fires before down
 * (`base`: the heap's, in a local, as the engine reloads a global at every use).
 */
@inline function rise(base: usize, i: u32, moving: usize): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const at = base + <usize>parent * ENTRY_SIZE;
    if (!before(moving, at)) break;
    copyEntry(base + <usize>i * ENTRY_SIZE, at);
    i = parent;
  }
  copyEntry(base + <usize>i * ENTRY_SIZE, moving);
}

/**
 * Earliest queued deadline, or NO_TIMER: an empty heap's first entry holds NO_TIMER (resetTimers,
 * popTimer and compact put it there), so that the test every packet makes is one load.
 */
@inline export function nextDeadline(): i64 {
  return deadlineAt(0);
}

/** The deadline of the entry popTimer removed last (rows it ends are ordered by it). */
export let poppedDeadlineNs: i64 = 0;

/**
 * Removes the earliest entry and returns its flow if the entry wakes it, else NO_FLOW-like
 * 0xffffffff; `nowNs` is the clock the due timers run at. An entry wakes its flow when it is the
 * flow's queued one, or the early one rearmTimer left while the queued deadline is due too: the
 * flow is then woken where the lazy scheme would have woken it (its row ordered by that entry).
 * An early entry whose flow is not due is dropped without reading the record, as the lazy scheme
 * would have re-armed the flow at the queued deadline. A woken flow's deadlines are cleared so
 * the handler can re-arm it.
 */
export function popTimer(nowNs: i64): u32 {
  const top = entryAt(0);
  const deadline = load<i64>(top);
  const idx = load<u32>(top, 16);
  const gen = load<u32>(top, 20);
  poppedDeadlineNs = deadline;
  heapLen--;
  if (heapLen > 0) siftDown(heapLen);
  else store<i64>(top, NO_TIMER);
  if (slotGen(idx) != gen) return 0xffffffff;
  const queued = slotTimer(idx);
  if (deadline != queued) {
    if (deadline != slotEarlyTimer(idx)) return 0xffffffff;
    if (queued > nowNs) { setSlotEarlyTimer(idx, NO_TIMER); return 0xffffffff; }
  }
  clearTimer(idx);
  return idx;
}

/**
 * Moves the last entry (index `last`) to the root and restores the heap order. Bottom-up (Floyd's
 * heapsort trick): the hole at the root goes down the path of earlier children to a leaf, one
 * comparison per level, and the entry then rises from there. The last entry is usually among the
 * latest deadlines, so it rises a level or two, where `sink` would compare it at every level.
 */
function siftDown(last: u32): void {
  // The heap's base and length in locals: the engine reloads a global at every use.
  const base = heapBase, len = heapLen;
  copyEntry(HELD, base + <usize>last * ENTRY_SIZE);
  let i: u32 = 0;
  while (true) {
    let child: u32 = 2 * i + 1;
    if (child >= len) break;
    let at = base + <usize>child * ENTRY_SIZE;
    if (child + 1 < len && before(at + ENTRY_SIZE, at)) { child++; at += ENTRY_SIZE; }
    copyEntry(base + <usize>i * ENTRY_SIZE, at);
    i = child;
  }
  rise(base, i, HELD);
}

/** Places the entry `moving` (read before anything moves) at hole `start` or below it. */
function sink(start: u32, moving: usize): void {
  copyEntry(HELD, moving);
  let i = start;
  while (true) {
    let child: u32 = 2 * i + 1;
    if (child >= heapLen) break;
    if (child + 1 < heapLen && before(entryAt(child + 1), entryAt(child))) child++;
    if (!before(entryAt(child), HELD)) break;
    copyEntry(entryAt(i), entryAt(child));
    i = child;
  }
  copyEntry(entryAt(i), HELD);
}

/** An entry may still wake its flow: the same incarnation, and its queued or early deadline. */
@inline function current(idx: u32, gen: u32, deadline: i64): bool {
  return slotGen(idx) == gen && (deadline == slotTimer(idx) || deadline == slotEarlyTimer(idx));
}

/** Drops the entries that would pop as stale and rebuilds the heap (Floyd's method). */
function compact(): void {
  let n: u32 = 0;
  for (let i: u32 = 0; i < heapLen; i++) {
    const e = entryAt(i);
    if (!current(load<u32>(e, 16), load<u32>(e, 20), load<i64>(e))) continue;
    if (n != i) copyEntry(entryAt(n), e);
    n++;
  }
  heapLen = n;
  if (n == 0) store<i64>(heapBase, NO_TIMER);
  for (let i = <i32>(n >> 1) - 1; i >= 0; i--) {
    copyEntry(SPARE, entryAt(<u32>i));
    sink(<u32>i, SPARE);
  }
}

const SPARE: usize = memory.data(<i32>ENTRY_SIZE, 8);
const HELD: usize = memory.data(<i32>ENTRY_SIZE, 8);
