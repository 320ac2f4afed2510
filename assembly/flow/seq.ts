// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). Nothing else compares raw sequence
// numbers: every comparison goes through here and is wrap-safe. Also what an endpoint's sequence
// numbers say of its size (Zeek's TCP_Endpoint::Size).

import { Flow, Zeek, endpointOf } from "./record";

@inline export function seqDiff(a: u32, b: u32): i32 { return <i32>(a - b); }
@inline export function seqLt(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
@inline export function seqLe(a: u32, b: u32): bool { return <i32>(a - b) <= 0; }
@inline export function seqGt(a: u32, b: u32): bool { return <i32>(a - b) > 0; }
@inline export function seqGe(a: u32, b: u32): bool { return <i32>(a - b) >= 0; }

/** A sequence number with its wraps counted: a position in an endpoint's 64-bit sequence space. */
@inline export function fullSeq(seq: u32, wraps: u32): u64 { return (<u64>wraps << 32) + <u64>seq; }

/** TCP_Endpoint::Size: payload bytes from sequence numbers (orig_bytes / resp_bytes). */
export function endpointSize(f: Flow, s: u32): u64 {
  const e = endpointOf(f, s), peer = endpointOf(f, s ^ 1);
  const ack64 = fullSeq(e.ackSeq, e.ackWraps);
  const start = <u64>e.startSeq;
  const noDataAcked = ack64 == start || ack64 == start + 1;
  if (e.prevState == Zeek.SynSent && e.state == Zeek.Reset && peer.state == Zeek.Inactive && !noDataAcked) return 0;
  const last64 = fullSeq(e.lastSeq, e.seqWraps);
  let size = (last64 > ack64 ? last64 : ack64) - start;
  if (size != 0) size--;
  if (e.finSeen && size != 0) size--;
  return size;
}
