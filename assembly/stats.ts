// Accounting counters (Stat in src/core/abi.ts) and the fatal-error state, in one static region that the
// host reads after each call.

import { Stat, Status, ErrorCode } from "../src/core/abi";

export const STATS: usize = memory.data(Stat.Count * 8, 8);

@inline export function count(stat: Stat): void {
  const p = STATS + (<usize>stat << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function countBy(stat: Stat, n: u64): void {
  const p = STATS + (<usize>stat << 3);
  store<u64>(p, load<u64>(p) + n);
}

@inline export function statValue(stat: Stat): u64 {
  return load<u64>(STATS + (<usize>stat << 3));
}

export function setMax(stat: Stat, value: u64): void {
  const p = STATS + (<usize>stat << 3);
  if (value > load<u64>(p)) store<u64>(p, value);
}

export function clearStats(): void {
  memory.fill(STATS, 0, Stat.Count * 8);
  errorCode = ErrorCode.None;
  errorOffset = 0;
}

/** The fatal error, if any: what went wrong and the byte offset in the current file. */
export let errorCode: ErrorCode = ErrorCode.None;
export let errorOffset: u64 = 0;

/** Forgets an error that was recovered from (damage skipped). */
export function clearError(): void {
  errorCode = ErrorCode.None;
  errorOffset = 0;
}

export function fail(code: ErrorCode, offset: u64): Status {
  errorCode = code;
  errorOffset = offset;
  return Status.Error;
}
