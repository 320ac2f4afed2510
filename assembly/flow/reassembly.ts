// Zeek's content-gap accounting (TCP_Reassembler, Reassem.cc): every TCP connection reassembles
// from its first packet (dpd_reassemble_first_packets), and bytes that an ACK covers but no
// captured segment delivered are a gap: missed_bytes and the scaled 'G'. Covered ranges are kept
// as up to MAX_BLOCKS merged [seq, upper) pairs per endpoint, in relative sequence space.

import { Flow, Endpoint, Zeek, MAX_BLOCKS, endpointOf, rareOf, blocksOf } from "./record";
import { scaledHistory } from "./history";
import { fullSeq, endpointSize } from "./seq";

const LETTER_G: u32 = 0x47;
/** tcp_max_initial_window and tcp_max_above_hole_without_any_acks. */
const MAX_INITIAL_WINDOW: u64 = 16384;
/** tcp_excessive_data_without_further_acks. */
const MAX_BUFFERED: u64 = 10 << 20;

@inline function blockSeq(b: usize, i: u32): u64 { return load<u64>(b + (<usize>i << 4)); }
@inline function blockUpper(b: usize, i: u32): u64 { return load<u64>(b + (<usize>i << 4) + 8); }

function relativeAck(e: Endpoint): u64 {
  return fullSeq(e.ackSeq, e.ackWraps) - <u64>e.startSeq;
}

function noDataAcked(e: Endpoint): bool {
  const ack = fullSeq(e.ackSeq, e.ackWraps);
  return ack == <u64>e.startSeq || ack == <u64>e.startSeq + 1;
}

/** Reassembly state starts at relative sequence 1 (the first byte after the SYN). */
export function initReassembly(e: Endpoint): void {
  e.lastReassemSeq = 1;
  e.trimSeq = 1;
}

/** TCP_Reassembler::DataSent: new payload [seq, seq+len) from side `s`, whose endpoint is `e`. */
@inline export function dataSent(f: Flow, s: u32, e: Endpoint, relSeq: u64, len: u32, capturedLen: u32): void {
  // A payload cut by the snap length is never stored: once ACKed it is a gap. (Tested here, where
  // it is inlined: every segment of a header-only capture stops here.)
  if (capturedLen < len) return;
  if (e.skipDeliveries) return;
  storeData(f, s, relSeq, len);
}

/** dataSent for a payload captured whole. */
function storeData(f: Flow, s: u32, relSeq: u64, len: u32): void {
  const e = endpointOf(f, s);
  const ack = relativeAck(e);
  let seq = relSeq;
  const upper = relSeq + <u64>len;
  if (seq < ack) {
    if (upper <= ack) return;
    seq = ack;
  }
  if (upper <= e.trimSeq) return;
  if (seq < e.trimSeq) seq = e.trimSeq;
  const b = blocksOf(f, s);
  const count = <u32>e.blockCount;
  if (count == 0) {
    putBlock(b, 0, seq, upper);
    e.blockCount = 1;
  } else if (blockUpper(b, count - 1) == seq) {
    // In order: the range touches the highest one only (ranges are kept apart, not touching), so
    // merging it in extends that one.
    store<u64>(b + (<usize>(count - 1) << 4) + 8, upper);
  } else {
    insertBlock(f, s, seq, upper);
  }
  deliverContiguous(f, s);
  if (e.blockCount > 0) {
    const top = blockUpper(b, e.blockCount - 1);
    if (noDataAcked(e) && top > e.lastReassemSeq && top - e.lastReassemSeq > MAX_INITIAL_WINDOW) skipAll(e);
    else if (bufferedBytes(e, b) > MAX_BUFFERED) skipAll(e);
  }
}

function skipAll(e: Endpoint): void {
  e.blockCount = 0;
  e.skipDeliveries = true;
}

function bufferedBytes(e: Endpoint, b: usize): u64 {
  let total: u64 = 0;
  for (let i: u32 = 0; i < e.blockCount; i++) total += blockUpper(b, i) - blockSeq(b, i);
  return total;
}

/** Adds [seq, upper) to the sorted, merged ranges (a range that finds no room is dropped). */
function insertBlock(f: Flow, s: u32, seq: u64, upper: u64): void {
  const e = endpointOf(f, s);
  const b = blocksOf(f, s);
  let lo = seq, hi = upper;
  // Merge every range that overlaps or touches [lo, hi), keep the others in order.
  let n: u32 = 0;
  let inserted = false;
  const count = <u32>e.blockCount;
  const tmp = SCRATCH;
  for (let i: u32 = 0; i < count; i++) {
    const bs = blockSeq(b, i), bu = blockUpper(b, i);
    if (bu < lo) { putBlock(tmp, n++, bs, bu); continue; }
    if (bs > hi) {
      if (!inserted) { putBlock(tmp, n++, lo, hi); inserted = true; }
      putBlock(tmp, n++, bs, bu);
      continue;
    }
    if (bs < lo) lo = bs;
    if (bu > hi) hi = bu;
  }
  if (!inserted) putBlock(tmp, n++, lo, hi);
  if (n > MAX_BLOCKS) return;
  memory.copy(b, tmp, <usize>n << 4);
  e.blockCount = <u8>n;
}

const SCRATCH: usize = memory.data(16 * 8, 8);

@inline function putBlock(b: usize, i: u32, seq: u64, upper: u64): void {
  store<u64>(b + (<usize>i << 4), seq);
  store<u64>(b + (<usize>i << 4) + 8, upper);
}

/** BlockInserted: delivery advances over the ranges that start at or below it. */
function deliverContiguous(f: Flow, s: u32): void {
  const e = endpointOf(f, s);
  const b = blocksOf(f, s);
  for (let i: u32 = 0; i < e.blockCount; i++) {
    if (blockSeq(b, i) <= e.lastReassemSeq && blockUpper(b, i) > e.lastReassemSeq) e.lastReassemSeq = blockUpper(b, i);
  }
  if (e.lastReassemSeq > e.trimSeq && noDataAcked(e) && endpointSize(f, s) > MAX_INITIAL_WINDOW) trimToSeq(f, s, e.lastReassemSeq);
}

/**
 * TCP_Reassembler::AckReceived on the side `s` (endpoint `e`, the other one `other`) whose data the
 * ACK covers. Returns whether it trimmed (Zeek's CheckEOF follows then: the caller's, in zeek.ts).
 * The hot helpers take the endpoints their caller has at hand: computed again, each costs a
 * multiply per use.
 */
@inline export function ackReceived(f: Flow, s: u32, e: Endpoint, other: Endpoint, relAck: u64): bool {
  let seq = relAck;
  // The FIN's sequence number is never data.
  if (e.finSeen) {
    const finSeq = rareOf(f, s).finSeq;
    if (seq >= finSeq) seq = finSeq - 1;
  }
  if (seq <= e.trimSeq) return false;
  if (e.blockCount == 0) {
    if (seq >= e.lastReassemSeq) {
      // trimToSeq with nothing buffered and nothing delivered past `seq` (every ACK of a
      // header-only capture): the gap up to it, and no block to drop or deliver.
      if (seq > e.lastReassemSeq) undelivered(f, s, e, other, seq);
      e.trimSeq = seq;
      return true;
    }
  }
  trimToSeq(f, s, seq);
  return true;
}

/** DataBlockList::Trim: whatever is below `seq` is done with; a hole below it is a gap. */
function trimToSeq(f: Flow, s: u32, seq: u64): void {
  const e = endpointOf(f, s);
  if (seq > e.lastReassemSeq) undelivered(f, s, e, endpointOf(f, s ^ 1), seq);
  const b = blocksOf(f, s);
  let keep: u32 = 0;
  for (let i: u32 = 0; i < e.blockCount; i++) {
    if (blockUpper(b, i) <= seq) continue;
    putBlock(b, keep++, blockSeq(b, i), blockUpper(b, i));
  }
  e.blockCount = <u8>keep;
  e.trimSeq = seq;
  deliverContiguous(f, s);
}

/**
 * TCP_Reassembler::Undelivered: each uncovered run below `upTo` is one gap. Inlined where every
 * header-only ACK reaches it, with the walk over buffered blocks kept out of line.
 */
@inline function undelivered(f: Flow, s: u32, e: Endpoint, other: Endpoint, upTo: u64): void {
  if (upTo <= 2) { if (f.isPartial) return; }
  if (!e.skipDeliveries) {
    if (e.blockCount > 0) gapsBetweenBlocks(f, s, upTo);
    if (upTo > e.lastReassemSeq) gap(f, s, e, other, upTo - e.lastReassemSeq);
  }
  if (upTo > e.lastReassemSeq) e.lastReassemSeq = upTo;
}

/** undelivered's gaps before and between the buffered blocks below `upTo`. */
function gapsBetweenBlocks(f: Flow, s: u32, upTo: u64): void {
  const e = endpointOf(f, s);
  const b = blocksOf(f, s);
  for (let i: u32 = 0; i < e.blockCount; i++) {
    const bs = blockSeq(b, i);
    if (bs < e.lastReassemSeq) continue;
    if (bs >= upTo) break;
    gap(f, s, e, endpointOf(f, s ^ 1), bs - e.lastReassemSeq);
    e.lastReassemSeq = blockUpper(b, i);
  }
}

@inline function clean(e: Endpoint): bool {
  if (e.state == Zeek.Established) return true;
  return e.state == Zeek.Closed && e.prevState == Zeek.Established;
}

/** TCP_Reassembler::Gap on side `s` (endpoint `e`): counted only while both sides are established or closed cleanly. */
function gap(f: Flow, s: u32, e: Endpoint, other: Endpoint, len: u64): void {
  if (!clean(e)) return;
  if (!clean(other)) return;
  e.gapCount++;
  e.gapThresh = scaledHistory(f, s == 0, LETTER_G, e.gapCount, e.gapThresh);
  f.missedBytes += len;
}

/** TCP_Reassembler::DataPending: is data missing before this side's FIN/RST, or unacked by the peer? */
export function dataPending(f: Flow, s: u32): bool {
  const e = endpointOf(f, s);
  if (e.skipDeliveries) return false;
  const delivered = <u64>e.startSeq + e.lastReassemSeq;
  const last = fullSeq(e.lastSeq, e.seqWraps);
  if (last < delivered) return false;
  if (delivered != last - 1 && delivered != last) return true;
  if (e.state != Zeek.Reset && endpointOf(f, s ^ 1).blockCount > 0) return true;
  return false;
}
