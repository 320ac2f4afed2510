// `synfin merge PLAN [--part K --of M]`: the reducers' rows into the Parquet dataset
// (docs/cluster.md). Map task by map task, it merges every reducer's rows of that task (its
// segment) into single-pass order and numbers them (conn_id), as the worker threads' merge does
// (src/core/rows.ts). The segments are shared out among M parts by rows; part K first reads the
// created connections of the segments before its own (8 bytes each, no rows), so that it numbers
// rows as one merge would, then writes its segments' rows into part-KKKKK-NNNNN.parquet files of
// at most ROWS_PER_PART rows. Read in name order, the files hold the rows in single-pass order.

import { openSync, closeSync, fstatSync, readdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { BatchBuilder } from "../core/batch.js";
import { RowMerger, type RowBlock } from "../core/rows.js";
import { SynfinError } from "../errors.js";
import { ParquetStreamWriter, emptyBatch } from "../output/parquet.js";
import { SCHEMA } from "../output/schema.js";
import { RECORD_BUCKETS, type Stats } from "../public.js";
import { StageWriter, readAt } from "./files.js";
import { planPath, readMapRecords, readPlan, readRecord, reduceFile, reduceRecordPath, stageError, writeAtomically, type MapRecord, type Plan, type ReduceRecord } from "./plan.js";
import { ENTRY_BLOCK, ENTRY_SEGMENT_END } from "./reduce.js";

/** Rows per Parquet file of the dataset (128 batches of 8,192). */
export const ROWS_PER_PART = 1 << 20;

export interface MergeResult {
  parts: string[];
  rows: number;
  stats: Stats;
}

const five = (n: number) => String(n).padStart(5, "0");

/** The first segment of each of `of` parts, by rows (and, last, the number of segments). */
export function mergeBounds(reduces: ReduceRecord[], of: number): number[] {
  const segments = reduces[0]!.segmentRows.length;
  const perSegment = Array.from({ length: segments }, (_, s) => reduces.reduce((n, r) => n + r.segmentRows[s]!, 0));
  const total = perSegment.reduce((a, b) => a + b, 0);
  const bounds = [0];
  let s = 0, before = 0;
  for (let k = 1; k < of; k++) {
    while (s < segments && before + perSegment[s]! <= (k * total) / of) before += perSegment[s++]!;
    bounds.push(Math.max(s, bounds.at(-1)!));
  }
  bounds.push(segments);
  return bounds;
}

export async function runMerge(dir: string, part = 0, of = 1): Promise<MergeResult> {
  const plan = readPlan(planPath(dir));
  if (!(Number.isInteger(of) && of >= 1 && part >= 0 && part < of)) throw new RangeError(`merge --part must be from 0 to ${of - 1}, got ${part}`);
  const maps = readMapRecords(dir, plan);
  const reduces = Array.from({ length: plan.partitions }, (_, j) => readRecord<ReduceRecord>(reduceRecordPath(dir, j), `reduce --partition ${j}`, plan));
  if (reduces.some((r) => r.segmentRows.length !== maps.length + 1)) throw stageError(reduceRecordPath(dir, 0), "the reduce outputs are of another plan; run the reduce steps again");
  refuseUnreadableFiles(plan, maps);
  const bounds = mergeBounds(reduces, of);
  const [first, end] = [bounds[part]!, bounds[part + 1]!];
  const readers = reduces.map((_, j) => new RowsReader(reduceFile(dir, j)));
  const merger = new RowMerger();
  const builder = new BatchBuilder();
  const parts: string[] = [];
  let writer: { file: StageWriter; parquet: ParquetStreamWriter; rows: number } | undefined;
  let rows = 0;

  const open = async () => {
    const file = new StageWriter(join(dir, `part-${five(part)}-${five(parts.length)}.parquet`));
    writer = { file, parquet: await ParquetStreamWriter.open({ write: async (chunk) => file.write(chunk) }, SCHEMA), rows: 0 };
    return writer;
  };
  const write = async (block: RowBlock) => {
    const w = writer ?? await open();
    await w.parquet.write(builder.buildRows(block));
    w.rows += block.rows;
    rows += block.rows;
    if (w.rows >= ROWS_PER_PART) await close();
  };
  const close = async () => {
    if (!writer) return;
    await writer.parquet.end();
    writer.file.commit();
    parts.push(writer.file.path);
    writer = undefined;
  };

  try {
    // The connections created before this part's segments, for the numbering.
    for (let t = 0; t < first; t++) merger.add(readers.map((r, j) => ({ blocks: [], ...r.segmentEnd(reduces[j]!.segmentEnds[t]!, t) })));
    for (let t = first; t < end; t++) {
      merger.add(readers.map((r) => r.segment(t)));
      for (const block of merger.take(false)) await write(block);
    }
    for (const block of merger.take(true)) await write(block);
    if (part === 0 && reduces.every((r) => r.rows === 0)) await (await open()).parquet.write(emptyBatch(SCHEMA));
    await close();
  } catch (e) {
    writer?.file.discard();
    throw e;
  } finally {
    for (const r of readers) r.close();
  }
  // Files of an earlier merge beyond this one's go (part 0 also removes the parts past M).
  const kept = new Set(parts.map((p) => basename(p)));
  for (const name of readdirSync(dir)) {
    const m = /^part-(\d{5})-\d{5}\.parquet$/.exec(name);
    if (m && !kept.has(name) && (Number(m[1]) === part || (part === 0 && Number(m[1]) >= of))) rmSync(join(dir, name));
  }
  const stats = combine(maps, reduces);
  writeAtomically(join(dir, "_stats.json"), JSON.stringify(stats, null, 1) + "\n");
  return { parts, rows, stats };
}

/**
 * A file cut into ranges: as a single pass refuses a file of which no record can be read, with the
 * error of its first damage, so does the merge.
 */
function refuseUnreadableFiles(plan: Plan, maps: MapRecord[]): void {
  plan.files.forEach((f, k) => {
    const mine = maps.filter((m) => m.file === k);
    if (mine.some((m) => m.goodRecords > 0)) return;
    const damaged = mine.find((m) => m.firstDamage !== null);
    if (damaged) throw SynfinError.fromCore(damaged.firstDamage!.code, f.path, damaged.firstDamage!.offset);
  });
}

/** The run's stats: the framers' and mappers' counts, the reducers' connections (parallel.ts combine). */
function combine(maps: MapRecord[], reduces: ReduceRecord[]): Stats {
  const stats = { ...maps[0]!.stats };
  for (const m of maps.slice(1)) for (const key of Object.keys(stats) as Array<keyof Stats>) stats[key] += m.stats[key];
  // Every reducer decodes every deferred frame: one reducer's buckets count them.
  for (const key of RECORD_BUCKETS) stats[key] += reduces[0]!.deferredStats[key] ?? 0;
  const sum = (k: "connections" | "peakFlows" | "evicted") => reduces.reduce((n, r) => n + r[k], 0);
  return { ...stats, connections: sum("connections"), peakFlows: sum("peakFlows"), evicted: sum("evicted") };
}

/** One reducer's rows file, read a map task's segment at a time. */
class RowsReader {
  private readonly fd: number;
  private readonly size: number;
  private position = 0;

  constructor(private readonly path: string) {
    try {
      this.fd = openSync(path, "r");
    } catch {
      throw stageError(path, "no finished reduce output here; run that step first");
    }
    this.size = fstatSync(this.fd).size;
  }

  private read(bytes: number): ArrayBuffer {
    const buffer = new ArrayBuffer(bytes);
    if (readAt(this.fd, new Uint8Array(buffer), this.position) < bytes) throw stageError(this.path, "the file ends early");
    this.position += bytes;
    return buffer;
  }

  /** The end entry of segment t at `offset`: the connections created meanwhile, the oldest live one's; reading goes on after it. */
  segmentEnd(offset: number, t: number): { created: Float64Array; oldestLive: number } {
    this.position = offset;
    const [kind, at, oldestLive, n] = new Float64Array(this.read(32));
    if (kind !== ENTRY_SEGMENT_END || at !== t) throw stageError(this.path, `no end of map task ${t}'s rows at byte ${offset}`);
    return { created: new Float64Array(this.read(8 * n!)), oldestLive: oldestLive! };
  }

  /** Segment t: its blocks of rows, the connections created meanwhile, the oldest live one's first packet. */
  segment(t: number): { blocks: RowBlock[]; created: Float64Array; oldestLive: number } {
    const blocks: RowBlock[] = [];
    while (this.position < this.size) {
      const [kind, a, b, c] = new Float64Array(this.read(32));
      if (kind === ENTRY_BLOCK) {
        this.position -= 8;
        blocks.push({ rows: a!, buffer: this.read(b!) });
      } else if (kind === ENTRY_SEGMENT_END && a === t) {
        return { blocks, created: new Float64Array(this.read(8 * c!)), oldestLive: b! };
      } else {
        break;
      }
    }
    throw stageError(this.path, `the rows of map task ${t} are missing`);
  }

  close(): void {
    closeSync(this.fd);
  }
}
