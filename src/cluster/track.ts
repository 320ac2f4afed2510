// The archive's clock, as a cluster reducer needs it (docs/cluster.md "The clock"). A single pass
// fires a timer at the first frame whose clock (the latest time so far) reaches its deadline, and
// that frame may be any other partition's. Each map task writes its clock at every frame; the
// clock is non-decreasing, so the frame is found by a binary search: in the task's index (the clock
// at every BLOCK_FRAMES-th frame, 1/512 of the track) for the block, then in that block, reading
// READ_FRAMES frames at a time. A reducer reads the index of a task it fires a timer in, and about
// four 512-byte reads of the track per firing (fewer, as reads are cached): bytes that grow with
// its connections, not with the archive's frames.

import { closeSync, readFileSync } from "node:fs";
import { openStage, readAt } from "./files.js";
import { mapFile, stageError, type MapRecord } from "./plan.js";

/** Frames per entry of a task's index (map.ts writes every BLOCK_FRAMES-th frame's clock). */
export const BLOCK_FRAMES = 512;
/** Frames per read from a time track (8 bytes each: 512 bytes), and reads kept. */
const READ_FRAMES = 64;
const CACHED_READS = 4096;
const MIN_CLOCK = -(2n ** 63n);

interface TaskTrack {
  /** The task's first frame in the archive, its frames. */
  first: number;
  frames: number;
  /** The archive's clock before the task, and after it. */
  floor: bigint;
  ceiling: bigint;
  /** The task's track and flags files, opened when first read (-1: not open). */
  times: number;
  kept: number;
  filtered: boolean;
  dir: string;
  indexPath: string;
  /** The clock at every BLOCK_FRAMES-th frame, read when first needed. */
  index: BigInt64Array | undefined;
}

export class TimeTrack {
  private readonly tasks: TaskTrack[] = [];
  private readonly cache = new Map<number, BigInt64Array | Uint8Array>();
  /** Bytes read from the tracks so far. */
  bytesRead = 0;

  constructor(dir: string, maps: readonly MapRecord[], filtered: boolean) {
    let first = 0;
    let floor = MIN_CLOCK;
    maps.forEach((m, t) => {
      const clock = BigInt(m.clockNs);
      const ceiling = clock > floor ? clock : floor;
      this.tasks.push({
        first, frames: m.frames, floor, ceiling,
        times: -1, kept: -1, filtered, dir,
        indexPath: mapFile(dir, t, "index"),
        index: undefined,
      });
      first += m.frames;
      floor = ceiling;
    });
  }

  /** The tasks' first frames and the archive's clock before each (and, last, after all). */
  get firsts(): number[] { return this.tasks.map((t) => t.first); }
  floors(): bigint[] { return [...this.tasks.map((t) => t.floor), this.tasks.at(-1)?.ceiling ?? MIN_CLOCK]; }

  close(): void {
    this.release(Infinity);
  }

  /**
   * Lets go of the files and index of every task before the one holding frame `from`: `find` never
   * looks before where the reducer stands, so a reducer holds the files of a few tasks at a time.
   */
  release(from: number): void {
    const before = from === Infinity ? this.tasks.length : this.taskOf(from);
    for (let t = 0; t < before; t++) {
      const task = this.tasks[t]!;
      if (task.times >= 0) closeSync(task.times);
      if (task.kept >= 0) closeSync(task.kept);
      task.times = task.kept = -1;
      task.index = undefined;
      for (const flags of [false, true]) for (const key of this.cached[t * 2 + (flags ? 1 : 0)] ?? []) this.cache.delete(key);
      this.cached[t * 2] = this.cached[t * 2 + 1] = undefined;
    }
  }

  /** The cache keys of each task's reads ([task * 2 + flags]). */
  private readonly cached: Array<Set<number> | undefined> = [];

  /**
   * The first frame at or after `from` that the filter kept and whose clock reaches `deadline`,
   * with the clock there; null when no frame of the archive does.
   */
  find(deadline: bigint, from: number): { index: number; clock: bigint } | null {
    for (let t = this.taskOf(from); t < this.tasks.length; t++) {
      const task = this.tasks[t]!;
      if (task.ceiling < deadline) continue;
      let k = Math.max(0, from - task.first);
      if (k >= task.frames) continue;
      if (task.floor < deadline) k = this.firstReaching(t, k, deadline);
      while (k < task.frames && !this.kept(t, k)) k++;
      if (k < task.frames) {
        const own = this.clockAt(t, k);
        return { index: task.first + k, clock: own > task.floor ? own : task.floor };
      }
    }
    return null;
  }

  private taskOf(frame: number): number {
    let lo = 0, hi = this.tasks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.tasks[mid]!.first <= frame) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** The first local frame from `k` on whose task clock reaches `deadline` (the task's last one does). */
  private firstReaching(t: number, k: number, deadline: bigint): number {
    if (this.clockAt(t, k) >= deadline) return k;
    const index = this.indexOf(t);
    // The last block starting below the deadline holds the frame, or the next block starts with it.
    let lo = Math.floor(k / BLOCK_FRAMES), hi = index.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (index[mid]! < deadline) lo = mid; else hi = mid - 1;
    }
    let a = Math.max(k, lo * BLOCK_FRAMES), b = Math.min(this.tasks[t]!.frames - 1, (lo + 1) * BLOCK_FRAMES);
    // clock(a) < deadline <= clock(b)
    while (b - a > 1) {
      const mid = a + ((b - a) >>> 1);
      if (this.clockAt(t, mid) >= deadline) b = mid; else a = mid;
    }
    return b;
  }

  private indexOf(t: number): BigInt64Array {
    const task = this.tasks[t]!;
    if (!task.index) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(task.indexPath));
      } catch (e) {
        throw stageError(task.indexPath, `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); run map --task ${t} again`);
      }
      this.bytesRead += bytes.length;
      task.index = new BigInt64Array(bytes.buffer, 0, bytes.length >> 3);
    }
    return task.index;
  }

  private clockAt(t: number, k: number): bigint {
    const block = this.block(t, Math.floor(k / READ_FRAMES), false) as BigInt64Array;
    return block[k % READ_FRAMES]!;
  }

  private kept(t: number, k: number): boolean {
    if (!this.tasks[t]!.filtered) return true;
    const block = this.block(t, Math.floor(k / (READ_FRAMES * 8)), true) as Uint8Array;
    return block[k % (READ_FRAMES * 8)] === 1;
  }

  private block(t: number, b: number, flags: boolean): BigInt64Array | Uint8Array {
    const key = (t * 2 + (flags ? 1 : 0)) * 2 ** 26 + b;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const task = this.tasks[t]!;
    const bytes = new Uint8Array(READ_FRAMES * 8);
    const at = b * READ_FRAMES * 8;
    if (flags && task.kept < 0) task.kept = openStage(mapFile(task.dir, t, "kept"), `map --task ${t}`);
    if (!flags && task.times < 0) task.times = openStage(mapFile(task.dir, t, "times"), `map --task ${t}`);
    const n = readAt(flags ? task.kept : task.times, bytes, at);
    this.bytesRead += n;
    const value = flags ? bytes.subarray(0, n) : new BigInt64Array(bytes.buffer, 0, n >> 3);
    this.cache.set(key, value);
    (this.cached[t * 2 + (flags ? 1 : 0)] ??= new Set()).add(key);
    if (this.cache.size > CACHED_READS) {
      const oldest = this.cache.keys().next().value!;
      this.cache.delete(oldest);
      const owner = Math.floor(oldest / 2 ** 26);
      this.cached[owner]?.delete(oldest);
    }
    return value;
  }
}
