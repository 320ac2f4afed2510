// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4). Nothing else compares raw sequence
// numbers: every comparison goes through here and is wrap-safe.

@inline export function seqDiff(a: u32, b: u32): i32 { return <i32>(a - b); }
@inline export function seqLt(a: u32, b: u32): bool { return <i32>(a - b) < 0; }
@inline export function seqLe(a: u32, b: u32): bool { return <i32>(a - b) <= 0; }
@inline export function seqGt(a: u32, b: u32): bool { return <i32>(a - b) > 0; }
@inline export function seqGe(a: u32, b: u32): bool { return <i32>(a - b) >= 0; }
