// Wireshark's tcp.stream outlives a row of ours. A 4-tuple's stream goes on where Zeek's model
// ends the row and starts another: a RST answered by a SYN with the same ISN, data resent after
// Zeek's close or inactivity timer ended the row, an evicted connection. So when a row ends, the
// Wireshark-analysis state of each direction (analysis.ts: next and highest sequence, last ACK
// and window, window scale, duplicate ACKs, the times the rules compare) is kept here, and the next
// row of the same key takes it up: the analysis totals of a stream's rows add up to tshark's.
// Wireshark starts a new stream, with fresh state, on a SYN whose ISN differs from the direction's
// base sequence; analysis.ts's beforeAnalysis does that on the taken-up state as on any other.
// What starts afresh with every row: Zeek's model, the lifecycle, the data RTT timing, and the
// totals themselves (each row counts its own packets).
//
// A kept state is taken up for CARRY_TTL_NS of network time (the latest packet time so far, never
// going back) after its row ended. On that clock whether a state is still kept when its key's next
// row starts does not depend on which other connections ended meanwhile, as it would on packet
// times that go back: so a parallel run's lanes, which see only their own connections, take up
// exactly the states a single pass does. At most `capacity` states are kept (a quarter of
// maxFlows, at least 1,024): past that the oldest is dropped, and its stream's next row starts
// afresh. That bound is per flow layer, so a parallel run whose lanes keep fewer states each can
// differ from a single pass only once `capacity` connections end within CARRY_TTL_NS (as
// eviction past maxFlows can).
//
// Kept states sit in a ring in order of their end (the oldest at sequence number `headSeq`),
// found by key through an open-addressing index (linear probing) of their sequence numbers. An
// index entry holds the key's hash beside the sequence number, so that a probe compares hashes
// without reading ring entries, which lie anywhere in the ring. With many short connections the
// ring is full and drops one state per row; removing its index entry would cost a cache miss in
// the index (2 MiB at the default maxFlows) per row. So a dropped state leaves its index entry
// behind, stale (its sequence number lies before `headSeq`), for an insert to reuse or a sweep to
// clear. A sweep runs when stale and kept entries together fill three quarters of the index, and
// at least once per eight times `capacity` inserts (2^30 at most), so that a stale sequence
// number never comes round to look kept again. With the one-step paths off (Flag.ExactPathOnly,
// for tests) a dropped state's entry is removed at once, so that no entry is ever stale:
// test/conformance/fast-path.test.ts compares the two.

import { Flow, Endpoint, EndpointRare, endpointOf, rareOf } from "./record";
import { fastPath } from "./path";

/** An hour of network time. */
const CARRY_TTL_NS: i64 = 3_600_000_000_000;
const MIN_CAPACITY: u32 = 1024;

// A kept state: the key, when its row ended, the flow's and both sides' (A, B: the key's order) state.
const K_A0: usize = 0, K_A1: usize = 8, K_B0: usize = 16, K_B1: usize = 24;
const K_PORT_A: usize = 32, K_PORT_B: usize = 34, K_BITS: usize = 36, INDEXED: usize = 38;
const K_VLAN: usize = 40, HASH: usize = 44, END_NS: usize = 48;
const MRU_SYN_NS: usize = 56, FIRST_RTT_NS: usize = 64;
const SIDES: usize = 72;
const SIDE_SIZE: usize = 52;
const ENTRY_SIZE: usize = 176;
/** An index entry: the hash (high half), USED and the sequence number (low half); 0: empty. */
const INDEX_ENTRY: usize = 8;
const USED: u64 = 0x8000_0000;
/** Sequence numbers count kept states modulo 2^31. */
const SEQ_MASK: u32 = 0x7fff_ffff;
/** The most inserts between sweeps: a stale sequence number is cleared well before 2^31 more. */
const MAX_SWEEP_INTERVAL: u32 = 1 << 30;

let ring: usize = 0;
let index: usize = 0;
let capacity: u32 = 0;
let indexMask: u32 = 0;
/** The oldest kept state's sequence number (at ring slot headSeq & (capacity - 1)). */
let headSeq: u32 = 0;
let count: u32 = 0;
/** Index entries not empty: states kept and stale entries. */
let occupied: u32 = 0;
let insertsSinceSweep: u32 = 0;
let sweepAt: u32 = 0;
let sweepEvery: u32 = 0;

/** Ring slots for a flow table of `maxFlows`. */
function capacityFor(maxFlows: u32): u32 {
  let c = MIN_CAPACITY;
  while (c < (maxFlows + 3) >> 2) c <<= 1;
  return c;
}

/** Bytes to reserve beside a flow table of `maxFlows` (ring and index). */
export function carryBytes(maxFlows: u32): usize {
  const c = capacityFor(maxFlows);
  return <usize>c * ENTRY_SIZE + <usize>c * 2 * INDEX_ENTRY;
}

/** Places the ring and index at `base` (reserved for `reservedFlows`), empty. */
export function resetCarry(base: usize, reservedFlows: u32): void {
  capacity = capacityFor(reservedFlows);
  ring = base;
  index = base + <usize>capacity * ENTRY_SIZE;
  indexMask = capacity * 2 - 1;
  memory.fill(index, 0, <usize>capacity * 2 * INDEX_ENTRY);
  headSeq = 0;
  count = 0;
  occupied = 0;
  insertsSinceSweep = 0;
  sweepAt = capacity + (capacity >> 1);
  sweepEvery = <u64>capacity * 8 < <u64>MAX_SWEEP_INTERVAL ? capacity * 8 : MAX_SWEEP_INTERVAL;
}

@inline function entryAt(seq: u32): usize { return ring + <usize>(seq & (capacity - 1)) * ENTRY_SIZE; }
@inline function indexAt(i: u32): usize { return index + (<usize>i << 3); }
@inline function hashOf(v: u64): u32 { return <u32>(v >> 32); }
@inline function seqOf(v: u64): u32 { return <u32>v & SEQ_MASK; }
/** Whether an index entry names a state still in the ring (not one dropped since). */
@inline function isKept(v: u64): bool { return ((seqOf(v) - headSeq) & SEQ_MASK) < count; }

function sameKey(e: usize, f: Flow): bool {
  return load<u64>(e, K_A0) == f.keyA0 && load<u64>(e, K_A1) == f.keyA1 && load<u64>(e, K_B0) == f.keyB0 &&
    load<u64>(e, K_B1) == f.keyB1 && load<u16>(e, K_PORT_A) == f.portA && load<u16>(e, K_PORT_B) == f.portB &&
    load<u8>(e, K_BITS) == f.keyBits && load<u32>(e, K_VLAN) == f.keyVlan;
}

/** Empties index position `hole` (backward-shift deletion: later entries of its probe run move up). */
function removeAt(hole: u32): void {
  let next = (hole + 1) & indexMask;
  while (true) {
    const v = load<u64>(indexAt(next));
    if (v == 0) break;
    const home = hashOf(v) & indexMask;
    // The entry may move into the hole when its home is not cyclically within (hole, next].
    if (((next - home) & indexMask) >= ((next - hole) & indexMask)) {
      store<u64>(indexAt(hole), v);
      hole = next;
    }
    next = (next + 1) & indexMask;
  }
  store<u64>(indexAt(hole), 0);
  occupied--;
}

/**
 * Clears the stale entries. Going round from an empty position, each entry kept moves to the
 * first empty position from its home: where an insert into the index without the stale entries
 * would have put it (every position from its home up to it has been gone over already, since no
 * probe run crosses the empty position the round starts from).
 */
function sweep(): void {
  let start: u32 = 0;
  while (load<u64>(indexAt(start)) != 0) start++;
  let kept: u32 = 0;
  for (let k: u32 = 1; k <= indexMask; k++) {
    const i = (start + k) & indexMask;
    const v = load<u64>(indexAt(i));
    if (v == 0) continue;
    store<u64>(indexAt(i), 0);
    if (!isKept(v)) continue;
    let j = hashOf(v) & indexMask;
    while (load<u64>(indexAt(j)) != 0) j = (j + 1) & indexMask;
    store<u64>(indexAt(j), v);
    kept++;
  }
  occupied = kept;
  insertsSinceSweep = 0;
}

/** Indexes the state with sequence number `seq` under `hash`, in the first empty or stale position. */
function insert(hash: u32, seq: u32): void {
  if (occupied >= sweepAt || insertsSinceSweep >= sweepEvery) sweep();
  let i = hash & indexMask;
  while (true) {
    const v = load<u64>(indexAt(i));
    if (v == 0) { occupied++; break; }
    if (!isKept(v)) break;
    i = (i + 1) & indexMask;
  }
  store<u64>(indexAt(i), (<u64>hash << 32) | USED | <u64>seq);
  insertsSinceSweep++;
}

/** The index position of the state with sequence number `seq`, indexed under `hash`. */
function positionOf(seq: u32, hash: u32): u32 {
  const want = (<u64>hash << 32) | USED | <u64>seq;
  let i = hash & indexMask;
  while (load<u64>(indexAt(i)) != want) i = (i + 1) & indexMask;
  return i;
}

/** Drops the oldest kept state: its index entry goes stale (is removed, with the one-step paths off). */
function dropOldest(): void {
  if (!fastPath) {
    const e = entryAt(headSeq);
    if (load<u8>(e, INDEXED) != 0) removeAt(positionOf(headSeq, load<u32>(e, HASH)));
  }
  headSeq = (headSeq + 1) & SEQ_MASK;
  count--;
}

/** Drops what ended more than CARRY_TTL_NS before `nowNs`. */
function expire(nowNs: i64): void {
  while (count > 0 && load<i64>(entryAt(headSeq), END_NS) < nowNs - CARRY_TTL_NS) dropOldest();
}

function saveSide(to: usize, e: Endpoint, rare: EndpointRare): void {
  store<u32>(to, e.wsWindow, 0);
  store<i32>(to, e.wsWinScale, 4);
  store<u32>(to, e.wsLastSegmentFlags, 8);
  store<u32>(to, e.wsLastAck, 12);
  store<u32>(to, e.wsDupAcks, 16);
  store<u32>(to, e.wsNextSeq, 20);
  store<u32>(to, e.wsMaxSeqToBeAcked, 24);
  store<u32>(to, rare.wsBaseSeq, 28);
  store<i64>(to, e.wsLastAckTs, 32);
  store<i64>(to, e.wsNextSeqTs, 40);
  store<u8>(to, e.wsIsFirstAck ? 1 : 0, 48);
  store<u8>(to, e.wsBaseSeqSet ? 1 : 0, 49);
}

function loadSide(from: usize, e: Endpoint, rare: EndpointRare): void {
  e.wsWindow = load<u32>(from, 0);
  e.wsWinScale = <i8>load<i32>(from, 4);
  e.wsLastSegmentFlags = load<u32>(from, 8);
  e.wsLastAck = load<u32>(from, 12);
  e.wsDupAcks = load<u32>(from, 16);
  e.wsNextSeq = load<u32>(from, 20);
  e.wsMaxSeqToBeAcked = load<u32>(from, 24);
  rare.wsBaseSeq = load<u32>(from, 28);
  e.wsLastAckTs = load<i64>(from, 32);
  e.wsNextSeqTs = load<i64>(from, 40);
  e.wsIsFirstAck = load<u8>(from, 48) != 0;
  e.wsBaseSeqSet = load<u8>(from, 49) != 0;
}

/** A row of `f` ends at `nowNs`: keeps its Wireshark-analysis state for the key's next row. */
export function keepAnalysis(f: Flow, nowNs: i64): void {
  if (capacity == 0) return;
  expire(nowNs);
  if (count == capacity) dropOldest();
  const seq = (headSeq + count) & SEQ_MASK;
  const e = entryAt(seq);
  store<u64>(e, f.keyA0, K_A0); store<u64>(e, f.keyA1, K_A1); store<u64>(e, f.keyB0, K_B0); store<u64>(e, f.keyB1, K_B1);
  store<u16>(e, f.portA, K_PORT_A); store<u16>(e, f.portB, K_PORT_B); store<u8>(e, f.keyBits, K_BITS); store<u8>(e, 1, INDEXED);
  store<u32>(e, f.keyVlan, K_VLAN); store<u32>(e, f.hash, HASH); store<i64>(e, nowNs, END_NS);
  store<i64>(e, f.wsMruSynNs, MRU_SYN_NS); store<i64>(e, f.wsFirstRttNs, FIRST_RTT_NS);
  const sideA: u32 = f.origIsA ? 0 : 1;
  saveSide(e + SIDES, endpointOf(f, sideA), rareOf(f, sideA));
  saveSide(e + SIDES + SIDE_SIZE, endpointOf(f, sideA ^ 1), rareOf(f, sideA ^ 1));
  insert(f.hash, seq);
  count++;
}

/** A new row of `f` starts at `nowNs`: takes up the state its key's last row left, if kept. */
export function takeAnalysis(f: Flow, nowNs: i64): void {
  if (capacity == 0 || count == 0) return;
  expire(nowNs);
  let i = f.hash & indexMask;
  while (true) {
    const v = load<u64>(indexAt(i));
    if (v == 0) return;
    if (hashOf(v) == f.hash && isKept(v) && sameKey(entryAt(seqOf(v)), f)) {
      const e = entryAt(seqOf(v));
      f.wsMruSynNs = load<i64>(e, MRU_SYN_NS);
      f.wsFirstRttNs = load<i64>(e, FIRST_RTT_NS);
      const sideA: u32 = f.origIsA ? 0 : 1;
      loadSide(e + SIDES, endpointOf(f, sideA), rareOf(f, sideA));
      loadSide(e + SIDES + SIDE_SIZE, endpointOf(f, sideA ^ 1), rareOf(f, sideA ^ 1));
      store<u8>(e, 0, INDEXED);
      removeAt(i);
      return;
    }
    i = (i + 1) & indexMask;
  }
}
