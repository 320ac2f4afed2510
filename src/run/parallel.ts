// The parallel engine (DESIGN.md §4, docs/workers.md). This thread reads and frames the capture
// (framing is sequential state: pcapng interfaces, damage and resync) into chunks of whole frames
// with a descriptor and a time each. Map: the chunks go round the workers, which decode them into
// partitions by the symmetric flow hash (IPv4 fragments come back here, to the one fragment table,
// in input order). Shuffle: partition j of every chunk goes to worker j, in chunk order. Reduce:
// worker j runs the flow layer on its partition with every frame's time, so its timers fire where
// a single pass's do. The rows come back merged into exactly the single-pass order, numbered, and
// cut into the same batches: the output is the same for any number of workers and any chunk size.

import { wrap, transfer, type Remote, type Endpoint } from "comlink";
import { DEFAULT_MAX_FLOWS, Part, type Core, type CoreOptions } from "../core/core.js";
import { DEFAULT_CHUNK_SIZE } from "./engine.js";
import { FileFeed } from "../input/feed.js";
import { SynfinError, type SynfinErrorCode } from "../errors.js";
import { isFailure, recordBytes, type MapResult, type ReduceResult, type Reply, type WorkerApi, type WorkerFailure, type WorkerTotals } from "./reducer.js";
import { BufferPool, type Bytes } from "../input/pool.js";
import { RowMerger, type RowBlock } from "../core/rows.js";
import { readAhead } from "../input/sources.js";
import type { ReplicaApi } from "./replica-worker.js";
import { RECORD_BUCKETS, type AnalyzeOptions, type ByteSource, type Stats } from "../public.js";

/** A started worker thread, as the platform makes it. */
export interface WorkerHandle {
  /** The thread's comlink endpoint; or, for a worker in this thread (tests), its API directly. */
  endpoint: Endpoint | Remote<CrewApi>;
  /** Stops the thread (idempotent). */
  terminate(): void;
  /** Stops the thread as a crash would (tests): its death is reported through onDeath. */
  kill(): void;
  /** Calls back once if the thread dies or fails on its own (not after terminate()). */
  onDeath(callback: (reason: string) => void): void;
  /** The "worker" is code in this thread, called directly (its endpoint is its API). */
  inThread?: boolean;
}

/**
 * A worker's death, reported once: `die` calls back the first time only, and not at all after
 * `end` (a worker we stop ourselves has not died). Both platforms' handles use it.
 */
export function deathNotice(): { die(reason: string): void; end(): boolean; onDeath(callback: (reason: string) => void): void } {
  let ended = false;
  let callback: ((reason: string) => void) | undefined;
  return {
    die(reason) {
      if (ended) return;
      ended = true;
      callback?.(reason);
    },
    /** Marks the worker as stopped on purpose; returns whether it had ended already. */
    end() {
      const was = ended;
      ended = true;
      return was;
    },
    onDeath(c) { callback = c; },
  };
}

/** Worker hooks for tests: kill one worker after some map batches (docs/workers.md). */

/** What a worker thread offers: map and reduce (src/run/reducer.ts), and replicated decode (src/run/replica.ts). */
export type CrewApi = WorkerApi & ReplicaApi;

/** A "worker" in this thread: `api` called directly, each answer a promise as over comlink. */
export function inThreadWorker(api: CrewApi): WorkerHandle {
  const death = deathNotice();
  const remote = Object.fromEntries(Object.entries(api).map(([name, f]) => [name, async (...args: unknown[]) => (f as (...a: unknown[]) => unknown)(...args)]));
  return { endpoint: remote as unknown as Remote<CrewApi>, terminate() { death.end(); }, kill() { death.die("terminated"); }, onDeath: death.onDeath, inThread: true };
}

export interface Worker {
  handle: WorkerHandle;
  api: Remote<CrewApi>;
}

/** Started workers, and their replies: a failure or a worker's death comes back thrown. */
export interface Crew {
  workers: Worker[];
  call<T>(reply: Promise<Reply<T>>): Promise<T>;
}

/**
 * Starts `count` workers. `fail` makes the error of a worker's death, `failed` the error of a
 * failure a worker reports; a death rejects every call in flight at once.
 */
export function startWorkers(
  spawn: (j: number) => WorkerHandle,
  count: number,
  fail: (code: string, message: string) => Error,
  failed: (failure: WorkerFailure["failed"]) => Error,
): Crew {
  const workers: Worker[] = [];
  let died: ((e: Error) => void) | undefined;
  const death = new Promise<never>((_, reject) => { died = reject; });
  death.catch(() => undefined);
  const call = <T>(reply: Promise<Reply<T>>): Promise<T> => {
    const answer = Promise.race([reply, death]).then((r) => {
      if (isFailure(r)) throw failed(r.failed);
      return r as T;
    });
    // Awaited in order later, or never if an earlier one failed: not an unhandled rejection.
    answer.catch(() => undefined);
    return answer;
  };
  try {
    for (let j = 0; j < count; j++) {
      const handle = spawn(j);
      handle.onDeath((reason) => died!(fail("WORKER_FAILED", `worker ${j + 1} of ${count} stopped: ${reason}`)));
      const api = handle.inThread ? (handle.endpoint as Remote<CrewApi>) : wrap<CrewApi>(handle.endpoint as Endpoint);
      workers.push({ handle, api });
    }
  } catch (e) {
    for (const w of workers) w.handle.terminate();
    throw e;
  }
  return { workers, call };
}

/** A chunk between map and reduce. */
interface Mapping {
  firstIndex: number;
  count: number;
  times: Bytes;
  map: Promise<MapResult>;
}

/** Runs the framer `core` over the sources with `count` worker threads; yields the merged rows, a batch's worth at a time. */
export async function* runParallel(
  core: Core,
  module: WebAssembly.Module,
  spawn: () => WorkerHandle,
  count: number,
  sources: ByteSource[],
  options: AnalyzeOptions & CoreOptions,
  done: (stats: Stats) => void,
): AsyncGenerator<RowBlock> {
  const chunkSize = Math.max(64 << 10, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const sizes = sources.map((s) => s.size);
  const totalBytes = sizes.every((s) => s !== undefined) ? sizes.reduce((a, b) => a! + b!, 0) : undefined;
  const readers = sources.map((s) => readAhead(s, chunkSize));
  let sourceName = sources[0]?.name ?? "input";
  let bytesRead = 0;
  const fail = (code: string, message: string) => new SynfinError(code as SynfinErrorCode, sourceName, bytesRead, message);
  const { workers, call } = startWorkers(spawn, count, fail, (f) => fail(f.code, `a worker failed: ${f.message}`));
  try {
    core.setParallel(Part.Framer, count);
    // maxFlows bounds memory: each reducer holds its share.
    const maxFlows = Math.ceil((options.maxFlows ?? DEFAULT_MAX_FLOWS) / count);
    const coreOptions: CoreOptions = { verifyChecksums: options.verifyChecksums, maxFlows, memoryLimit: options.memoryLimit, exactPathOnly: options.testHooks?.exactPathOnly, connKey: options.connKey, filter: options.filter };
    await Promise.all(workers.map((w) => call(w.api.start(module, coreOptions, count))));

    const pool = new BufferPool();
    const merger = new RowMerger();
    const mapping: Mapping[] = [];
    const reducing: Array<Promise<ReduceResult[]>> = [];
    let frames = 0;
    let chunks = 0;

    /** Frames what the last feed consumed and sends it to the next worker to map. */
    const dispatchMap = (consumed: number) => {
      if (core.framedCount() === 0) return;
      const { times, ...chunk } = core.takeFrames(consumed, pool);
      const worker = workers[chunks % count]!;
      const request = { ...chunk, spare: pool.lend(count) };
      const map = call(worker.api.map(transfer(request, [chunk.desc.buffer, chunk.bytes.buffer, ...request.spare])));
      mapping.push({ firstIndex: frames, count: chunk.count, times, map });
      frames += chunk.count;
      chunks++;
      if (chunks === options.testHooks?.killWorkerAfterBatches) workers[0]!.handle.kill();
    };

    /** Takes the oldest mapped chunk on: its fragments here, then partition j to worker j. */
    const dispatchReduce = async () => {
      const m = mapping.shift()!;
      const { records, deferred, returned } = await m.map;
      pool.give(...returned);
      if (deferred) {
        core.mapFrames(deferred, false, deferred.indexes);
        const extra = core.takePartitions(count, pool).records;
        for (let j = 0; j < count; j++) records[j] = mergeRecords(records[j]!, extra[j]!, pool);
      }
      const results = Promise.all(workers.map((w, j) => {
        // Each worker gets its own copy of the time track; its partition moves without a copy.
        const times = j === count - 1 ? m.times : pool.copy(new Uint8Array(m.times.buffer, 0, m.times.length));
        const batch = { times, count: m.count, records: records[j]!, firstIndex: m.firstIndex };
        return call(w.api.reduce(transfer(batch, [times.buffer, batch.records.buffer])));
      }));
      const given = results.then((all) => {
        for (const r of all) pool.give(...r.returned);
        return all;
      });
      given.catch(() => undefined);
      reducing.push(given);
    };

    for (const source of readers) {
      sourceName = source.name;
      const feed = new FileFeed(core, source, chunkSize, (n) => {
        bytesRead += n;
        options.onProgress?.({ file: source.name, bytesRead, totalBytes });
      });
      do {
        await feed.fill();
        const step = feed.frame();
        dispatchMap(step.consumed);
        feed.consume(step.consumed);
        // Back-pressure: a chunk being mapped per worker, two being reduced.
        while (mapping.length > count) await dispatchReduce();
        while (reducing.length > REDUCE_AHEAD) {
          merger.add(await reducing.shift()!);
          yield* merger.take(false);
        }
      } while (feed.next());
      await source.close();
    }
    while (mapping.length > 0) await dispatchReduce();
    while (reducing.length > 0) {
      merger.add(await reducing.shift()!);
      yield* merger.take(false);
    }
    const ends = await Promise.all(workers.map((w) => call(w.api.finish())));
    merger.add(ends);
    yield* merger.take(true);
    done(combine(core.stats(), ends.map((e) => e.totals)));
  } finally {
    for (const w of workers) w.handle.terminate();
    await Promise.all(readers.map((s) => s.close().catch(() => undefined)));
  }
}

/** Chunks whose reduce results may wait before the reader stops for them. */
const REDUCE_AHEAD = 2;

/** Two partitions' records of one chunk merged by frame index (fragments decoded here are rare). */
function mergeRecords(a: Bytes, b: Bytes, pool: BufferPool): Bytes {
  if (b.length === 0) return a;
  const buffer = pool.take(a.length + b.length);
  const out = new Uint8Array(buffer);
  const va = new DataView(a.buffer), vb = new DataView(b.buffer);
  let i = 0, j = 0, k = 0;
  while (i < a.length || j < b.length) {
    const takeA = j >= b.length || (i < a.length && va.getUint32(i, true) < vb.getUint32(j, true));
    const [view, at] = takeA ? [va, i] : [vb, j];
    const size = recordBytes(new Uint8Array(view.buffer), at);
    out.set(new Uint8Array(view.buffer, at, size), k);
    k += size;
    if (takeA) i += size; else j += size;
  }
  pool.give(a.buffer, b.buffer);
  return { buffer, length: k };
}

/**
 * The framer counted every record (and decoded the fragments); the workers' mappers sorted the
 * rest into buckets and their reducers counted connections. peakFlows is the sum of the reducers'
 * peaks: at least the single pass's figure, and at most `workers` times it.
 */
function combine(framed: Stats, totals: WorkerTotals[]): Stats {
  const stats = { ...framed };
  for (const t of totals) for (const key of RECORD_BUCKETS) stats[key] += t.buckets[key] ?? 0;
  const sum = (k: "connections" | "peakFlows" | "evicted") => totals.reduce((n, t) => n + t[k], 0);
  return { ...stats, connections: sum("connections"), peakFlows: sum("peakFlows"), evicted: sum("evicted") };
}
