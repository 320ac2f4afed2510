// The flow table: a flat arena of fixed-size flow records and an open-addressing index (linear
// probing, backward-shift deletion) keyed canonically, so both directions of a connection find the
// same slot with one symmetric hash. Nothing here allocates per packet. The arena holds `maxFlows`
// records and is reserved once, straight from `memory.grow` beside the allocator's heap: untouched
// pages cost no resident memory, so a small capture stays small, and no growth by copying leaves
// dead arenas behind. The index grows by doubling.

import { FLOW_SIZE, RECORD_SKEW, Flow } from "./record";
import { carryBytes, resetCarry } from "./carry";

export const NO_FLOW: u32 = 0xffffffff;
const KEY_IPV6: u32 = 1;
const INITIAL_INDEX: u32 = 2048;

let arena: usize = 0;
let arenaCap: u32 = 0;
/**
 * Three words per record slot kept outside the records: the slot's generation (bumped when its
 * flow is removed), and the deadlines of its flow's queued timer entry and of the earlier entry a
 * re-arm left (timers.ts). A timer entry that is no longer its flow's is told by these alone: its
 * record, cold by the time the entry comes up, is not read.
 */
let slotTimers: usize = 0;
let slotEarly: usize = 0;
let slotGens: usize = 0;
/** Bytes per record slot of slotTimers, slotEarly and slotGens. */
export const SLOT_BYTES: usize = 20;
let arenaUsed: u32 = 0;
let freeHead: u32 = NO_FLOW;
export let liveFlows: u32 = 0;
/**
 * The packets a flow stays at the recent end of its activity list before it moves again
 * (tracker.ts touch): LRU_SLACK, or twice the live flows if more. Kept with liveFlows rather than
 * computed per packet.
 */
export let lruSlack: i64 = 0;
const LRU_SLACK: i64 = 1024;

@inline function setLiveFlows(n: u32): void {
  liveFlows = n;
  lruSlack = <i64>n * 2 > LRU_SLACK ? <i64>n * 2 : LRU_SLACK;
}
/** The arena never grows past this many records (the live-flow bound). */
export let maxFlows: u32 = u32.MAX_VALUE;

export function setMaxFlows(n: u32): void {
  maxFlows = n < 1 ? 1 : n;
}

let index: usize = 0;
let indexMask: u32 = 0;

// The key of the packet being looked up, in canonical order (A sorts below B).
let keyA0: u64 = 0;
let keyA1: u64 = 0;
let keyB0: u64 = 0;
let keyB1: u64 = 0;
/** The key's ports and VLAN part as the record holds them (portA, portB, keyVlan): one word. */
let keyTail: u64 = 0;
let keyBits: u32 = 0;
/** The looked-up packet's outer and inner VLAN ids (-1: untagged), which a flow it creates keeps. */
let packetVlan: i32 = -1;
let packetInnerVlan: i32 = -1;
/**
 * Zeek's VLAN-aware key (Flag.VlanKey; conn_key/vlan_fivetuple): both tags are part of the key, a
 * tag with id 0 counting as none, as there. Otherwise the key is addresses and ports, as Zeek's
 * default and Wireshark's tcp.stream. All ones when that key is on, else 0: a key's VLAN part is
 * masked with it, not chosen by a test.
 */
let vlanKeyMask: u32 = 0;

export function setVlanKey(on: bool): void {
  vlanKeyMask = on ? u32.MAX_VALUE : 0;
}
/** The current key's symmetric hash (the parallel mapper partitions by it). */
export let keyHash: u32 = 0;
/** Whether the looked-up packet travels from side A to side B. */
export let packetFromA: bool = false;

@inline export function flowAt(idx: u32): Flow {
  return changetype<Flow>(arena + <usize>idx * FLOW_SIZE);
}

/** The generation of record slot `idx`: a flow in it is told from the slot's earlier flows by it. */
@inline export function slotGen(idx: u32): u32 {
  return load<u32>(slotGens + (<usize>idx << 2));
}

/** The deadline of the timer entry queued for the flow in slot `idx` (timers.ts). */
@inline export function slotTimer(idx: u32): i64 {
  return load<i64>(slotTimers + (<usize>idx << 3));
}

@inline export function setSlotTimer(idx: u32, deadlineNs: i64): void {
  store<i64>(slotTimers + (<usize>idx << 3), deadlineNs);
}

/** The deadline of the earlier entry a re-arm left for the flow in slot `idx` (timers.ts). */
@inline export function slotEarlyTimer(idx: u32): i64 {
  return load<i64>(slotEarly + (<usize>idx << 3));
}

@inline export function setSlotEarlyTimer(idx: u32, deadlineNs: i64): void {
  store<i64>(slotEarly + (<usize>idx << 3), deadlineNs);
}

/**
 * Empties the table, reserving an arena of `maxFlows` records if the present one is smaller.
 * Returns false when memory cannot grow that far. The allocator must already be initialised (it
 * claims all memory present when it starts), which `initOutput` has done.
 */
export function resetTable(): bool {
  if (arenaCap < maxFlows) {
    // The records, then the Wireshark-analysis states kept for a key's next row (carry.ts), then
    // the slots' timers and generations.
    const pages = <i32>((<u64>RECORD_SKEW + <u64>maxFlows * FLOW_SIZE + <u64>carryBytes(maxFlows) + <u64>maxFlows * SLOT_BYTES + 0xffff) >> 16);
    const first = memory.grow(pages);
    if (first < 0) return false;
    arena = (<usize>first << 16) + RECORD_SKEW;
    arenaCap = maxFlows;
    slotTimers = arena + <usize>arenaCap * FLOW_SIZE + carryBytes(arenaCap);
    slotEarly = slotTimers + <usize>arenaCap * 8;
    slotGens = slotEarly + <usize>arenaCap * 8;
  }
  resetCarry(arena + <usize>arenaCap * FLOW_SIZE, arenaCap);
  if (index == 0) {
    indexMask = INITIAL_INDEX - 1;
    index = heap.alloc(<usize>INITIAL_INDEX * 8);
  }
  memory.fill(index, 0, <usize>(indexMask + 1) * 8);
  arenaUsed = 0;
  freeHead = NO_FLOW;
  setLiveFlows(0);
  return true;
}

/** Sets the lookup key from a packet's addresses (`addrLen` 4 or 16 bytes), ports and VLAN tags (-1: none). */
export function setKey(src: usize, sport: u32, dst: usize, dport: u32, addrLen: u32, vlan: i32, innerVlan: i32): void {
  keyHash = orderKey(src, sport, dst, dport, addrLen, vlan, innerVlan);
}

/** setKey for a key whose hash is known (a parallel reducer's records carry it). */
export function setKeyHashed(src: usize, sport: u32, dst: usize, dport: u32, addrLen: u32, vlan: i32, innerVlan: i32, hash: u32): void {
  orderKey(src, sport, dst, dport, addrLen, vlan, innerVlan);
  keyHash = hash;
}

/** The VLAN part of a connection key: outer | inner << 16 (0: none) with connKey "vlan", else 0. */
@inline export function vlanKeyOf(vlan: i32, innerVlan: i32): u32 {
  return ((vlan > 0 ? <u32>vlan : 0) | ((innerVlan > 0 ? <u32>innerVlan : 0) << 16)) & vlanKeyMask;
}

/** The looked-up packet's source and destination ports (the key's, in the packet's direction). */
export function packetSrcPort(): u32 {
  return <u32>(packetFromA ? keyTail : keyTail >> 16) & 0xffff;
}

export function packetDstPort(): u32 {
  return <u32>(packetFromA ? keyTail >> 16 : keyTail) & 0xffff;
}

/**
 * Whether the current packet's destination is IPAddr::IsBroadcast: 255.255.255.255, also as an
 * IPv4-mapped IPv6 address (Zeek stores every address as IPv6 and calls those IPv4).
 */
export function keyDestinationIsBroadcast(): bool {
  const d0 = packetFromA ? keyB0 : keyA0, d1 = packetFromA ? keyB1 : keyA1;
  if (keyBits == KEY_IPV6) return d0 == 0 && d1 == 0xffffffff_ffff0000;
  return d0 == 0xffffffff;
}

/**
 * Sets the key in canonical order (the lower address first), which makes it the same both ways.
 * Returns its hash (from the values at hand: a global's store is not forwarded to its next load).
 */
@inline function orderKey(src: usize, sport: u32, dst: usize, dport: u32, addrLen: u32, vlan: i32, innerVlan: i32): u32 {
  let a0: u64, a1: u64, b0: u64, b1: u64, portA: u32, portB: u32;
  let srcFirst: bool;
  if (addrLen == 4) {
    // Address, then port, as one number each: one compare orders them (a chain of || and && makes
    // and tests a boolean per term), and the lower number is side A's address and port.
    const x = <u64>load<u32>(src) << 16 | <u64>sport, y = <u64>load<u32>(dst) << 16 | <u64>dport;
    srcFirst = x <= y;
    const a = srcFirst ? x : y, b = srcFirst ? y : x;
    a0 = a >> 16; a1 = 0; portA = <u32>a & 0xffff;
    b0 = b >> 16; b1 = 0; portB = <u32>b & 0xffff;
  } else {
    const s0 = load<u64>(src), s1 = load<u64>(src, 8);
    const d0 = load<u64>(dst), d1 = load<u64>(dst, 8);
    srcFirst = s0 < d0 || (s0 == d0 && (s1 < d1 || (s1 == d1 && sport <= dport)));
    a0 = srcFirst ? s0 : d0; a1 = srcFirst ? s1 : d1;
    b0 = srcFirst ? d0 : s0; b1 = srcFirst ? d1 : s1;
    portA = srcFirst ? sport : dport; portB = srcFirst ? dport : sport;
  }
  packetFromA = srcFirst;
  const kv = vlanKeyOf(vlan, innerVlan), bits = addrLen == 16 ? KEY_IPV6 : 0;
  keyA0 = a0; keyA1 = a1; keyB0 = b0; keyB1 = b1;
  packetVlan = vlan;
  packetInnerVlan = innerVlan;
  keyTail = <u64>portA | <u64>portB << 16 | <u64>kv << 32;
  keyBits = bits;
  return hashKey(a0, a1, b0, b1, portA, portB, kv, bits);
}

@inline function hashKey(a0: u64, a1: u64, b0: u64, b1: u64, portA: u32, portB: u32, vlan: u32, bits: u32): u32 {
  // Each word times its own odd constant (independent multiplies, no chain), folded once and
  // multiplied once more: the high half of the product depends on every bit of the key. The key is
  // canonical already, so the hash needs no symmetry. Partitions take its high bits, the index its low.
  // An IPv4 key's second words are 0, whose products add nothing.
  let x = a0 * 0x9e3779b97f4a7c15 ^ b0 * 0x165667b19e3779f9 ^
    ((<u64>portA << 48) | (<u64>portB << 32) | (<u64>vlan << 1) | <u64>bits) * 0xff51afd7ed558ccd;
  if (bits == KEY_IPV6) x ^= a1 * 0xc2b2ae3d27d4eb4f ^ b1 * 0xd6e8feb86659fd93;
  const h = (x ^ (x >> 29)) * 0xc4ceb9fe1a85ec53;
  return <u32>(h >> 32);
}

/** Where a record's portA, portB and keyVlan lie, read and written as one word (record.ts keeps them so). */
const KEY_TAIL: usize = offsetof<Flow>("portA");
// A layout that moved them apart stops the build.
if (offsetof<Flow>("portB") != KEY_TAIL + 2 || offsetof<Flow>("keyVlan") != KEY_TAIL + 4) ERROR("Flow: portA, portB and keyVlan must be one word");

@inline function sameKey(f: Flow): bool {
  // One test of the words' differences ORed together: a chain of && compiles to a boolean made and
  // tested per field. The fields lie in the record's first two lines of its hot stretch.
  return ((f.keyA0 ^ keyA0) | (f.keyA1 ^ keyA1) | (f.keyB0 ^ keyB0) | (f.keyB1 ^ keyB1) |
    (load<u64>(changetype<usize>(f) + KEY_TAIL) ^ keyTail) | <u64>(<u32>f.keyBits ^ keyBits)) == 0;
}

/** The flow with the current key, or NO_FLOW. */
export function findFlow(): u32 {
  let slot = keyHash & indexMask;
  while (true) {
    const e = load<u64>(index + (<usize>slot << 3));
    if (e == 0) return NO_FLOW;
    if (<u32>(e >> 32) == keyHash) {
      const idx = <u32>e - 1;
      if (sameKey(flowAt(idx))) return idx;
    }
    slot = (slot + 1) & indexMask;
  }
}

/** Creates a flow with the current key (not yet in the table), zeroed but for its key. */
export function insertFlow(): u32 {
  if ((liveFlows + 1) * 2 > indexMask + 1) growIndex();
  let idx: u32;
  if (freeHead != NO_FLOW) {
    idx = freeHead;
    freeHead = flowAt(idx).older;
  } else {
    // SAFE: the tracker evicts before liveFlows reaches maxFlows = arenaCap.
    idx = arenaUsed++;
  }
  const f = flowAt(idx);
  memory.fill(changetype<usize>(f), 0, FLOW_SIZE);
  f.keyA0 = keyA0; f.keyA1 = keyA1; f.keyB0 = keyB0; f.keyB1 = keyB1;
  store<u64>(changetype<usize>(f) + KEY_TAIL, keyTail); f.keyBits = <u8>keyBits;
  f.vlan = <i16>packetVlan;
  f.innerVlan = <i16>packetInnerVlan;
  f.hash = keyHash;
  indexInsert(keyHash, idx);
  setLiveFlows(liveFlows + 1);
  return idx;
}

function indexInsert(hash: u32, idx: u32): void {
  let slot = hash & indexMask;
  while (load<u64>(index + (<usize>slot << 3)) != 0) slot = (slot + 1) & indexMask;
  store<u64>(index + (<usize>slot << 3), (<u64>hash << 32) | <u64>(idx + 1));
}

/** Removes a flow from the index and returns its record to the free list. */
export function removeFlow(idx: u32): void {
  const f = flowAt(idx);
  let slot = f.hash & indexMask;
  while (<u32>load<u64>(index + (<usize>slot << 3)) != idx + 1) slot = (slot + 1) & indexMask;
  // Backward-shift deletion: pull later entries of the probe run into the hole.
  let hole = slot;
  let next = (slot + 1) & indexMask;
  while (true) {
    const e = load<u64>(index + (<usize>next << 3));
    if (e == 0) break;
    const home = <u32>(e >> 32) & indexMask;
    // The entry may move to the hole when its home is not cyclically within (hole, next].
    if (((next - home) & indexMask) >= ((next - hole) & indexMask)) {
      store<u64>(index + (<usize>hole << 3), e);
      hole = next;
    }
    next = (next + 1) & indexMask;
  }
  store<u64>(index + (<usize>hole << 3), 0);
  store<u32>(slotGens + (<usize>idx << 2), slotGen(idx) + 1);
  f.older = freeHead;
  freeHead = idx;
  setLiveFlows(liveFlows - 1);
}

function growIndex(): void {
  const oldIndex = index;
  const oldSize = indexMask + 1;
  const size = oldSize * 2;
  index = heap.alloc(<usize>size * 8);
  memory.fill(index, 0, <usize>size * 8);
  indexMask = size - 1;
  for (let i: u32 = 0; i < oldSize; i++) {
    const e = load<u64>(oldIndex + (<usize>i << 3));
    if (e != 0) indexInsert(<u32>(e >> 32), <u32>e - 1);
  }
  heap.free(oldIndex);
}
