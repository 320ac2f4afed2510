// The output batch: finished connections as column-major regions (one region per column group in
// src/core/abi.ts), read by the host once per batch and then cleared.

import { Abi, ColI64, ColU32, ColU16, ColU8, ColBytes } from "../../src/core/abi";

/** Null for i64 timestamp and duration columns. */
export const NULL_I64: i64 = i64.MIN_VALUE;

/** Rows the regions hold: a batch, and the slack a frame may write past it. */
const ROWS: usize = <usize>Abi.BatchRows + <usize>Abi.BatchSlack;
const ADDR_BYTES: usize = 16;

let regionI64: usize = 0;
let regionU32: usize = 0;
let regionU16: usize = 0;
let regionU8: usize = 0;
let regionBytes: usize = 0;
export let outRows: u32 = 0;

/** Width in bytes of each ColBytes column. */
@inline export function bytesWidth(col: ColBytes): usize {
  if (col == ColBytes.History) return <usize>Abi.HistoryBytes;
  if (col == ColBytes.FirstPackets) return <usize>Abi.FirstPackets * 4;
  return ADDR_BYTES;
}

/**
 * Where a ColBytes column starts in its region: after the columns before it, in ColBytes order.
 * A plain expression, which the compiler folds for a constant column.
 */
@inline function bytesOffset(col: ColBytes): usize {
  const c = <i32>col;
  return ((c > <i32>ColBytes.OrigAddr ? bytesWidth(ColBytes.OrigAddr) : 0) + (c > <i32>ColBytes.RespAddr ? bytesWidth(ColBytes.RespAddr) : 0) +
    (c > <i32>ColBytes.History ? bytesWidth(ColBytes.History) : 0) + (c > <i32>ColBytes.FirstPackets ? bytesWidth(ColBytes.FirstPackets) : 0)) * ROWS;
}

export function initOutput(): void {
  if (regionI64 != 0) return;
  regionI64 = heap.alloc(ROWS * 8 * ColI64.Count);
  regionU32 = heap.alloc(ROWS * 4 * ColU32.Count);
  regionU16 = heap.alloc(ROWS * 2 * ColU16.Count);
  regionU8 = heap.alloc(ROWS * ColU8.Count);
  regionBytes = heap.alloc(bytesOffset(ColBytes.Count));
}

@inline export function outFull(): bool { return outRows >= <u32>Abi.BatchRows; }
@inline export function outRoom(n: u32): bool { return outRows + n <= <u32>ROWS; }

export function clearOutput(): void { outRows = 0; }

/**
 * Drops the first `n` rows (the host has taken them) and moves the rest to the front, so that every
 * batch but the last has exactly BatchRows rows, whatever made the core stop.
 */
export function shiftOutput(n: u32): void {
  if (n >= outRows) { outRows = 0; return; }
  const rest = <usize>(outRows - n);
  for (let c = 0; c < <i32>ColI64.Count; c++) moveRows(columnAddress(0, c), 8, n, rest);
  for (let c = 0; c < <i32>ColU32.Count; c++) moveRows(columnAddress(1, c), 4, n, rest);
  for (let c = 0; c < <i32>ColU16.Count; c++) moveRows(columnAddress(2, c), 2, n, rest);
  for (let c = 0; c < <i32>ColU8.Count; c++) moveRows(columnAddress(3, c), 1, n, rest);
  for (let c = 0; c < <i32>ColBytes.Count; c++) moveRows(columnAddress(4, c), bytesWidth(<ColBytes>c), n, rest);
  outRows = <u32>rest;
}

@inline function moveRows(column: usize, width: usize, from: u32, rows: usize): void {
  memory.copy(column, column + <usize>from * width, rows * width);
}

/** Base address of a column, for the host: group 0 i64, 1 u32, 2 u16, 3 u8, 4 bytes. */
export function columnAddress(group: u32, col: u32): usize {
  if (group == 0) return regionI64 + <usize>col * ROWS * 8;
  if (group == 1) return regionU32 + <usize>col * ROWS * 4;
  if (group == 2) return regionU16 + <usize>col * ROWS * 2;
  if (group == 3) return regionU8 + <usize>col * ROWS;
  return regionBytes + bytesOffset(<ColBytes>col);
}

// Writers for the row being filled (index outRows); `commitRow` makes it part of the batch. A
// writer takes the row's cell in its group's first column (rowI64() …), computed once per row: a
// wasm global is loaded again at every use, and the cell of column `col` is then one constant away.
@inline export function rowI64(): usize { return regionI64 + <usize>outRows * 8; }
@inline export function rowU32(): usize { return regionU32 + <usize>outRows * 4; }
@inline export function rowU16(): usize { return regionU16 + <usize>outRows * 2; }
@inline export function rowU8(): usize { return regionU8 + <usize>outRows; }
@inline export function putI64(row: usize, col: ColI64, v: i64): void {
  store<i64>(row + <usize>col * ROWS * 8, v);
}
@inline export function putU32(row: usize, col: ColU32, v: u32): void {
  store<u32>(row + <usize>col * ROWS * 4, v);
}
@inline export function putU16(row: usize, col: ColU16, v: u32): void {
  store<u16>(row + <usize>col * ROWS * 2, <u16>v);
}
@inline export function putU8(row: usize, col: ColU8, v: u32): void {
  store<u8>(row + <usize>col * ROWS, <u8>v);
}
/** Address of this row's cell in a fixed-width bytes column. */
@inline export function bytesCell(col: ColBytes): usize {
  return regionBytes + bytesOffset(col) + <usize>outRows * bytesWidth(col);
}

export function commitRow(): void { outRows++; }
