// The public API, built once per platform: `analyze` (a whole Table) and `connections` (a stream
// of RecordBatches), over any source the platform can open.

import { Table, type RecordBatch } from "apache-arrow";
import { Core, type Stats } from "./core.js";
import { runEngine, type EngineOptions } from "./engine.js";
import { EVENT_SCHEMA, SCHEMA } from "./schema.js";
import type { ByteSource } from "./sources.js";

/** Options of `analyze` and `connections`. */
export type AnalyzeOptions = EngineOptions;

export interface AnalyzeResult {
  /** One row per TCP connection (see the README for the columns). */
  table: Table;
  /** With `events: true`: one row per lifecycle transition. */
  events?: Table;
  /** Accounting of every record read. */
  stats: Stats;
}

/** A stream of connection batches; `stats` is set once the stream has been read to the end. */
export interface ConnectionStream extends AsyncIterable<RecordBatch> {
  readonly stats: Stats | undefined;
}

export interface Platform<S> {
  loadModule(): Promise<WebAssembly.Module>;
  /** Opens one capture; an array means several files read as one capture, in order. */
  open(source: S): ByteSource[];
}

export function makeApi<S>(platform: Platform<S>) {
  let modulePromise: Promise<WebAssembly.Module> | undefined;
  const loadModule = () => (modulePromise ??= platform.loadModule());

  function connections(source: S, options: AnalyzeOptions = {}): ConnectionStream {
    let stats: Stats | undefined;
    return {
      get stats() { return stats; },
      async *[Symbol.asyncIterator]() {
        const sources = platform.open(source);
        const core = await Core.create(await loadModule(), options);
        yield* runEngine(core, sources, options, (s) => { stats = s; });
      },
    };
  }

  async function analyze(source: S, options: AnalyzeOptions = {}): Promise<AnalyzeResult> {
    const eventBatches: RecordBatch[] = [];
    const onEvents = (batch: RecordBatch) => { eventBatches.push(batch); options.onEvents?.(batch); };
    const stream = connections(source, options.events ? { ...options, onEvents } : options);
    const batches: RecordBatch[] = [];
    for await (const batch of stream) batches.push(batch);
    const result: AnalyzeResult = { table: new Table(SCHEMA, batches), stats: stream.stats! };
    if (options.events) result.events = new Table(EVENT_SCHEMA, eventBatches);
    return result;
  }

  return { analyze, connections };
}
