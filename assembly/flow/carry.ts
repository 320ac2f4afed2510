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
// Kept states sit in a ring in order of their end (the oldest at `head`), found by key through an
// open-addressing index of ring positions (linear probing, backward-shift deletion), as the flow
// table's. An index entry holds the key's hash beside the ring position, so that a probe compares
// hashes without reading ring entries, which lie anywhere in the ring (a new flow's key is most
// often not kept, and with many short connections the ring is full and drops one per row).

import { Flow, Endpoint, EndpointRare, endpointOf, rareOf } from "./record";

/** An hour of network time. */
const CARRY_TTL_NS: i64 = 3_600_000_000_000;
const MIN_CAPACITY: u32 = 1024;

// A kept state: the key, when its row ended, the flow's and both sides' (A, B: the key's order) state.
const K_A0: usize = 0, K_A1: usize = 8, K_B0: usize = 16, K_B1: usize = 24;
const K_PORT_A: usize = 32, K_PORT_B: usize = 34, K_BITS: usize = 36, LIVE: usize = 38;
const K_VLAN: usize = 40, HASH: usize = 44, END_NS: usize = 48;
const MRU_SYN_NS: usize = 56, FIRST_RTT_NS: usize = 64;
const SIDES: usize = 72;
const SIDE_SIZE: usize = 52;
const ENTRY_SIZE: usize = 176;
/** An index entry: the hash (high half) and the ring position + 1 (low half; 0: empty). */
const INDEX_ENTRY: usize = 8;

let ring: usize = 0;
let index: usize = 0;
let capacity: u32 = 0;
let indexMask: u32 = 0;
let head: u32 = 0;
let count: u32 = 0;

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
  head = 0;
  count = 0;
}

@inline function entryAt(slot: u32): usize { return ring + <usize>slot * ENTRY_SIZE; }
@inline function indexAt(i: u32): usize { return index + (<usize>i << 3); }
@inline function indexEntry(hash: u32, slot: u32): u64 { return (<u64>hash << 32) | <u64>(slot + 1); }

function sameKey(e: usize, f: Flow): bool {
  return load<u64>(e, K_A0) == f.keyA0 && load<u64>(e, K_A1) == f.keyA1 && load<u64>(e, K_B0) == f.keyB0 &&
    load<u64>(e, K_B1) == f.keyB1 && load<u16>(e, K_PORT_A) == f.portA && load<u16>(e, K_PORT_B) == f.portB &&
    load<u8>(e, K_BITS) == f.keyBits && load<u32>(e, K_VLAN) == f.keyVlan;
}

/** The index position holding ring slot `slot`. */
function positionOf(slot: u32, hash: u32): u32 {
  const want = indexEntry(hash, slot);
  let i = hash & indexMask;
  while (load<u64>(indexAt(i)) != want) i = (i + 1) & indexMask;
  return i;
}

function unindex(slot: u32): void {
  const e = entryAt(slot);
  let hole = positionOf(slot, load<u32>(e, HASH));
  let next = (hole + 1) & indexMask;
  while (true) {
    const v = load<u64>(indexAt(next));
    if (v == 0) break;
    const home = <u32>(v >> 32) & indexMask;
    // The entry may move into the hole when its home is not cyclically within (hole, next].
    if (((next - home) & indexMask) >= ((next - hole) & indexMask)) {
      store<u64>(indexAt(hole), v);
      hole = next;
    }
    next = (next + 1) & indexMask;
  }
  store<u64>(indexAt(hole), 0);
  store<u16>(e, 0, LIVE);
}

/** Drops the oldest kept state. */
function dropOldest(): void {
  if (load<u16>(entryAt(head), LIVE) != 0) unindex(head);
  head = (head + 1) & (capacity - 1);
  count--;
}

/** Drops what ended more than CARRY_TTL_NS before `nowNs`. */
function expire(nowNs: i64): void {
  while (count > 0 && load<i64>(entryAt(head), END_NS) < nowNs - CARRY_TTL_NS) dropOldest();
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
  const slot = (head + count) & (capacity - 1);
  const e = entryAt(slot);
  store<u64>(e, f.keyA0, K_A0); store<u64>(e, f.keyA1, K_A1); store<u64>(e, f.keyB0, K_B0); store<u64>(e, f.keyB1, K_B1);
  store<u16>(e, f.portA, K_PORT_A); store<u16>(e, f.portB, K_PORT_B); store<u8>(e, f.keyBits, K_BITS); store<u16>(e, 1, LIVE);
  store<u32>(e, f.keyVlan, K_VLAN); store<u32>(e, f.hash, HASH); store<i64>(e, nowNs, END_NS);
  store<i64>(e, f.wsMruSynNs, MRU_SYN_NS); store<i64>(e, f.wsFirstRttNs, FIRST_RTT_NS);
  const sideA: u32 = f.origIsA ? 0 : 1;
  saveSide(e + SIDES, endpointOf(f, sideA), rareOf(f, sideA));
  saveSide(e + SIDES + SIDE_SIZE, endpointOf(f, sideA ^ 1), rareOf(f, sideA ^ 1));
  let i = f.hash & indexMask;
  while (load<u64>(indexAt(i)) != 0) i = (i + 1) & indexMask;
  store<u64>(indexAt(i), indexEntry(f.hash, slot));
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
    const e = entryAt(<u32>v - 1);
    if (<u32>(v >> 32) == f.hash && sameKey(e, f)) {
      f.wsMruSynNs = load<i64>(e, MRU_SYN_NS);
      f.wsFirstRttNs = load<i64>(e, FIRST_RTT_NS);
      const sideA: u32 = f.origIsA ? 0 : 1;
      loadSide(e + SIDES, endpointOf(f, sideA), rareOf(f, sideA));
      loadSide(e + SIDES + SIDE_SIZE, endpointOf(f, sideA ^ 1), rareOf(f, sideA ^ 1));
      unindex(<u32>v - 1);
      return;
    }
    i = (i + 1) & indexMask;
  }
}
