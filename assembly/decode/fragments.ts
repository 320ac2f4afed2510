// IPv4 fragment reassembly (RFC 791 §3.2; RFC 815's hole list kept as merged ranges), as Zeek
// does it: whole fragments wait for their datagram, which is then processed once, with its
// reassembled length, at the time of the fragment that completed it.

import { be16 } from "../capture/bytes";

/** Datagrams reassembled at once; the oldest is dropped when a new one needs room. */
const SLOTS: u32 = 64;
/** Fragments of a datagram older than this are dropped (Zeek's frag_timeout is unbounded; we bound it). */
const TIMEOUT_NS: i64 = 60_000_000_000;
const MAX_HEADER_LEN: u32 = 60;
const MAX_DATAGRAM: u32 = 65535;
const MAX_RANGES: u32 = 16;
const BUFFER_SIZE: usize = <usize>(MAX_HEADER_LEN + MAX_DATAGRAM);

// One slot: key, state, ranges of payload received, and the buffer (header then payload).
const S_SRC: usize = 0;        // u32
const S_DST: usize = 4;        // u32
const S_ID: usize = 8;         // u16
const S_PROTO: usize = 10;     // u8
const S_USED: usize = 11;      // u8
const S_HEADER_LEN: usize = 12; // u32, 0 until the first fragment arrived
const S_TOTAL: usize = 16;     // u32 payload length, 0 until the last fragment arrived
const S_RANGES: usize = 20;    // u32 count
const S_FIRST_NS: usize = 24;  // i64
const S_BUFFER: usize = 32;    // usize
const S_RANGE_LIST: usize = 40; // MAX_RANGES × (u32 start, u32 end)
const SLOT_SIZE: usize = S_RANGE_LIST + <usize>MAX_RANGES * 8;

const slots: usize = memory.data(<i32>(SLOT_SIZE * SLOTS), 8);

/** The reassembled datagram, valid after addFragment returned non-zero until the next call. */
export let datagramLen: u32 = 0;
let completedSlot: usize = 0;

/**
 * Adds a whole IPv4 fragment (header at `ip`, `headerLen` bytes, then `dataLen` bytes of data at
 * fragment offset `offset`). Returns the address of the complete datagram when this fragment
 * completes it, else 0.
 */
export function addFragment(ip: usize, headerLen: u32, dataLen: u32, offset: u32, more: bool, tsNs: i64): usize {
  release();
  if (offset + dataLen > MAX_DATAGRAM) return 0;
  const slot = slotFor(ip, tsNs);
  const buffer = load<usize>(slot + S_BUFFER);
  memory.copy(buffer + MAX_HEADER_LEN + offset, ip + headerLen, dataLen);
  if (offset == 0) {
    memory.copy(buffer + MAX_HEADER_LEN - headerLen, ip, headerLen);
    store<u32>(slot + S_HEADER_LEN, headerLen);
  }
  if (!more) store<u32>(slot + S_TOTAL, offset + dataLen);
  addRange(slot, offset, offset + dataLen);
  const total = load<u32>(slot + S_TOTAL);
  const header = load<u32>(slot + S_HEADER_LEN);
  const whole = load<u32>(slot + S_RANGES) == 1 && load<u32>(slot + S_RANGE_LIST) == 0 && load<u32>(slot + S_RANGE_LIST + 4) == total;
  if (total == 0 || header == 0 || !whole) return 0;
  // The datagram: the first fragment's header, total length rewritten, fragment fields cleared.
  const start = buffer + MAX_HEADER_LEN - header;
  store<u16>(start + 2, bswap<u16>(<u16>(header + total)));
  store<u16>(start + 6, 0);
  datagramLen = header + total;
  completedSlot = slot;
  return start;
}

/** Frees the slot of the datagram handed out by the last call. */
function release(): void {
  if (completedSlot != 0) store<u8>(completedSlot + S_USED, 0);
  completedSlot = 0;
}

function slotFor(ip: usize, tsNs: i64): usize {
  const src = load<u32>(ip + 12), dst = load<u32>(ip + 16), id = be16(ip + 4), proto = <u32>load<u8>(ip + 9);
  let free: usize = 0;
  let oldest: usize = 0;
  for (let i: u32 = 0; i < SLOTS; i++) {
    const s = slots + <usize>i * SLOT_SIZE;
    if (load<u8>(s + S_USED) != 0 && tsNs - load<i64>(s + S_FIRST_NS) > TIMEOUT_NS) store<u8>(s + S_USED, 0);
    if (load<u8>(s + S_USED) == 0) { if (free == 0) free = s; continue; }
    if (load<u32>(s + S_SRC) == src && load<u32>(s + S_DST) == dst && <u32>load<u16>(s + S_ID) == id && <u32>load<u8>(s + S_PROTO) == proto) return s;
    if (oldest == 0 || load<i64>(s + S_FIRST_NS) < load<i64>(oldest + S_FIRST_NS)) oldest = s;
  }
  const s = free != 0 ? free : oldest;
  if (load<usize>(s + S_BUFFER) == 0) store<usize>(s + S_BUFFER, heap.alloc(BUFFER_SIZE));
  store<u32>(s + S_SRC, src);
  store<u32>(s + S_DST, dst);
  store<u16>(s + S_ID, <u16>id);
  store<u8>(s + S_PROTO, <u8>proto);
  store<u8>(s + S_USED, 1);
  store<u32>(s + S_HEADER_LEN, 0);
  store<u32>(s + S_TOTAL, 0);
  store<u32>(s + S_RANGES, 0);
  store<i64>(s + S_FIRST_NS, tsNs);
  return s;
}

/** Merges [start, end) into the slot's sorted, disjoint ranges (dropped if there is no room). */
function addRange(slot: usize, start: u32, end: u32): void {
  const list = slot + S_RANGE_LIST;
  const count = load<u32>(slot + S_RANGES);
  let lo = start, hi = end;
  let n: u32 = 0;
  const tmp = RANGE_SCRATCH;
  let placed = false;
  for (let i: u32 = 0; i < count; i++) {
    const a = load<u32>(list + <usize>i * 8), b = load<u32>(list + <usize>i * 8 + 4);
    if (b < lo) { store<u32>(tmp + <usize>n * 8, a); store<u32>(tmp + <usize>n * 8 + 4, b); n++; continue; }
    if (a > hi) {
      if (!placed) { store<u32>(tmp + <usize>n * 8, lo); store<u32>(tmp + <usize>n * 8 + 4, hi); n++; placed = true; }
      store<u32>(tmp + <usize>n * 8, a); store<u32>(tmp + <usize>n * 8 + 4, b); n++;
      continue;
    }
    if (a < lo) lo = a;
    if (b > hi) hi = b;
  }
  if (!placed) { store<u32>(tmp + <usize>n * 8, lo); store<u32>(tmp + <usize>n * 8 + 4, hi); n++; }
  if (n > MAX_RANGES) return;
  memory.copy(list, tmp, <usize>n * 8);
  store<u32>(slot + S_RANGES, n);
}

const RANGE_SCRATCH: usize = memory.data(<i32>((MAX_RANGES + 1) * 8), 8);

export function resetFragments(): void {
  for (let i: u32 = 0; i < SLOTS; i++) store<u8>(slots + <usize>i * SLOT_SIZE + S_USED, 0);
  completedSlot = 0;
}
