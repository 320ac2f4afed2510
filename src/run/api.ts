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
import type { AnalyzeOptions, AnalyzeResult, ByteSource, ConnectionStream, SourceReplica, Stats } from "../public.js";




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

  function connections(source: S, options: AnalyzeOptions = {}): ConnectionStream {
    let stats: Stats | undefined;
    return {
      get stats() { return stats; },
      async *[Symbol.asyncIterator]() {
        const sources = platform.open(source);
        const workers = workerCount(options, sources, platform.cores(), platform.spawnWorker !== undefined);
        const here = () => inThreadWorker({ ...makeWorker(), ...replicaWorker(platform.openReplica) });
        const spawn = options.testHooks?.inThreadWorkers ? here : platform.spawnWorker!;
        const done = (s: Stats) => { stats = s; };
        if (workers === 0) {
          // Sources read in steps are read straight into shared memory where there is one.
          const sharedMemory = loadShared !== undefined && !options.testHooks?.copyReads && sources.some((s) => !s.inMemory);
          const core = await Core.create(await (sharedMemory ? loadShared() : loadModule()), { ...options, sharedMemory, exactPathOnly: options.testHooks?.exactPathOnly });
          yield* runEngine(core, sources, options, done);
          return;
        }
        const module = await loadModule();
        if (replicable(sources) && options.testHooks?.design !== "shuffle") {
          // This thread is the first replica: it has the module compiled and only merges besides.
          yield* runReplicated(module, (j) => (j === 0 ? here() : spawn()), workers, sources, options, done);
        } else {
          // The framer holds no flows: its flow table is the smallest there is.
          const framer = await Core.create(module, { ...options, maxFlows: 1 });
          yield* runParallel(framer, module, spawn, workers, sources, options, done);
        }
      },
    };
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

  return { analyze, connections };
}
