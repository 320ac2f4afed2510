// Finished connections between threads: a reducer copies rows out of its core's output region into
// a RowBlock (one ArrayBuffer, column-major, transferable); the host merges the blocks of all
// reducers back into single-pass order (by the EmitAt/EmitKey/EmitTie columns), numbers the
// connections (conn_id) and cuts the result into batches of exactly BatchRows rows.

import { Abi, ColBytes, ColI64, ColU16, ColU32, ColU8, Group } from "./abi.js";
import type { OutputView } from "./core.js";

/** Rows copied out of a core: every column of `rows` rows, laid out by `layout(rows)`. */
export interface RowBlock {
  rows: number;
  buffer: ArrayBuffer;
}

const BYTES_WIDTH = [16, 16, Abi.HistoryBytes as number, 4 * (Abi.FirstPackets as number)];
/** Each group's column count and each column's width in bytes, in layout order. */
const GROUPS: Array<[Group, number[]]> = [
  [Group.I64, Array(ColI64.Count).fill(8)],
  [Group.U32, Array(ColU32.Count).fill(4)],
  [Group.U16, Array(ColU16.Count).fill(2)],
  [Group.U8, Array(ColU8.Count).fill(1)],
  [Group.Bytes, BYTES_WIDTH.slice(0, ColBytes.Count)],
];

/** Byte offset of every column in a block of `rows` rows ([group][col]), and the block's size. */
function layout(rows: number): { offsets: number[][]; size: number } {
  const offsets: number[][] = [];
  let at = 0;
  for (const [group, widths] of GROUPS) {
    offsets[group] = widths.map((w) => {
      const here = at;
      at += (w * rows + 7) & ~7; // every column 8-aligned, for the typed-array views
      return here;
    });
  }
  return { offsets, size: at };
}

/**
 * Copies the first `rows` rows of a core's output into a new block: into `spare` when it is large
 * enough (a buffer a block was handed back in: fresh memory costs a page fault per 4 KiB).
 */
export function copyRows(view: OutputView, rows: number, spare?: ArrayBuffer): RowBlock {
  const { offsets, size } = layout(rows);
  const buffer = spare !== undefined && spare.byteLength >= size ? spare : new ArrayBuffer(size);
  const to = new Uint8Array(buffer);
  const from = new Uint8Array(view.buffer);
  for (const [group, widths] of GROUPS) {
    widths.forEach((w, col) => {
      const at = view.address(group, col);
      to.set(from.subarray(at, at + w * rows), offsets[group]![col]!);
    });
  }
  return { rows, buffer };
}

/** A block as the BatchBuilder reads a core's output. */
export function blockView(block: RowBlock): OutputView {
  const { offsets } = layout(block.rows);
  return { buffer: block.buffer, rows: block.rows, address: (group, col) => offsets[group]![col]! };
}

/** The merge order of one row: where it was written (see ColI64.EmitAt). */
function emitKeys(block: RowBlock): { at: BigInt64Array; key: BigInt64Array; tie: BigInt64Array; first: BigInt64Array } {
  const { offsets } = layout(block.rows);
  const col = (c: ColI64) => new BigInt64Array(block.buffer, offsets[Group.I64]![c]!, block.rows);
  return { at: col(ColI64.EmitAt), key: col(ColI64.EmitKey), tie: col(ColI64.EmitTie), first: col(ColI64.FirstPacket) };
}

/**
 * Merges reducers' rows into single-pass order. Feed it, for each map batch in input order, every
 * reducer's blocks and created flows for that batch (`add`), then `take` whole batches.
 */
export class RowMerger {
  /**
   * First packets of connections, ascending: a connection's conn_id is its rank. Kept from the
   * oldest live connection's on (`start`); the `forgotten` ones before it will never be asked for.
   */
  private created = new Float64Array(1024);
  private start = 0;
  private createdLen = 0;
  private forgotten = 0;
  private pending: RowBlock[] = [];
  private pendingRows = 0;

  /**
   * One map batch's results (or the end of input's), one entry per reducer, each in that reducer's
   * order, with the first packet of its oldest live connection: merges them and numbers the rows.
   */
  add(parts: Array<{ blocks: RowBlock[]; created: Float64Array; oldestLive: number }>): void {
    this.noteCreated(parts.map((p) => p.created));
    this.merge(parts);
    this.forget(Math.min(...parts.map((p) => p.oldestLive)));
  }

  private merge(parts: Array<{ blocks: RowBlock[] }>): void {
    const blocks = parts.flatMap((p) => p.blocks).filter((b) => b.rows > 0);
    if (blocks.length === 0) return;
    // Every reducer's rows are already in order: a k-way merge of the runs (few rows per batch).
    const runs = parts.map((p) => p.blocks.filter((b) => b.rows > 0)).filter((r) => r.length > 0);
    const order = mergeOrder(runs);
    const merged = gather(order.blocks, order.rows);
    this.number(merged);
    this.pending.push(merged);
    this.pendingRows += merged.rows;
  }

  /** Whole batches of BatchRows rows (and, with `all`, the rest) ready to build, in order. */
  take(all: boolean): RowBlock[] {
    const out: RowBlock[] = [];
    const size = Abi.BatchRows as number;
    while (this.pendingRows >= size || (all && this.pendingRows > 0)) {
      const n = Math.min(size, this.pendingRows);
      const ranges: Array<[RowBlock, number, number]> = [];
      for (let need = n; need > 0; ) {
        const head = this.pending[0]!;
        const take = Math.min(need, head.rows - this.headOffset);
        ranges.push([head, this.headOffset, take]);
        this.headOffset += take;
        need -= take;
        if (this.headOffset === head.rows) { this.pending.shift(); this.headOffset = 0; }
      }
      this.pendingRows -= n;
      out.push(ranges.length === 1 && ranges[0]![1] === 0 && ranges[0]![2] === ranges[0]![0].rows ? ranges[0]![0] : concat(ranges, n));
    }
    return out;
  }

  private headOffset = 0;

  private noteCreated(lists: Float64Array[]): void {
    const total = lists.reduce((n, l) => n + l.length, 0);
    if (total === 0) return;
    // Each reducer lists its flows in creation order, which is first-packet order: merge them.
    const all = new Float64Array(total);
    let at = 0;
    for (const l of lists) { all.set(l, at); at += l.length; }
    all.sort();
    if (this.createdLen + total > this.created.length) {
      // Compacted as it grows: the forgotten prefix goes.
      const kept = this.created.subarray(this.start, this.createdLen);
      const grown = new Float64Array(Math.max(this.created.length, 2 * (kept.length + total)));
      grown.set(kept);
      this.created = grown;
      this.createdLen = kept.length;
      this.start = 0;
    }
    this.created.set(all, this.createdLen);
    this.createdLen += total;
  }

  /** conn_id: the number of connections whose first packet comes before this one's. */
  private number(block: RowBlock): void {
    const { offsets } = layout(block.rows);
    const ids = new BigInt64Array(block.buffer, offsets[Group.I64]![ColI64.ConnId]!, block.rows);
    const first = new BigInt64Array(block.buffer, offsets[Group.I64]![ColI64.FirstPacket]!, block.rows);
    for (let i = 0; i < block.rows; i++) ids[i] = BigInt(this.forgotten + this.rankAfterStart(Number(first[i])));
  }

  /** How many kept first packets come before `p`. */
  private rankAfterStart(p: number): number {
    let lo = this.start, hi = this.createdLen;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.created[mid]! < p) lo = mid + 1; else hi = mid;
    }
    return lo - this.start;
  }

  /**
   * No row still to come has a first packet before the oldest live connection's: forget those
   * before it (counted), so that memory follows the live connections, not all connections seen.
   */
  private forget(oldestLive: number): void {
    const k = this.rankAfterStart(oldestLive);
    this.start += k;
    this.forgotten += k;
  }
}

/** A new block of row ranges (block, first row, rows) one after another. */
function concat(ranges: Array<[RowBlock, number, number]>, n: number): RowBlock {
  const { offsets, size } = layout(n);
  const buffer = new ArrayBuffer(size);
  const to = new Uint8Array(buffer);
  const sources = ranges.map(([b]) => ({ bytes: new Uint8Array(b.buffer), offsets: layout(b.rows).offsets }));
  for (const [group, widths] of GROUPS) {
    widths.forEach((w, col) => {
      let at = offsets[group]![col]!;
      ranges.forEach(([, first, rows], r) => {
        const from = sources[r]!.offsets[group]![col]! + first * w;
        to.set(sources[r]!.bytes.subarray(from, from + rows * w), at);
        at += rows * w;
      });
    });
  }
  return { rows: n, buffer };
}

/** Compares two rows' emit positions (at, key, tie) as signed 64-bit values. */
function before(a: ReturnType<typeof emitKeys>, i: number, b: ReturnType<typeof emitKeys>, j: number): boolean {
  if (a.at[i] !== b.at[j]) return a.at[i]! < b.at[j]!;
  if (a.key[i] !== b.key[j]) return a.key[i]! < b.key[j]!;
  return a.tie[i]! < b.tie[j]!;
}

/** The merged order of several sorted runs (each a list of blocks) as (block, row) picks. */
function mergeOrder(runs: RowBlock[][]): { blocks: RowBlock[]; rows: Int32Array } {
  const cursors = runs.map((blocks) => ({ blocks, b: 0, r: 0, keys: emitKeys(blocks[0]!) }));
  const total = runs.reduce((n, blocks) => n + blocks.reduce((m, b) => m + b.rows, 0), 0);
  const blocks: RowBlock[] = new Array(total);
  const rows = new Int32Array(total);
  for (let k = 0; k < total; k++) {
    let best = -1;
    for (let c = 0; c < cursors.length; c++) {
      const cur = cursors[c]!;
      if (cur.b === cur.blocks.length) continue;
      if (best < 0) { best = c; continue; }
      const top = cursors[best]!;
      if (before(cur.keys, cur.r, top.keys, top.r)) best = c;
    }
    const cur = cursors[best]!;
    blocks[k] = cur.blocks[cur.b]!;
    rows[k] = cur.r;
    if (++cur.r === cur.blocks[cur.b]!.rows) {
      cur.b++;
      cur.r = 0;
      if (cur.b < cur.blocks.length) cur.keys = emitKeys(cur.blocks[cur.b]!);
    }
  }
  return { blocks, rows };
}

/** A new block of the picked rows ((blocks[k], rows[k]) becomes row k), column by column. */
function gather(blocks: RowBlock[], rows: Int32Array): RowBlock {
  const n = rows.length;
  const { offsets, size } = layout(n);
  const buffer = new ArrayBuffer(size);
  // Blocks are numbered so that each column's loop indexes arrays, not maps.
  const distinct: RowBlock[] = [];
  const which = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    let d = distinct.indexOf(blocks[k]!);
    if (d < 0) { d = distinct.length; distinct.push(blocks[k]!); }
    which[k] = d;
  }
  const sourceOffsets = distinct.map((b) => layout(b.rows).offsets);
  for (const [group, widths] of GROUPS) {
    widths.forEach((w, col) => {
      // Copied in 4-byte words where the width allows (every column but the u16 and u8 ones).
      const word = w % 4 === 0 ? 4 : w;
      const words = w / word;
      const View = word === 4 ? Uint32Array : word === 2 ? Uint16Array : Uint8Array;
      const to = new View(buffer, offsets[group]![col]!, n * words);
      const from = distinct.map((b, d) => new View(b.buffer, sourceOffsets[d]![group]![col]!, b.rows * words));
      for (let k = 0; k < n; k++) {
        const src = from[which[k]!]!;
        const at = rows[k]! * words;
        for (let i = 0; i < words; i++) to[k * words + i] = src[at + i]!;
      }
    });
  }
  return { rows: n, buffer };
}
