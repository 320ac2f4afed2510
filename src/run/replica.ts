// Replicated decode (DESIGN.md §4, docs/workers.md): every worker opens the capture itself, frames
// and decodes all of it as a single pass does and steps its clock through every frame, but keeps
// only the flows of its own partition (assembly/parallel/parts.ts MODE_REPLICA). Nothing is shuffled:
// this thread only merges the rows. The workers read in the same steps (one input buffer each, of
// the same size), so step k of every worker covers the same frames; the host merges the rows of
// each step with RowMerger, as it merges reducers' rows, into exactly the single pass's order.
// This is the host's side; src/run/replica-worker.ts is the workers'.

import { DEFAULT_MAX_FLOWS } from "../core/core.js";
import { DEFAULT_CHUNK_SIZE } from "./engine.js";
import { SynfinError, type SynfinErrorCode } from "../errors.js";
import { startWorkers, type WorkerHandle } from "./parallel.js";
import type { ReplicaRequest, ReplicaStep } from "./replica-worker.js";
import { RowMerger, type RowBlock } from "../core/rows.js";
import type { AnalyzeOptions, ByteSource, Stats } from "../public.js";

/** Whether every source can be opened again by a worker (a file, a Blob; not a stream). */
export function replicable(sources: ByteSource[]): boolean {
  return sources.every((s) => s.replica !== undefined);
}

/** Steps asked of each replica ahead of the one being merged. */
const STEPS_AHEAD = 6;

/** Runs `count` replicas over the sources; yields the merged rows, a batch's worth (BatchRows) at a time. */
export async function* runReplicated(
  module: WebAssembly.Module,
  spawn: (j: number) => WorkerHandle,
  count: number,
  sources: ByteSource[],
  options: AnalyzeOptions,
  done: (stats: Stats) => void,
): AsyncGenerator<RowBlock> {
  const sizes = sources.map((s) => s.size);
  const totalBytes = sizes.every((s) => s !== undefined) ? sizes.reduce((a, b) => a! + b!, 0) : undefined;
  let file = sources[0]?.name ?? "input";
  let bytesRead = 0;
  const fail = (code: string, message: string) => new SynfinError(code as SynfinErrorCode, file, bytesRead, message);
  // A replica's error is the single pass's error: thrown as it was made.
  const { workers, call } = startWorkers(spawn, count, fail, (f) =>
    f.error ? new SynfinError(f.code as SynfinErrorCode, f.error.file, f.error.offset, f.error.detail) : fail(f.code, `a worker failed: ${f.message}`));
  try {
    const request: ReplicaRequest = {
      // maxFlows bounds memory: each replica holds its share.
      options: { verifyChecksums: options.verifyChecksums, maxFlows: Math.ceil((options.maxFlows ?? DEFAULT_MAX_FLOWS) / count), memoryLimit: options.memoryLimit, exactPathOnly: options.testHooks?.exactPathOnly, connKey: options.connKey, filter: options.filter },
      hashes: [0, 0],
      sources: sources.map((s) => s.replica!),
      chunkSize: Math.max(64 << 10, options.chunkSize ?? DEFAULT_CHUNK_SIZE),
    };
    const hashes = shares(count);
    await Promise.all(workers.map((w, j) => call(w.api.replicate(module, { ...request, hashes: hashes[j]! }))));
    const ahead = workers.map((w) => Array.from({ length: STEPS_AHEAD }, () => call(w.api.step())));
    const merger = new RowMerger();
    for (let merged = 1; ; merged++) {
      if (merged === options.testHooks?.killWorkerAfterBatches) workers[0]!.handle.kill();
      const steps = await Promise.all(ahead.map((queue, j) => {
        queue.push(call(workers[j]!.api.step()));
        return queue.shift()!;
      }));
      const first = steps[0];
      if (!first || steps.some((s) => s === null || s.records !== first.records || (s.stats === undefined) !== (first.stats === undefined))) {
        throw fail("WORKER_FAILED", "the workers read the input differently (internal error)");
      }
      file = first.file;
      if (first.bytesRead !== bytesRead) {
        bytesRead = first.bytesRead;
        options.onProgress?.({ file, bytesRead, totalBytes });
      }
      const last = first.stats !== undefined;
      merger.add(steps as ReplicaStep[]);
      yield* merger.take(last);
      if (last) {
        done(combine(steps.map((s) => s!.stats!)));
        return;
      }
    }
  } finally {
    for (const w of workers) w.handle.terminate();
    await Promise.all(sources.map((s) => s.close().catch(() => undefined)));
  }
}

/**
 * The flow hashes of each replica: the hash space cut in `count` ranges. The first replica runs in
 * this thread, which also merges the rows and builds the batches: it takes half a share; the
 * others share the rest equally (measured on 2 cores, docs/workers.md).
 */
export function shares(count: number): Array<[number, number]> {
  const space = 2 ** 32;
  // Weights ½, 1, 1, …: the first lane's share is half another's.
  const unit = space / (count - 0.5);
  const bounds = Array.from({ length: count }, (_, j) => (j === 0 ? 0 : Math.round(unit * (j - 0.5))));
  return bounds.map((lo, j) => [lo, j + 1 < count ? bounds[j + 1]! - 1 : space - 1]);
}

/**
 * Every replica counted every record (the same counts); each counted its own connections. peakFlows
 * is the sum of the replicas' peaks: at least the single pass's figure, at most `count` times it.
 */
function combine(all: Stats[]): Stats {
  const sum = (k: "connections" | "peakFlows" | "evicted") => all.reduce((n, s) => n + s[k], 0);
  return { ...all[0]!, connections: sum("connections"), peakFlows: sum("peakFlows"), evicted: sum("evicted") };
}
