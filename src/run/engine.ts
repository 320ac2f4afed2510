// The engine loop: fills the core's input buffer from each source in turn, carries partial records
// over, drains full output batches, and finishes with every connection still open. Users never
// write this loop: `analyze` and `connections` run it.

import { Status } from "../core/abi.js";
import { Core } from "../core/core.js";
import { CoreBatches } from "../core/batch.js";
import { DirectFeed, FileFeed } from "../input/feed.js";
import { readAhead } from "../input/sources.js";
import type { AnalyzeOptions, ByteSource, Progress, Stats } from "../public.js";



export const DEFAULT_CHUNK_SIZE = 8 << 20;
/** The largest read step: two halves of it (src/input/feed.ts) stay well inside one allocation of the core's heap (1 GiB). */
export const MAX_CHUNK_SIZE = 256 << 20;

/**
 * Hands the side tables' rows written so far (events, packets) to their callbacks, and waits for
 * what they return: a consumer that writes them out holds the run back to its pace.
 */
async function drainSide(core: CoreBatches, options: AnalyzeOptions): Promise<void> {
  const events = core.takeEvents();
  if (events) await options.onEvents?.(events);
  const packets = core.takePackets();
  if (packets) await options.onPackets?.(packets);
}

/** Resolves "done" when `p` settles (rejecting as it rejects), or "timeout" after `ms` first. */
async function untilOrTimeout(p: Promise<void>, ms: number): Promise<"done" | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => { timer = setTimeout(() => resolve("timeout"), Math.max(0, ms)); });
  try {
    return await Promise.race([p.then(() => "done" as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the core over the sources in order, as one capture; yields each finished batch as `take`
 * takes it out of the core (a RecordBatch, or the rows copied out for another thread to build).
 */
export async function* runEngine<T>(core: Core, sources: ByteSource[], options: AnalyzeOptions, done: (stats: Stats) => void,
  take: (out: CoreBatches, all: boolean) => T | null): AsyncGenerator<T> {
  const out = new CoreBatches(core);
  const chunkSize = Math.max(64 << 10, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const sizes = sources.map((s) => s.size);
  const totalBytes = sizes.every((s) => s !== undefined) ? sizes.reduce((a, b) => a! + b!, 0) : undefined;
  // Over shared memory, files are read straight into the core's input buffer (DirectFeed); else
  // through a read-ahead buffer, with a copy.
  const direct = core.sharedMemory;
  const readers = direct ? sources : sources.map((s) => readAhead(s, chunkSize));
  let feed: FileFeed | DirectFeed | undefined;
  let bytesRead = 0;
  const flushMs = options.flushInterval === undefined ? undefined : options.flushInterval * 1000;
  let lastFlush = performance.now();
  try {
    for (const source of readers) {
      const onRead = (n: number) => {
        bytesRead += n;
        options.onProgress?.({ file: source.name, bytesRead, totalBytes });
      };
      feed = direct && !source.inMemory ? new DirectFeed(core, source, chunkSize, onRead) : new FileFeed(core, source, chunkSize, onRead);
      do {
        const filling = feed.fill();
        if (flushMs === undefined) {
          await filling;
        } else {
          // A live input: while it waits for bytes, the rows ended so far still go out.
          for (let waited; (waited = await untilOrTimeout(filling, lastFlush + flushMs - performance.now())) === "timeout"; ) {
            lastFlush = performance.now();
            await drainSide(out, options);
            const batch = take(out, true);
            if (batch) yield batch;
          }
        }
        while (true) {
          const step = feed.frame();
          feed.consume(step.consumed);
          if (step.status !== Status.OutputFull) break;
          await drainSide(out, options);
          const batch = take(out, false);
          if (batch) yield batch;
        }
        if (flushMs !== undefined && performance.now() - lastFlush >= flushMs) {
          lastFlush = performance.now();
          await drainSide(out, options);
          const batch = take(out, true);
          if (batch) yield batch;
        }
      } while (feed.next());
      await source.close();
    }
    while (core.finish() === Status.OutputFull) {
      await drainSide(out, options);
      const batch = take(out, false);
      if (batch) yield batch;
    }
    await drainSide(out, options);
    for (let last; (last = take(out, true)); ) yield last;
    done(core.stats());
  } finally {
    if (feed instanceof DirectFeed) await feed.settle();
    await Promise.all(readers.map((s) => s.close().catch(() => undefined)));
  }
}
