// Zeek's UDP connections, as far as the tunnels they carry need them (UDPAnalyzer,
// session/Session.cc, TunnelEncapsulation.h). A tunnel carried by UDP (VXLAN, Geneve, GTP-U,
// Teredo, AYIYA) is identified in the encapsulation of its inner connections by the UDP
// connection's uid: when that connection times out (udp_inactivity_timeout, 1 min) and comes
// back, the inner connections see a tunnel change. This table keeps, per UDP 4-tuple that carried
// a tunnel, the instance (a number never reused) and its inactivity timer.
//
// The timer is Zeek's (Session::InactivityTimer): armed at last_time + 1 min, it fires at the
// first packet of the capture at or after that instant; if the connection saw a packet since, it
// re-arms at last_time + 1 min, else the connection ends. At a packet of clock N (the latest
// packet time), a connection with timer D and last time L has therefore ended iff D ≤ N and
// L + 1 min ≤ N; one still alive with D ≤ N has its timer at L + 1 min.

import { be16 } from "../capture/bytes";
import { transportChecksumOk } from "./checksum";
import { orderPair, pairA0, pairA1, pairB0, pairB1, pairPorts } from "./ip";
import { PORT_VXLAN, UDP_HEADER_LEN } from "./tunnel";
import { maxFlows } from "../flow/table";

const INACTIVITY_NS: i64 = 60_000_000_000;
/** At least this many UDP connections are remembered at once (and at least maxFlows). */
const MIN_REMEMBERED: u32 = 4096;
const IPPROTO_UDP: u32 = 17;
const VXLAN_HEADER_LEN: u32 = 8;
const VXLAN_FLAG_I: u32 = 0x08;
const ETH_HEADER_LEN: u32 = 14;
const INITIAL_SLOTS: u32 = 1024;

// One slot: canonical key (lower address and port first), timer state, instance.
const E_A0: usize = 0;       // u64 ×2: address A (IPv4 in the first 4 bytes)
const E_B0: usize = 16;      // u64 ×2: address B
const E_PORTS: usize = 32;   // u32: port A | port B << 16
const E_VLANS: usize = 36;   // u32: VLAN key (0 unless connKey "vlan")
const E_LAST: usize = 40;    // i64: last_time
const E_DEADLINE: usize = 48; // i64: inactivity timer
const E_INSTANCE: usize = 56; // u32: 0 = free slot
const E_BITS: usize = 60;    // u32: address length (4 or 16)
const SLOT_SIZE: usize = 64;

let slots: usize = 0;
let slotCount: u32 = 0;
let used: u32 = 0;
let nextInstance: u32 = 1;

/** Forgets every UDP connection (a new run). */
export function resetUdpSessions(): void {
  if (slots == 0) {
    slotCount = INITIAL_SLOTS;
    slots = heap.alloc(<usize>slotCount * SLOT_SIZE);
  }
  memory.fill(slots, 0, <usize>slotCount * SLOT_SIZE);
  used = 0;
  nextInstance = 1;
}

let k0: u64 = 0, k1: u64 = 0, k2: u64 = 0, k3: u64 = 0;
let kPorts: u32 = 0, kVlans: u32 = 0, kBits: u32 = 0;

/**
 * The instance of the UDP connection of the datagram at `udp` (addresses at `src`, `dst`,
 * `addrLen` bytes each; `vlans` the VLAN key part, 0 without connKey "vlan"), after the packet of
 * time `tsNs` at clock `clockNs`: the same number as long as Zeek keeps one connection.
 * `touch` is false when the packet does not reach SetLastTime (a bad checksum).
 */
export function udpInstance(src: usize, dst: usize, addrLen: u32, udp: usize, vlans: u32, tsNs: i64, clockNs: i64, touch: bool): u32 {
  setSessionKey(src, dst, addrLen, be16(udp), be16(udp + 2), vlans);
  let slot = find();
  const s = slotAt(slot);
  let instance = load<u32>(s, E_INSTANCE);
  if (instance != 0) {
    const deadline = load<i64>(s, E_DEADLINE), last = load<i64>(s, E_LAST);
    if (deadline <= clockNs) {
      if (last + INACTIVITY_NS <= clockNs) instance = 0; // timed out: this packet starts a new one
      else store<i64>(s, last + INACTIVITY_NS, E_DEADLINE);
    }
  }
  if (instance == 0) {
    if (load<u32>(s, E_INSTANCE) == 0) {
      if ((used + 1) * 2 > slotCount) {
        grow(clockNs);
        slot = find();
      }
      used++;
    }
    instance = nextInstance++;
    const n = slotAt(slot);
    store<u64>(n, k0, E_A0); store<u64>(n, k1, E_A0 + 8);
    store<u64>(n, k2, E_B0); store<u64>(n, k3, E_B0 + 8);
    store<u32>(n, kPorts, E_PORTS);
    store<u32>(n, kVlans, E_VLANS);
    store<u32>(n, kBits, E_BITS);
    store<u32>(n, instance, E_INSTANCE);
    // Session(t): last_time = start_time = t; SetInactivityTimeout arms last_time + timeout.
    store<i64>(n, tsNs, E_LAST);
    store<i64>(n, tsNs + INACTIVITY_NS, E_DEADLINE);
    return instance;
  }
  if (touch) store<i64>(slotAt(slot), tsNs, E_LAST);
  return instance;
}

@inline function slotAt(i: u32): usize { return slots + <usize>i * SLOT_SIZE; }

function setSessionKey(src: usize, dst: usize, addrLen: u32, sport: u32, dport: u32, vlans: u32): void {
  orderPair(src, sport, dst, dport, addrLen);
  k0 = pairA0; k1 = pairA1; k2 = pairB0; k3 = pairB1;
  kPorts = pairPorts;
  kVlans = vlans;
  kBits = addrLen;
}

function hashSessionKey(): u32 {
  const x = k0 * 0x9e3779b97f4a7c15 ^ k1 * 0xc2b2ae3d27d4eb4f ^ k2 * 0x165667b19e3779f9 ^ k3 * 0xd6e8feb86659fd93 ^
    ((<u64>kPorts << 32) | (<u64>kVlans << 5) | <u64>kBits) * 0xff51afd7ed558ccd;
  return <u32>(((x ^ (x >> 29)) * 0xc4ceb9fe1a85ec53) >> 32);
}

/** The slot holding the key, or the free slot where it goes. */
function find(): u32 {
  const mask = slotCount - 1;
  let i = hashSessionKey() & mask;
  while (true) {
    const s = slotAt(i);
    if (load<u32>(s, E_INSTANCE) == 0) return i;
    if (load<u64>(s, E_A0) == k0 && load<u64>(s, E_A0 + 8) == k1 && load<u64>(s, E_B0) == k2 &&
      load<u64>(s, E_B0 + 8) == k3 && load<u32>(s, E_PORTS) == kPorts && load<u32>(s, E_VLANS) == kVlans &&
      load<u32>(s, E_BITS) == kBits) return i;
    i = (i + 1) & mask;
  }
}

/**
 * Rebuilds the table without the connections that have timed out by `clockNs` (a later packet
 * of theirs starts a new instance whether or not the slot is kept), doubling it if the live ones
 * still fill a quarter. The table holds the UDP tunnel connections of the last minute of packet
 * time, at most max(MIN_REMEMBERED, maxFlows) of them: past that, the least recently active are
 * forgotten (their next datagram starts a new connection, as eviction past maxFlows does for TCP).
 */
function grow(clockNs: i64): void {
  const oldSlots = slots, oldCount = slotCount;
  const remembered = maxFlows > MIN_REMEMBERED ? maxFlows : MIN_REMEMBERED;
  // Forgotten: silent longer than `idleNs` (dead at first; the window halves while too many are left).
  let idleNs = INACTIVITY_NS;
  let live = countLive(oldSlots, oldCount, clockNs, idleNs);
  while (live > remembered >> 1 && idleNs > 0) {
    idleNs >>= 1;
    live = countLive(oldSlots, oldCount, clockNs, idleNs);
  }
  let count = INITIAL_SLOTS;
  while (live * 4 >= count) count *= 2;
  slots = heap.alloc(<usize>count * SLOT_SIZE);
  slotCount = count;
  memory.fill(slots, 0, <usize>count * SLOT_SIZE);
  used = 0;
  const saved0 = k0, saved1 = k1, saved2 = k2, saved3 = k3, savedPorts = kPorts, savedVlans = kVlans, savedBits = kBits;
  for (let i: u32 = 0; i < oldCount; i++) {
    const o = oldSlots + <usize>i * SLOT_SIZE;
    if (!isKept(o, clockNs, idleNs)) continue;
    k0 = load<u64>(o, E_A0); k1 = load<u64>(o, E_A0 + 8); k2 = load<u64>(o, E_B0); k3 = load<u64>(o, E_B0 + 8);
    kPorts = load<u32>(o, E_PORTS); kVlans = load<u32>(o, E_VLANS); kBits = load<u32>(o, E_BITS);
    memory.copy(slotAt(find()), o, SLOT_SIZE);
    used++;
  }
  heap.free(oldSlots);
  k0 = saved0; k1 = saved1; k2 = saved2; k3 = saved3; kPorts = savedPorts; kVlans = savedVlans; kBits = savedBits;
}

/** Whether the slot holds a connection alive at `clockNs` that was active within `idleNs`. */
@inline function isKept(s: usize, clockNs: i64, idleNs: i64): bool {
  if (load<u32>(s, E_INSTANCE) == 0) return false;
  const last = load<i64>(s, E_LAST);
  if (load<i64>(s, E_DEADLINE) <= clockNs && last + INACTIVITY_NS <= clockNs) return false; // timed out
  return idleNs >= INACTIVITY_NS || last + idleNs > clockNs;
}

function countLive(base: usize, count: u32, clockNs: i64, idleNs: i64): u32 {
  let live: u32 = 0;
  for (let i: u32 = 0; i < count; i++) if (isKept(base + <usize>i * SLOT_SIZE, clockNs, idleNs)) live++;
  return live;
}

/**
 * UDPAnalyzer::DeliverPacket's checksum rule for the whole datagram at `udp` (`len` bytes, all
 * captured): no checksum (0) passes over IPv4, never over IPv6, except for what looks like VXLAN
 * to port 4789 (longer than its headers and an Ethernet header, the I flag set), which may send 0.
 */
export function udpChecksumOk(udp: usize, len: u32, ipVersion: u32, src: usize, dst: usize): bool {
  const checksum = be16(udp + 6);
  if (checksum == 0) {
    if (ipVersion == 4) return true;
    if (be16(udp + 2) == PORT_VXLAN && len > UDP_HEADER_LEN + VXLAN_HEADER_LEN + ETH_HEADER_LEN &&
      (<u32>load<u8>(udp + UDP_HEADER_LEN) & VXLAN_FLAG_I) != 0) return true;
  }
  return transportChecksumOk(IPPROTO_UDP, udp, len, ipVersion, src, dst);
}
