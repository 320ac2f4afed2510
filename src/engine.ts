// The engine loop: fills the core's input buffer from each source in turn, carries partial records
// over, drains full output batches, and finishes with every connection still open. Users never
// write this loop: `analyze` and `connections` run it.

import type { RecordBatch } from "apache-arrow";
import { Status } from "./abi.js";
import { Core, type Stats } from "./core.js";
import { CoreBatches } from "./batch.js";
import { FileFeed } from "./feed.js";
import { readAhead, type ByteSource } from "./sources.js";

export interface EngineOptions {
  /** Verify IPv4 header and TCP checksums and drop bad packets, as Zeek does without -C. Default false. */
  verifyChecksums?: boolean;
  /** Bytes read per step into wasm memory. Default 8 MiB. */
  chunkSize?: number;
  /** Called after each read with the bytes read so far. */
  onProgress?: (progress: Progress) => void;
  /**
   * Most connections tracked at once; beyond it the least recently active connection is ended
   * (unanswered attempts first) with end_reason "evicted". Default 500,000 (about 1 GB).
   */
  maxFlows?: number;
  /**
   * Bytes of wasm memory the core may use (its WebAssembly.Memory maximum). Going past it is a
   * SynfinError OUT_OF_MEMORY, never a crash. Default 4 GiB (wasm32's limit); maxFlows is what
   * bounds memory by default.
   */
  memoryLimit?: number;
  /** Also produce the events table (one row per lifecycle transition). Default false. */
  events?: boolean;
  /** Receives the events batches as they are produced (with `events`). */
  onEvents?: (batch: RecordBatch) => void;
  /**
   * Seconds: the rows of connections ended so far are emitted at least this often, in a batch
   * shorter than 8,192 rows if need be, also while the input waits for bytes (a live capture
   * through a pipe). Default: none, every batch but the last has 8,192 rows. A single pass only
   * (with it, `workers` is 1).
   */
  flushInterval?: number;
  /**
   * Worker threads for decoding and connection state (README "Workers"); 0 or 1 runs everything
   * in this thread. Default: the available cores minus one with 4 or more cores, else one thread;
   * one thread for inputs under two chunks and with `events`. The output is the same for any number.
   */
  workers?: number;
}

export interface Progress {
  /** The source being read. */
  file: string;
  /** Bytes read so far, over all sources. */
  bytesRead: number;
  /** Total bytes of all sources, when every size is known. */
  totalBytes: number | undefined;
}

export const DEFAULT_CHUNK_SIZE = 8 << 20;

function drainEvents(core: CoreBatches, options: EngineOptions): void {
  const events = core.takeEvents();
  if (events) options.onEvents?.(events);
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

/** Runs the core over the sources in order, as one capture; yields each finished batch. */
export async function* runEngine(core: Core, sources: ByteSource[], options: EngineOptions, done: (stats: Stats) => void): AsyncGenerator<RecordBatch> {
  const out = new CoreBatches(core);
  const chunkSize = Math.max(64 << 10, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
  const sizes = sources.map((s) => s.size);
  const totalBytes = sizes.every((s) => s !== undefined) ? sizes.reduce((a, b) => a! + b!, 0) : undefined;
  const readers = sources.map((s) => readAhead(s, chunkSize));
  let bytesRead = 0;
  const flushMs = options.flushInterval === undefined ? undefined : options.flushInterval * 1000;
  let lastFlush = performance.now();
  try {
    for (const source of readers) {
      const feed = new FileFeed(core, source, chunkSize, (n) => {
        bytesRead += n;
        options.onProgress?.({ file: source.name, bytesRead, totalBytes });
      });
      do {
        const filling = feed.fill();
        if (flushMs === undefined) {
          await filling;
        } else {
          // A live input: while it waits for bytes, the rows ended so far still go out.
          for (let waited; (waited = await untilOrTimeout(filling, lastFlush + flushMs - performance.now())) === "timeout"; ) {
            lastFlush = performance.now();
            drainEvents(out, options);
            const batch = out.takeBatch(true);
            if (batch) yield batch;
          }
        }
        while (true) {
          const step = feed.frame();
          feed.consume(step.consumed);
          if (step.status !== Status.OutputFull) break;
          drainEvents(out, options);
          const batch = out.takeBatch();
          if (batch) yield batch;
        }
        if (flushMs !== undefined && performance.now() - lastFlush >= flushMs) {
          lastFlush = performance.now();
          drainEvents(out, options);
          const batch = out.takeBatch(true);
          if (batch) yield batch;
        }
      } while (feed.next());
      await source.close();
    }
    while (core.finish() === Status.OutputFull) {
      drainEvents(out, options);
      const batch = out.takeBatch();
      if (batch) yield batch;
    }
    drainEvents(out, options);
    for (let last; (last = out.takeBatch(true)); ) yield last;
    done(core.stats());
  } finally {
    await Promise.all(readers.map((s) => s.close().catch(() => undefined)));
  }
}
