// The public API, built once per platform: `analyze` (a whole Table) and `connections` (a stream
// of RecordBatches), over any source the platform can open.

import { Table, type RecordBatch } from "apache-arrow";
import { Core } from "../core/core.js";
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, runEngine } from "./engine.js";
import { inThreadWorker, runParallel, type WorkerHandle } from "./parallel.js";
import { makeWorker } from "./reducer.js";
import { replicable, runReplicated } from "./replica.js";
import { replicaWorker } from "./replica-worker.js";
import { EVENT_SCHEMA, PACKET_SCHEMA, SCHEMA, STATS_SCHEMA } from "../output/schema.js";
import { BatchBuilder, type CoreBatches } from "../core/batch.js";
import type { RowBlock } from "../core/rows.js";
import type { AnalyzeOptions, AnalyzeResult, ByteSource, ConnectionStream, SourceReplica, Stats } from "../public.js";

/**
 * The finished connections of a run, as the stream hands them on: Arrow batches, or the same rows
 * copied out of the core for another thread to build them (the command's output thread).
 */
interface Form<T> {
  /** Takes the next batch out of a single pass's core (see CoreBatches.takeBatch). */
  single(out: CoreBatches, all: boolean): T | null;
  /** One batch's worth of the parallel paths' merged rows. */
  merged(block: RowBlock): T;
}

/** Each run's form of RecordBatches: its own builder, whose dictionaries grow over the run. */
function batchForm(): Form<RecordBatch> {
  const builder = new BatchBuilder();
  return { single: (out, all) => out.takeBatch(all), merged: (block) => builder.buildRows(block) };
}

/** Rows copied out of a single pass's core into the buffers in `spares` where there are any. */
function rowForm(spares: ArrayBuffer[]): Form<RowBlock> {
  return { single: (out, all) => out.takeRows(all, spares), merged: (block) => block };
}

/** A stream of a run's finished connections, with the run's accounting once it has ended. */
export interface RowStream<T> extends AsyncIterable<T> {
  readonly stats: Stats | undefined;
}




export interface Platform<S> {
  loadModule(): Promise<WebAssembly.Module>;
  /**
   * The shared-memory build of the core (absent where shared memory is not to be had): the single
   * pass reads files straight into its memory (DirectFeed, src/input/feed.ts).
   */
  loadSharedModule?(): Promise<WebAssembly.Module>;
  /** Opens one capture; an array means several files read as one capture, in order. */
  open(source: S): ByteSource[];
  /** Starts a worker thread running src/run/reducer.ts (absent: everything runs in this thread). */
  spawnWorker?(): WorkerHandle;
  /** Opens a source again, as a worker does (src/run/replica.ts). */
  openReplica(replica: SourceReplica): ByteSource;
  /** The number of cores to use by default. */
  cores(): number;
}

/** How many reducer threads a run uses (0: a single pass in this thread). */
function workerCount(options: AnalyzeOptions, sources: ByteSource[], cores: number, canSpawn: boolean): number {
  const flush = options.flushInterval;
  if (flush !== undefined && !(Number.isFinite(flush) && flush > 0)) throw new RangeError(`synfin: flushInterval must be a number of seconds above 0, got ${flush}`);
  if (options.connKey !== undefined && options.connKey !== "five-tuple" && options.connKey !== "vlan") throw new RangeError(`synfin: connKey must be "five-tuple" or "vlan", got ${JSON.stringify(options.connKey)}`);
  const chunk = options.chunkSize;
  if (chunk !== undefined && !(Number.isInteger(chunk) && chunk >= 1 && chunk <= MAX_CHUNK_SIZE)) {
    throw new RangeError(`synfin: chunkSize must be a whole number of bytes from 1 to ${MAX_CHUNK_SIZE} (256 MiB; under 64 KiB reads 64 KiB), got ${chunk}`);
  }
  const asked = options.workers;
  if (asked !== undefined && (!Number.isInteger(asked) || asked < 0 || asked > 256)) throw new RangeError(`synfin: workers must be an integer from 0 to 256, got ${asked}`);
  if (options.events || options.packets || options.packetStats || options.flushInterval !== undefined) return 0;
  if (!canSpawn && !options.testHooks?.inThreadWorkers) return 0;
  if (asked === undefined) {
    // Nothing to share out in an input of under two chunks: a thread would cost more than it saves.
    const total = sources.reduce((n, s) => (n === undefined || s.size === undefined ? undefined : n + s.size), 0 as number | undefined);
    if (total !== undefined && total < 2 * (options.chunkSize ?? DEFAULT_CHUNK_SIZE)) return 0;
  }
  // By default one core reads and frames, the others map and reduce; below 4 cores the shuffle's
  // extra work outweighs the gain (docs/workers.md).
  const n = asked ?? (cores >= 4 ? cores - 1 : 0);
  return n <= 1 ? 0 : n;
}

export function makeApi<S>(platform: Platform<S>) {
  let modulePromise: Promise<WebAssembly.Module> | undefined;
  let sharedPromise: Promise<WebAssembly.Module> | undefined;
  const loadModule = () => (modulePromise ??= platform.loadModule());
  const loadShared = platform.loadSharedModule && (() => (sharedPromise ??= platform.loadSharedModule!()));

  function stream<T>(source: S, options: AnalyzeOptions, form: () => Form<T>): RowStream<T> {
    let stats: Stats | undefined;
    return {
      get stats() { return stats; },
      async *[Symbol.asyncIterator]() {
        const sources = platform.open(source);
        const workers = workerCount(options, sources, platform.cores(), platform.spawnWorker !== undefined);
        const here = () => inThreadWorker({ ...makeWorker(), ...replicaWorker(platform.openReplica) });
        const spawn = options.testHooks?.inThreadWorkers ? here : platform.spawnWorker!;
        const done = (s: Stats) => { stats = s; };
        const f = form();
        if (workers === 0) {
          // Sources read in steps are read straight into shared memory where there is one.
          const sharedMemory = loadShared !== undefined && !options.testHooks?.copyReads && sources.some((s) => !s.inMemory);
          const core = await Core.create(await (sharedMemory ? loadShared() : loadModule()), { ...options, sharedMemory, exactPathOnly: options.testHooks?.exactPathOnly });
          yield* runEngine(core, sources, options, done, f.single);
          return;
        }
        const module = await loadModule();
        // This thread is the first replica: it has the module compiled and only merges besides.
        const blocks = replicable(sources) && options.testHooks?.design !== "shuffle"
          ? runReplicated(module, (j) => (j === 0 ? here() : spawn()), workers, sources, options, done)
          // The framer holds no flows: its flow table is the smallest there is.
          : runParallel(await Core.create(module, { ...options, maxFlows: 1 }), module, spawn, workers, sources, options, done);
        for await (const block of blocks) yield f.merged(block);
      },
    };
  }

  function connections(source: S, options: AnalyzeOptions = {}): ConnectionStream {
    return stream(source, options, batchForm) as ConnectionStream;
  }

  /**
   * The connections as `connections` streams them, each batch's rows not yet built into Arrow:
   * `new BatchBuilder().buildRows(block, packetStats)`, over the blocks in order, makes the same
   * RecordBatches. The command hands them to an output thread, which builds and writes them
   * while this thread analyses on, and hands their buffers back into `spares`, where a single
   * pass copies later rows.
   */
  function connectionRows(source: S, options: AnalyzeOptions = {}, spares: ArrayBuffer[] = []): RowStream<RowBlock> {
    return stream(source, options, () => rowForm(spares));
  }

  async function analyze(source: S, options: AnalyzeOptions = {}): Promise<AnalyzeResult> {
    const eventBatches: RecordBatch[] = [];
    const packetBatches: RecordBatch[] = [];
    const onEvents = async (batch: RecordBatch) => { eventBatches.push(batch); await options.onEvents?.(batch); };
    const onPackets = async (batch: RecordBatch) => { packetBatches.push(batch); await options.onPackets?.(batch); };
    const stream = connections(source, { ...options, ...(options.events ? { onEvents } : {}), ...(options.packets ? { onPackets } : {}) });
    const batches: RecordBatch[] = [];
    for await (const batch of stream) batches.push(batch);
    const result: AnalyzeResult = { table: new Table(options.packetStats ? STATS_SCHEMA : SCHEMA, batches), stats: stream.stats! };
    if (options.events) result.events = new Table(EVENT_SCHEMA, eventBatches);
    if (options.packets) result.packets = new Table(PACKET_SCHEMA, packetBatches);
    return result;
  }

  return { analyze, connections, connectionRows };
}
