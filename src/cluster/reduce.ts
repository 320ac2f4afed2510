// `synfin reduce PLAN --partition j`: runs the connection state machines of partition j over every
// map task's records, in plan order (docs/cluster.md). Timers fire at the frames the archive's time
// track names (track.ts). Fragments and tunnels' UDP datagrams, which need one table in input
// order, are decoded here from every task's deferred frames (each reducer keeps its partition's).
// It writes stage/reduce-j.rows: per map task, the rows that ended while it was read, then the
// first packets of the connections created meanwhile and the oldest live one's (what the merge
// step needs to number and order rows as a single pass does); and stage/reduce-j.json last.

import { closeSync, fstatSync } from "node:fs";
import { Abi, Status } from "../core/abi.js";
import { Core, DESC_SIZE, DEFAULT_MAX_FLOWS, Part, Sparse } from "../core/core.js";
import { BufferPool } from "../input/pool.js";
import { drain, recordBytes } from "../run/reducer.js";
import type { RowBlock } from "../core/rows.js";
import { RECORD_BUCKETS, type Stats } from "../public.js";
import { StageWriter, loadModule, openStage, readAt } from "./files.js";
import { coreOptions, STAMP_BYTES } from "./map.js";
import { ensureStage, mapFile, planPath, readMapRecords, readPlan, reduceFile, reduceRecordPath, stageError, writeAtomically, type ReduceRecord } from "./plan.js";
import { TimeTrack } from "./track.js";

/** Record bytes read at a time. */
const READ_BYTES = 8 << 20;

/** Entries of a reduce output (reduce-j.rows): a block of rows, or the end of a map task's segment. */
export const ENTRY_BLOCK = 1;
export const ENTRY_SEGMENT_END = 2;

export async function runReduce(dir: string, partition: number): Promise<ReduceRecord> {
  const plan = readPlan(planPath(dir));
  const P = plan.partitions;
  if (!(partition >= 0 && partition < P)) throw new RangeError(`the plan has partitions 0 to ${P - 1}; there is no partition ${partition}`);
  const maps = readMapRecords(dir, plan);
  const module = await loadModule();
  const maxFlows = plan.options.maxFlows ?? DEFAULT_MAX_FLOWS;
  const reducer = await Core.create(module, { ...coreOptions(plan), maxFlows: Math.ceil(maxFlows / P) });
  reducer.setParallel(Part.Reducer);
  // The one fragment and tunnel table, as a single pass's framer holds it.
  let tables: Core | undefined;
  if (maps.some((m) => m.deferred > 0)) {
    tables = await Core.create(module, { ...coreOptions(plan), maxFlows });
    tables.setParallel(Part.Framer, P);
  }
  const track = new TimeTrack(dir, maps, plan.options.filter !== undefined);
  const firsts = track.firsts;
  const floors = track.floors();
  ensureStage(dir);
  const out = new StageWriter(reduceFile(dir, partition));
  const pool = new BufferPool();
  let rows = 0;
  const segmentEnds: number[] = [];
  const segmentRows: number[] = [];
  let rowsBefore = 0;
  let recordBytes = 0;
  let deferredBytes = 0;

  const writeBlocks = (blocks: RowBlock[]) => {
    for (const b of blocks) {
      out.write(new Uint8Array(new Float64Array([ENTRY_BLOCK, b.rows, b.buffer.byteLength]).buffer));
      out.write(new Uint8Array(b.buffer));
      rows += b.rows;
    }
    blocks.length = 0;
  };
  const blocks: RowBlock[] = [];
  const drainAll = () => {
    drain(reducer, blocks);
    writeBlocks(blocks);
  };

  /** Ends map task t's segment: the connections created meanwhile, the oldest live one's first packet. */
  const segmentEnd = (t: number, created: Float64Array, oldestLive: number) => {
    segmentRows.push(rows - rowsBefore);
    rowsBefore = rows;
    segmentEnds.push(out.bytes);
    out.write(new Uint8Array(new Float64Array([ENTRY_SEGMENT_END, t, oldestLive, created.length]).buffer));
    out.write(new Uint8Array(created.buffer, created.byteOffset, created.byteLength));
  };

  /**
   * Fires the earliest due timer at the frame the track names, if that frame comes before frame
   * `limit`; returns whether it did. Before a record, the record's own frame is such a frame.
   */
  const fireDue = (limit: number): boolean => {
    const at = track.find(reducer.dueDeadline(), reducer.nextFrame());
    if (!at || at.index >= limit) return false;
    while (!reducer.fireAt(at.index, at.clock)) drainAll();
    return true;
  };

  /** Runs stamped records through the reducer. */
  const run = (records: Uint8Array, t: number) => {
    if (records.length === 0) return;
    reducer.beginRecords(records, firsts[t]!, floors[t]!);
    for (;;) {
      const s = reducer.reduceRecords();
      if (s === Sparse.Done) break;
      if (s === Sparse.OutputFull) drainAll();
      else if (!fireDue(Infinity)) throw new Error(`synfin: no frame from ${reducer.nextFrame()} on reaches the deadline ${reducer.dueDeadline()} ns (a bug; please report it)`);
    }
  };

  try {
    for (let t = 0; t < maps.length; t++) {
      const late = tables ? deferredRecords(dir, t, floors[t]!, tables, partition, P, pool) : [];
      deferredBytes += late.reduce((n, r) => n + r.length, 0);
      track.release(reducer.nextFrame());
      const fd = openStage(mapFile(dir, t, `part-${partition}`), `map --task ${t}`);
      try {
        const size = fstatSync(fd).size;
        let carry = new Uint8Array(0);
        for (let position = 0; position < size; ) {
          const fresh = new Uint8Array(Math.min(READ_BYTES, size - position));
          readAt(fd, fresh, position);
          position += fresh.length;
          recordBytes += fresh.length;
          const bytes = carry.length > 0 ? concat(carry, fresh) : fresh;
          const whole = wholeRecords(bytes);
          const end = position >= size;
          if (end && whole !== bytes.length) throw stageError(mapFile(dir, t, `part-${partition}`), "the file ends inside a record");
          run(withLate(bytes.subarray(0, whole), late, end), t);
          carry = bytes.slice(whole);
        }
        if (size === 0) run(withLate(new Uint8Array(0), late, true), t);
      } finally {
        closeSync(fd);
      }
      // Every timer due at a frame of this task fires now, so the segment holds every row it ended.
      const next = t + 1 < maps.length ? firsts[t + 1]! : Infinity;
      while (reducer.dueDeadline() <= floors[t + 1]! && fireDue(next));
      drainAll();
      segmentEnd(t, reducer.takeCreated(), reducer.oldestLive());
    }
    // The end of the archive: every connection still open ends (a timer due after the last frame never fires).
    while (reducer.finish() === Status.OutputFull) drainAll();
    drainAll();
    segmentEnd(maps.length, reducer.takeCreated(), Infinity);
    out.commit();
  } catch (e) {
    out.discard();
    throw e;
  } finally {
    track.close();
  }
  const s = reducer.stats();
  const deferredStats: Partial<Stats> = {};
  if (tables) {
    const d = tables.stats();
    for (const key of RECORD_BUCKETS) deferredStats[key] = d[key];
  }
  const record: ReduceRecord = {
    plan: plan.id, partition, rows, segmentEnds, segmentRows, timeTrackBytes: track.bytesRead, recordBytes, deferredBytes,
    connections: s.connections, peakFlows: s.peakFlows, evicted: s.evicted, deferredStats,
  };
  writeAtomically(reduceRecordPath(dir, partition), JSON.stringify(record, null, 1));
  return record;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const c = new Uint8Array(a.length + b.length);
  c.set(a);
  c.set(b, a.length);
  return c;
}

/** Bytes of the whole stamped records at the start of `bytes`. */
function wholeRecords(bytes: Uint8Array): number {
  let at = 0;
  while (at + STAMP_BYTES + Abi.RecordFixed <= bytes.length) {
    const size = STAMP_BYTES + recordBytes(bytes, at + STAMP_BYTES);
    if (at + size > bytes.length) break;
    at += size;
  }
  return at;
}

const frameOf = (bytes: Uint8Array, at: number) => new DataView(bytes.buffer, bytes.byteOffset + at + STAMP_BYTES, 4).getUint32(0, true);

/**
 * The stamped records with the deferred frames' records among them by frame (those up to the last
 * record's frame, or all at the end), taken off the front of `late`.
 */
function withLate(records: Uint8Array, late: Uint8Array[], all: boolean): Uint8Array {
  if (late.length === 0) return records;
  let last = -1;
  for (let at = 0; at < records.length; ) {
    last = frameOf(records, at);
    at += STAMP_BYTES + recordBytes(records, at + STAMP_BYTES);
  }
  const taken: Uint8Array[] = [];
  while (late.length > 0 && (all || frameOf(late[0]!, 0) <= last)) taken.push(late.shift()!);
  if (taken.length === 0) return records;
  const out = new Uint8Array(records.length + taken.reduce((n, r) => n + r.length, 0));
  let to = 0, at = 0, k = 0;
  while (at < records.length || k < taken.length) {
    if (k < taken.length && (at >= records.length || frameOf(taken[k]!, 0) < frameOf(records, at))) {
      out.set(taken[k]!, to);
      to += taken[k]!.length;
      k++;
    } else {
      const size = STAMP_BYTES + recordBytes(records, at + STAMP_BYTES);
      out.set(records.subarray(at, at + size), to);
      to += size;
      at += size;
    }
  }
  return out;
}

/**
 * Task t's deferred frames through the one fragment and tunnel table, in input order: the records
 * of this partition, each stamped (one Uint8Array per record, in frame order).
 */
function deferredRecords(dir: string, t: number, floor: bigint, tables: Core, partition: number, P: number, pool: BufferPool): Uint8Array[] {
  const path = mapFile(dir, t, "deferred");
  const fd = openStage(path, `map --task ${t}`);
  const out: Uint8Array[] = [];
  try {
    const size = fstatSync(fd).size;
    // Group by group (one per framed chunk that had any), as the map task wrote them.
    for (let at = 0; at < size; ) {
      const head = new Uint32Array(2);
      if (readAt(fd, new Uint8Array(head.buffer), at) < 8) throw stageError(path, "the file ends inside a group's header");
      const [count, bytesLen] = [head[0]!, head[1]!];
      const group = new Uint8Array(count * 4 + count * DESC_SIZE + bytesLen);
      if (readAt(fd, group, at + 8) < group.length) throw stageError(path, "the file ends inside a group");
      at += 8 + group.length;
      const indexes = new Uint32Array(group.buffer, 0, count);
      const desc = group.slice(count * 4, count * 4 + count * DESC_SIZE);
      const bytes = group.slice(count * 4 + count * DESC_SIZE);
      // The framer's clock at each frame was the task's; the archive's may be later.
      const view = new DataView(desc.buffer);
      for (let f = 0; f < count; f++) {
        if (view.getBigInt64(f * DESC_SIZE + 32, true) < floor) view.setBigInt64(f * DESC_SIZE + 32, floor, true);
      }
      tables.mapFrames({ count, desc: { buffer: desc.buffer, length: desc.length }, bytes: { buffer: bytes.buffer, length: bytesLen } }, false, indexes);
      const { records } = tables.takePartitions(P, pool);
      const mine = records[partition]!;
      const r = new Uint8Array(mine.buffer, 0, mine.length);
      for (let p = 0; p < r.length; ) {
        const recSize = recordBytes(r, p);
        const frame = new DataView(r.buffer, p, 4).getUint32(0, true);
        const f = lowerBound(indexes, frame);
        const stamped = new Uint8Array(STAMP_BYTES + recSize);
        stamped.set(desc.subarray(f * DESC_SIZE, f * DESC_SIZE + 8), 0);
        stamped.set(desc.subarray(f * DESC_SIZE + 32, f * DESC_SIZE + 40), 8);
        stamped.set(r.subarray(p, p + recSize), STAMP_BYTES);
        out.push(stamped);
        p += recSize;
      }
      for (const rec of records) pool.give(rec.buffer);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** The position of `value` in an ascending list (where it would go, if absent). */
function lowerBound(list: Uint32Array, value: number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < value) lo = mid + 1; else hi = mid;
  }
  return lo;
}
