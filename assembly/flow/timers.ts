// Connection timers on packet time: entries of (deadline, first packet, flow, generation), taken
// in order of deadline and then of the flow's first packet, so that timers due together fire in an
// order that does not depend on where they are kept (nor on which flows share a worker). Entries
// are lazy: a flow's slot keeps the deadline of its queued entry (table.ts slotTimer), a later
// deadline needs no new entry (the timer re-arms itself when it fires early) unless the caller
// asks for an exact one (rearmTimer, which keeps the entry it supersedes as the slot's early one),
// and entries no longer their flow's (an earlier deadline queued since, or the flow removed: its
// slot's generation) are dropped, told by the slot's words alone. A flow has at most two current
// entries, and the stale ones are compacted away before the entries' arrays would grow past twice
// the live flows, so their size is bounded by maxFlows, not by the flows seen.
//
// Where they are kept: a deadline is a packet's time plus one of a few fixed timeouts (Zeek's
// attempt, close and inactivity timers), and packet times mostly go forward, so the entries come
// as a few interleaved streams, each already in order. Each stream goes to a run, an array
// in order whose new entries are appended (the run whose last entry is the latest one not after
// the new entry; an empty run if none is), and an entry that fits no run (a packet time that went
// back, more streams than runs) goes to a binary min-heap. The earliest entry is the earliest of
// the runs' first entries and the heap's root. With many short connections a timer heap of a few
// thousand entries cost each pop a dozen levels of unpredictable comparisons; a run costs it one
// comparison per run. The order of pops is the heap's alone would give (the order is total: two
// entries equal in deadline and first packet are the same flow's, and either may go first).

import { flowAt, liveFlows, slotGen, slotTimer, setSlotTimer, slotEarlyTimer, setSlotEarlyTimer } from "./table";

const ENTRY_SIZE: usize = 24;
const INITIAL_ENTRIES: u32 = 1024;
export const NO_TIMER: i64 = i64.MAX_VALUE;

let heapBase: usize = 0;
let heapCap: u32 = 0;
let heapLen: u32 = 0;

/** Runs, and each one's words: its array, capacity, first entry and end (entries [head, tail)). */
const RUNS: i32 = 4;
const RUN_INITIAL: u32 = 256;
const RUN_WORDS: usize = 16;
const RUN_BASE: usize = 0, RUN_CAP: usize = 4, RUN_HEAD: usize = 8, RUN_TAIL: usize = 12;
const RUN_META: usize = memory.data(<i32>(RUN_WORDS * <usize>RUNS), 8);

/**
 * Where the earliest deadline queued is kept (NO_TIMER: none): the test every packet makes is one
 * load, from a fixed address (a global of V8's took two more instructions).
 */
const EARLIEST: usize = memory.data(8, 8);

export function resetTimers(): void {
  if (heapBase == 0) {
    heapCap = INITIAL_ENTRIES;
    heapBase = heap.alloc(<usize>heapCap * ENTRY_SIZE);
    for (let r = 0; r < RUNS; r++) {
      const m = runMeta(r);
      store<u32>(m, <u32>heap.alloc(<usize>RUN_INITIAL * ENTRY_SIZE), RUN_BASE);
      store<u32>(m, RUN_INITIAL, RUN_CAP);
    }
  }
  heapLen = 0;
  for (let r = 0; r < RUNS; r++) {
    store<u32>(runMeta(r), 0, RUN_HEAD);
    store<u32>(runMeta(r), 0, RUN_TAIL);
  }
  store<i64>(EARLIEST, NO_TIMER);
}

@inline function runMeta(r: i32): usize { return RUN_META + <usize>r * RUN_WORDS; }
@inline function runEntry(m: usize, i: u32): usize { return <usize>load<u32>(m, RUN_BASE) + <usize>i * ENTRY_SIZE; }
@inline function entryAt(i: u32): usize { return heapBase + <usize>i * ENTRY_SIZE; }
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
  setSlotTimer(idx, deadlineNs);
  const firstPacket = flowAt(idx).firstPacket;
  store<i64>(SPARE, deadlineNs);
  store<i64>(SPARE, firstPacket, 8);
  store<u32>(SPARE, idx, 16);
  store<u32>(SPARE, slotGen(idx), 20);
  place(deadlineNs, firstPacket);
  // After placing: a compaction on the way sets EARLIEST from the entries queued before.
  if (deadlineNs < load<i64>(EARLIEST)) store<i64>(EARLIEST, deadlineNs);
}

/** Appends the entry in SPARE to its run, or adds it to the heap. */
function place(deadlineNs: i64, firstPacket: i64): void {
  while (true) {
    const r = runFor(deadlineNs, firstPacket);
    if (r >= 0) {
      const m = runMeta(r);
      const head = load<u32>(m, RUN_HEAD), tail = load<u32>(m, RUN_TAIL), cap = load<u32>(m, RUN_CAP);
      if (tail < cap) {
        copyEntry(runEntry(m, tail), SPARE);
        store<u32>(m, tail + 1, RUN_TAIL);
        return;
      }
      if (head >= cap >> 1) {
        // Half of the array or more is taken: its entries move to the front.
        const base = <usize>load<u32>(m, RUN_BASE);
        memory.copy(base, base + <usize>head * ENTRY_SIZE, <usize>(tail - head) * ENTRY_SIZE);
        store<u32>(m, 0, RUN_HEAD);
        store<u32>(m, tail - head, RUN_TAIL);
        continue;
      }
      if (compactsFirst()) continue;
      store<u32>(m, <u32>heap.realloc(<usize>load<u32>(m, RUN_BASE), <usize>cap * 2 * ENTRY_SIZE), RUN_BASE);
      store<u32>(m, cap * 2, RUN_CAP);
      continue;
    }
    if (heapLen == heapCap) {
      if (compactsFirst()) continue;
      heapCap *= 2;
      heapBase = heap.realloc(heapBase, <usize>heapCap * ENTRY_SIZE);
    }
    rise(heapBase, heapLen++, SPARE);
    return;
  }
}

/**
 * The run an entry of `deadlineNs` and `firstPacket` is appended to: of the runs whose last entry
 * is not after it, the one whose last entry is the latest (the entries of one timeout stay
 * together); else an empty run; else -1 (the heap).
 */
@inline function runFor(deadlineNs: i64, firstPacket: i64): i32 {
  let best: i32 = -1, empty: i32 = -1;
  let bestDeadline: i64 = 0, bestFirst: i64 = 0;
  for (let r = 0; r < RUNS; r++) {
    const m = runMeta(r);
    const tail = load<u32>(m, RUN_TAIL);
    if (tail == load<u32>(m, RUN_HEAD)) {
      if (empty < 0) empty = r;
      continue;
    }
    const last = runEntry(m, tail - 1);
    const d = load<i64>(last), first = load<i64>(last, 8);
    if (d > deadlineNs || (d == deadlineNs && first > firstPacket)) continue;
    if (best < 0 || d > bestDeadline || (d == bestDeadline && first > bestFirst)) {
      best = r;
      bestDeadline = d;
      bestFirst = first;
    }
  }
  return best >= 0 ? best : empty;
}

/**
 * Before an array grows: compacts every entry away that would pop as stale, if the entries are
 * twice the live flows and more (a flow has at most two current ones, so at least
 * INITIAL_ENTRIES go). Returns whether it did.
 */
function compactsFirst(): bool {
  let entries = heapLen;
  for (let r = 0; r < RUNS; r++) entries += load<u32>(runMeta(r), RUN_TAIL) - load<u32>(runMeta(r), RUN_HEAD);
  if (entries < 2 * liveFlows + INITIAL_ENTRIES) return false;
  compact();
  return true;
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

/** Earliest queued deadline, or NO_TIMER. */
@inline export function nextDeadline(): i64 {
  return load<i64>(EARLIEST);
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
  // The earliest entry: the heap's root or a run's first.
  let top: usize = heapLen > 0 ? heapBase : 0;
  let from: i32 = -1;
  for (let r = 0; r < RUNS; r++) {
    const m = runMeta(r);
    const head = load<u32>(m, RUN_HEAD);
    if (head == load<u32>(m, RUN_TAIL)) continue;
    const e = runEntry(m, head);
    if (top == 0 || before(e, top)) { top = e; from = r; }
  }
  const deadline = load<i64>(top);
  const idx = load<u32>(top, 16);
  const gen = load<u32>(top, 20);
  poppedDeadlineNs = deadline;
  if (from < 0) {
    heapLen--;
    if (heapLen > 0) siftDown(heapLen);
  } else {
    const m = runMeta(from);
    const head = load<u32>(m, RUN_HEAD) + 1;
    if (head == load<u32>(m, RUN_TAIL)) {
      store<u32>(m, 0, RUN_HEAD);
      store<u32>(m, 0, RUN_TAIL);
    } else {
      store<u32>(m, head, RUN_HEAD);
    }
  }
  store<i64>(EARLIEST, earliestQueued());
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
 * The earliest deadline of the heap's root and the runs' first entries, or NO_TIMER: popTimer's
 * search for the earliest entry, on deadlines alone (which entry of a tie does not matter here).
 * Sharing that search, with its run kept in a global, cost 3 instructions per record with many
 * short connections.
 */
function earliestQueued(): i64 {
  let d = heapLen > 0 ? load<i64>(heapBase) : NO_TIMER;
  for (let r = 0; r < RUNS; r++) {
    const m = runMeta(r);
    const head = load<u32>(m, RUN_HEAD);
    if (head == load<u32>(m, RUN_TAIL)) continue;
    const first = load<i64>(runEntry(m, head));
    if (first < d) d = first;
  }
  return d;
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

/**
 * Drops the entries that would pop as stale: from each run, whose others move to its front in
 * their order, and from the heap, which is rebuilt (Floyd's method).
 */
function compact(): void {
  for (let r = 0; r < RUNS; r++) {
    const m = runMeta(r);
    const tail = load<u32>(m, RUN_TAIL);
    let n: u32 = 0;
    for (let i = load<u32>(m, RUN_HEAD); i < tail; i++) {
      const e = runEntry(m, i);
      if (!current(load<u32>(e, 16), load<u32>(e, 20), load<i64>(e))) continue;
      copyEntry(runEntry(m, n), e);
      n++;
    }
    store<u32>(m, 0, RUN_HEAD);
    store<u32>(m, n, RUN_TAIL);
  }
  let n: u32 = 0;
  for (let i: u32 = 0; i < heapLen; i++) {
    const e = entryAt(i);
    if (!current(load<u32>(e, 16), load<u32>(e, 20), load<i64>(e))) continue;
    if (n != i) copyEntry(entryAt(n), e);
    n++;
  }
  heapLen = n;
  for (let i = <i32>(n >> 1) - 1; i >= 0; i--) {
    sink(<u32>i, entryAt(<u32>i));
  }
  store<i64>(EARLIEST, earliestQueued());
}

const SPARE: usize = memory.data(<i32>ENTRY_SIZE, 8);
const HELD: usize = memory.data(<i32>ENTRY_SIZE, 8);
