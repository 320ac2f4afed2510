// A cluster run (docs/cluster.md): the plan of its tasks, and the files the steps leave in the job
// directory. Every step is a pure function of files there: `plan` lists the map tasks, `map`
// writes one task's partitions and time track, `reduce` one partition's rows, `merge` the Parquet
// dataset. A step writes under temporary names and renames, its small JSON record last: a step that
// dies half-way leaves nothing a later step would read, and running it again is harmless.

import { openSync, readSync, closeSync, readFileSync, writeFileSync, renameSync, mkdirSync } from "node:fs";
import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { SynfinError } from "../errors.js";
import { fileSource } from "../input/file-source.js";
import type { Stats } from "../public.js";

export const PLAN_VERSION = 1;

/** The analysis options a cluster run takes (the rest of `AnalyzeOptions` needs one pass). */
export interface ClusterOptions {
  verifyChecksums?: boolean;
  connKey?: "five-tuple" | "vlan";
  maxFlows?: number;
  memoryLimit?: number;
  filter?: string;
}

export interface Plan {
  version: number;
  /** A new id for every plan: the steps' records carry it, so that outputs of another plan in the same directory are never read. */
  id: string;
  /** The capture, file by file in reading order, as absolute paths. */
  files: Array<{ path: string; size: number; pcap: boolean }>;
  /** Map tasks in reading order: a byte range [start, stop) of a file (records starting there). */
  tasks: Array<{ file: number; start: number; stop: number }>;
  partitions: number;
  options: ClusterOptions;
}

/** What a map task reports (stage/map-i.json), and the merge step sums. */
export interface MapRecord {
  plan: string;
  task: number;
  file: number;
  /** Offset of the task's first record (the range's start when it was given exactly). */
  start: number;
  /** Where the next task of the same file must start: its first record, or the file's end. */
  end: number;
  /** Frames read (every record the framer delivered, filtered ones too). */
  frames: number;
  /** The task's last frame the filter kept (-1: none), and the latest time among its frames (ns, as a decimal string). */
  lastKept: number;
  clockNs: string;
  /** Frames left to the reducers' fragment and tunnel tables. */
  deferred: number;
  /** Bytes written per partition (records with their stamps). */
  partitionBytes: number[];
  /** The file's whole records and first damage as this task saw them (the merge step judges the file). */
  goodRecords: number;
  firstDamage: { code: number; offset: number } | null;
  stats: Stats;
}

/** What a reduce task reports (stage/reduce-j.json). */
export interface ReduceRecord {
  plan: string;
  partition: number;
  rows: number;
  /**
   * Per map task (and, last, the end of input): where its segment's end entry starts in
   * reduce-j.rows, and the rows of the segment; the merge's parts start at a segment.
   */
  segmentEnds: number[];
  segmentRows: number[];
  /** Bytes of the map tasks' time tracks this reducer read to place its timers. */
  timeTrackBytes: number;
  /** Bytes of records it read, and of deferred frames. */
  recordBytes: number;
  deferredBytes: number;
  connections: number;
  peakFlows: number;
  evicted: number;
  /** Record buckets of the deferred frames it decoded (every reducer decodes them all; the merge takes partition 0's). */
  deferredStats: Partial<Stats>;
}

export const stageDir = (dir: string) => join(dir, "stage");
export const planPath = (dir: string) => join(stageDir(dir), "plan.json");
export const mapFile = (dir: string, task: number, what: string) => join(stageDir(dir), `map-${task}.${what}`);
export const mapRecordPath = (dir: string, task: number) => join(stageDir(dir), `map-${task}.json`);
export const reduceFile = (dir: string, partition: number) => join(stageDir(dir), `reduce-${partition}.rows`);
export const reduceRecordPath = (dir: string, partition: number) => join(stageDir(dir), `reduce-${partition}.json`);

/** A job directory's stage files are inconsistent or missing (a step ran out of order). */
export function stageError(path: string, detail: string): SynfinError {
  return new SynfinError("STAGE_INVALID", path, 0, detail);
}

/** A pcap file is cut into ranges of at least this many bytes. */
export const MIN_RANGE_BYTES = 1 << 20;
/** ... and at most this many: a map task numbers its frames in 32 bits (records take 16 bytes or more). */
export const MAX_RANGE_BYTES = 2 ** 35;
/** Frames a map task may read (its records number them in 32 bits). */
export const MAX_TASK_FRAMES = 2 ** 32 - 1;

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1]);

/** Whether a file starts with a pcap magic number (pcapng and anything else: false). */
function isPcap(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = new Uint8Array(4);
    if (readSync(fd, head, 0, 4, 0) < 4) return false;
    return PCAP_MAGICS.has(new DataView(head.buffer).getUint32(0, true));
  } finally {
    closeSync(fd);
  }
}

/**
 * Splits the capture (files in reading order) into about `parts` map tasks of equal bytes. A pcap
 * file is cut at byte offsets (each task finds its first record), into ranges of at least
 * MIN_RANGE_BYTES; a pcapng file is one task, since its records need the interface blocks before
 * them.
 */
export function makePlan(paths: readonly string[], parts: number, partitions: number, options: ClusterOptions): Plan {
  const files = paths.map((p) => {
    const path = resolve(p);
    // fileSource checks the path as a single run does (READ_FAILED); it opens nothing yet.
    const size = fileSource(path).size!;
    return { path, size, pcap: size > 24 && isPcap(path) };
  });
  const total = files.reduce((n, f) => n + f.size, 0);
  const target = Math.max(1, total / parts);
  const tasks: Plan["tasks"] = [];
  files.forEach((f, file) => {
    const n = f.pcap ? Math.max(1, Math.ceil(f.size / MAX_RANGE_BYTES), Math.min(Math.round(f.size / target), Math.floor(f.size / MIN_RANGE_BYTES))) : 1;
    for (let k = 0; k < n; k++) {
      tasks.push({ file, start: k === 0 ? 0 : Math.floor((k * f.size) / n), stop: k === n - 1 ? f.size : Math.floor(((k + 1) * f.size) / n) });
    }
  });
  return { version: PLAN_VERSION, id: randomUUID(), files, tasks, partitions, options };
}

export function readPlan(path: string): Plan {
  let plan: Plan;
  try {
    plan = JSON.parse(readFileSync(path, "utf8")) as Plan;
  } catch (e) {
    throw stageError(path, `cannot read the plan: ${(e as Error).message}`);
  }
  if (plan.version !== PLAN_VERSION) throw stageError(path, `plan version ${plan.version}; this synfin writes and reads version ${PLAN_VERSION}`);
  return plan;
}

/** A step's record, written for `plan` (an older plan's output in the same directory is refused). */
export function readRecord<T extends { plan: string }>(path: string, step: string, plan: Plan): T {
  let record: T;
  try {
    record = JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    throw stageError(path, `no finished ${step} output here; run that step first`);
  }
  if (record.plan !== plan.id) throw stageError(path, `this ${step} output is of another plan than ${plan.id}; run that step again`);
  return record;
}

/**
 * A temporary name beside `path`, unique across processes and machines that share the directory
 * (the PIDs of workers in containers repeat).
 */
export function tempName(path: string): string {
  return `${path}.${hostname()}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
}

/** Writes a small file under a temporary name, then renames it into place. */
export function writeAtomically(path: string, data: string | Uint8Array): void {
  const temp = tempName(path);
  writeFileSync(temp, data);
  renameSync(temp, path);
}

export function ensureStage(dir: string): void {
  mkdirSync(stageDir(dir), { recursive: true });
}

/**
 * The map tasks' records, checked to chain: within a file, each task starts where the one before
 * ended (a task that resynchronised onto something else must run again with --start).
 */
export function readMapRecords(dir: string, plan: Plan): MapRecord[] {
  const records = plan.tasks.map((_, i) => readRecord<MapRecord>(mapRecordPath(dir, i), `map --task ${i}`, plan));
  for (let i = 1; i < records.length; i++) {
    const [before, here] = [records[i - 1]!, records[i]!];
    if (plan.tasks[i]!.file === plan.tasks[i - 1]!.file && here.start !== before.end) {
      throw stageError(mapRecordPath(dir, i), `map task ${i} started reading at byte ${here.start} but task ${i - 1} ended at byte ${before.end}; run \`synfin map … --task ${i} --start ${before.end}\` again`);
    }
  }
  return records;
}
