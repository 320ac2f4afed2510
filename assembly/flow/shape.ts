// Per-connection packet statistics (packetStats): per direction the IP packet sizes' count, mean,
// sample standard deviation, min and max, the same of the times between the direction's
// consecutive packets, and the sizes and directions of the connection's first packets: the flow
// features nfstream and CICFlowMeter users ask for. They live in an arena of their own beside the
// flow table, indexed like it, reserved and touched only when the run asks for them, so that the
// flow record and the default per-packet path stay as they are.
//
// A direction is a side of the key (A, B: as table.ts orders it), so that Zeek's role flips need
// no bookkeeping here: the row maps A and B to orig and resp as they stand at its end. Means and
// variances use Welford's update (exact enough for any count, no sum of squares to overflow).

import { Abi, ColBytes, ColI64, ColU32, Present } from "../../src/core/abi";
import { Flow } from "./record";
import { NULL_I64, putI64, putU32, rowI64, rowU32, bytesCell } from "../out/columns";

// One side: sizes (count, min, max, mean, m2), then inter-arrival times (last time, count, min, max, mean, m2).
const S_COUNT: usize = 0, S_MIN: usize = 4, S_MAX: usize = 8, S_MEAN: usize = 16, S_M2: usize = 24;
const T_LAST: usize = 32, T_COUNT: usize = 40, T_MIN: usize = 48, T_MAX: usize = 56, T_MEAN: usize = 64, T_M2: usize = 72;
const SIDE_SIZE: usize = 80;
// Then the first packets: how many, and per packet a u16 size and a u16 side (0 A, 1 B).
const FIRST_COUNT: usize = 2 * SIDE_SIZE;
const FIRST: usize = FIRST_COUNT + 4;
const FIRST_N: u32 = <u32>Abi.FirstPackets;
const ENTRY_SIZE: usize = (FIRST + <usize>FIRST_N * 4 + 63) & ~63;

export let packetStatsOn: bool = false;
let arena: usize = 0;
let arenaCap: u32 = 0;

/**
 * Turns the statistics on or off for a run of at most `maxFlows` live connections, reserving
 * their arena when on. Returns false when memory cannot grow that far.
 */
export function resetShape(on: bool, maxFlows: u32): bool {
  packetStatsOn = on;
  if (!on || arenaCap >= maxFlows) return true;
  const pages = <i32>((<u64>maxFlows * ENTRY_SIZE + 0xffff) >> 16);
  const first = memory.grow(pages);
  if (first < 0) return false;
  arena = <usize>first << 16;
  arenaCap = maxFlows;
  return true;
}

/** Bytes reserved per flow of maxFlows when the statistics are on. */
export function shapeBytes(): u32 {
  return <u32>ENTRY_SIZE;
}

@inline function entryOf(f: Flow): usize {
  return arena + <usize>f.index * ENTRY_SIZE;
}

/** A new connection in slot `f.index`: no packets yet. */
export function initShape(f: Flow): void {
  memory.fill(entryOf(f), 0, ENTRY_SIZE);
}

/** A packet of `ipLen` bytes at `tsNs` from key side `side` (0 A, 1 B), counted in the row. */
export function noteShape(f: Flow, side: u32, tsNs: i64, ipLen: u32): void {
  const e = entryOf(f);
  const s = e + <usize>side * SIDE_SIZE;
  const n = load<u32>(s, S_COUNT) + 1;
  store<u32>(s, n, S_COUNT);
  if (n == 1 || ipLen < load<u32>(s, S_MIN)) store<u32>(s, ipLen, S_MIN);
  if (ipLen > load<u32>(s, S_MAX)) store<u32>(s, ipLen, S_MAX);
  welford(s + S_MEAN, n, <f64>ipLen);
  if (n > 1) {
    // Capture order, not time order: a packet stamped before the one before it has a negative gap.
    const gap = tsNs - load<i64>(s, T_LAST);
    const k = load<u64>(s, T_COUNT) + 1;
    store<u64>(s, k, T_COUNT);
    if (k == 1 || gap < load<i64>(s, T_MIN)) store<i64>(s, gap, T_MIN);
    if (k == 1 || gap > load<i64>(s, T_MAX)) store<i64>(s, gap, T_MAX);
    welford(s + T_MEAN, <u32>k, <f64>gap);
  }
  store<i64>(s, tsNs, T_LAST);
  const firsts = load<u32>(e, FIRST_COUNT);
  if (firsts < FIRST_N) {
    store<u16>(e + FIRST + <usize>firsts * 4, <u16>(ipLen > 0xffff ? 0xffff : ipLen));
    store<u16>(e + FIRST + <usize>firsts * 4 + 2, <u16>side);
    store<u32>(e, firsts + 1, FIRST_COUNT);
  }
}

/** Welford's update of (mean, m2) at `at` with the n-th value `x`. */
@inline function welford(at: usize, n: u32, x: f64): void {
  const mean = load<f64>(at);
  const delta = x - mean;
  const next = mean + delta / <f64>n;
  store<f64>(at, next);
  store<f64>(at, load<f64>(at, 8) + delta * (x - next), 8);
}

/** Writes the statistics of `f` into the row being written; returns the Present bits they set. */
export function writeShape(f: Flow): u32 {
  const e = entryOf(f);
  const orig = e + (f.origIsA ? 0 : SIDE_SIZE), resp = e + (f.origIsA ? SIDE_SIZE : 0);
  writeSide(orig, ColI64.OrigSizeMean, ColI64.OrigSizeStd, ColU32.OrigSizeMin, ColU32.OrigSizeMax, ColI64.OrigIatMean, ColI64.OrigIatStd, ColI64.OrigIatMin, ColI64.OrigIatMax);
  writeSide(resp, ColI64.RespSizeMean, ColI64.RespSizeStd, ColU32.RespSizeMin, ColU32.RespSizeMax, ColI64.RespIatMean, ColI64.RespIatStd, ColI64.RespIatMin, ColI64.RespIatMax);
  const cell = bytesCell(ColBytes.FirstPackets);
  const firsts = load<u32>(e, FIRST_COUNT);
  const origSide: u16 = f.origIsA ? 0 : 1;
  for (let i: u32 = 0; i < FIRST_N; i++) {
    const at = cell + <usize>i * 4;
    if (i >= firsts) { store<u32>(at, 0xffff0000); continue; }
    store<u16>(at, load<u16>(e + FIRST + <usize>i * 4));
    store<u16>(at + 2, load<u16>(e + FIRST + <usize>i * 4 + 2) == origSide ? 0 : 1);
  }
  let present: u32 = 0;
  if (load<u32>(orig, S_COUNT) > 0) present |= Present.OrigSizes;
  if (load<u32>(resp, S_COUNT) > 0) present |= Present.RespSizes;
  return present;
}

function writeSide(s: usize, sizeMean: ColI64, sizeStd: ColI64, sizeMin: ColU32, sizeMax: ColU32, iatMean: ColI64, iatStd: ColI64, iatMin: ColI64, iatMax: ColI64): void {
  const i64s = rowI64(), u32s = rowU32();
  const n = load<u32>(s, S_COUNT);
  putI64(i64s, sizeMean, reinterpret<i64>(n == 0 ? NaN : load<f64>(s, S_MEAN)));
  putI64(i64s, sizeStd, reinterpret<i64>(n < 2 ? NaN : Math.sqrt(load<f64>(s, S_M2) / <f64>(n - 1))));
  putU32(u32s, sizeMin, load<u32>(s, S_MIN));
  putU32(u32s, sizeMax, load<u32>(s, S_MAX));
  const k = load<u64>(s, T_COUNT);
  putI64(i64s, iatMean, k == 0 ? NULL_I64 : <i64>Math.round(load<f64>(s, T_MEAN)));
  putI64(i64s, iatStd, k < 2 ? NULL_I64 : <i64>Math.round(Math.sqrt(load<f64>(s, T_M2) / <f64>(k - 1))));
  putI64(i64s, iatMin, k == 0 ? NULL_I64 : load<i64>(s, T_MIN));
  putI64(i64s, iatMax, k == 0 ? NULL_I64 : load<i64>(s, T_MAX));
}
