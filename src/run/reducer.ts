// The protocol between the host and its worker threads, one file for Node and browsers. A worker
// holds two cores: a mapper (decodes framed chunks into partitions) and a reducer (the flow layer
// for one partition); see src/run/parallel.ts. Calls are made through comlink; buffers cross with
// transfer(), never by structured clone.

import { transfer } from "comlink";
import { Abi, Status } from "../core/abi.js";
import { Core, DESC_SIZE, Part, type CoreOptions, type FramedChunk } from "../core/core.js";
import { SynfinError } from "../errors.js";
import { BufferPool, type Bytes } from "../input/pool.js";
import { copyRows, type RowBlock } from "../core/rows.js";
import { RECORD_BUCKETS, type Stats } from "../public.js";

/** A chunk to map, and buffers lent for the partitions' records. */
export interface MapRequest extends Omit<FramedChunk, "times"> {
  spare: ArrayBuffer[];
}

/** A mapped chunk: each partition's records, the frames left to the framer (fragments). */
export interface MapResult {
  records: Bytes[];
  deferred: DeferredFrames | null;
  /** The request's buffers, given back for reuse. */
  returned: ArrayBuffer[];
}

/** Frames a mapper left to the framer: packed, with their index within the chunk. */
export interface DeferredFrames extends Omit<FramedChunk, "times"> {
  indexes: Uint32Array;
}

/** One chunk for one reducer: the time track of every frame, and this partition's records. */
export interface ReduceBatch {
  times: Bytes;
  count: number;
  records: Bytes;
  firstIndex: number;
}

/** What a reducer returns for one chunk (or for the end of input). */
export interface ReduceResult {
  /** Finished rows, in this reducer's order. */
  blocks: RowBlock[];
  /** First packets of the flows this reducer created meanwhile. */
  created: Float64Array;
  /** The first packet of this reducer's oldest live flow (Infinity when none is live). */
  oldestLive: number;
  /** The request's buffers, given back for reuse. */
  returned: ArrayBuffer[];
}

/** A worker's counts at the end: its reducer's connections, its mapper's record buckets. */
export interface WorkerTotals {
  connections: number;
  peakFlows: number;
  evicted: number;
  buckets: Partial<Stats>;
}

/**
 * A failure inside a worker, as plain data (comlink carries only message and name of an Error);
 * a SynfinError's file, offset and detail too, so that the host can throw the same error.
 */
export interface WorkerFailure {
  failed: { code: string; message: string; error?: { file: string; offset: number; detail: string } };
}

export type Reply<T> = T | WorkerFailure;

export function isFailure<T>(reply: Reply<T>): reply is WorkerFailure {
  return typeof reply === "object" && reply !== null && "failed" in reply;
}

export interface WorkerApi {
  start(module: WebAssembly.Module, options: CoreOptions, partitions: number): Promise<Reply<null>>;
  map(request: MapRequest): Reply<MapResult>;
  reduce(batch: ReduceBatch): Reply<ReduceResult>;
  finish(): Reply<ReduceResult & { totals: WorkerTotals }>;
}

export function failure(e: unknown): WorkerFailure {
  const message = (e as Error)?.message ?? String(e);
  if (!(e instanceof SynfinError)) return { failed: { code: "WORKER_FAILED", message } };
  return { failed: { code: e.code, message, error: { file: e.file, offset: e.offset, detail: e.detail } } };
}

/** The worker side: what `expose()` publishes. */
export function makeWorker(): WorkerApi {
  let mapper: Core | undefined;
  let reducer: Core | undefined;
  let partitions = 0;

  function guarded<T>(f: () => T): Reply<T> {
    try {
      return f();
    } catch (e) {
      return failure(e);
    }
  }

  function reply<T extends ReduceResult>(result: T): T {
    return transfer(result, [...result.blocks.map((b) => b.buffer), result.created.buffer as ArrayBuffer, ...result.returned]);
  }

  return {
    async start(module, options, count) {
      try {
        partitions = count;
        mapper = await Core.create(module, { ...options, events: false, packets: false, packetStats: false, maxFlows: 1 });
        mapper.setParallel(Part.Mapper, partitions);
        reducer = await Core.create(module, { ...options, events: false, packets: false, packetStats: false });
        reducer.setParallel(Part.Reducer);
        return null;
      } catch (e) {
        return failure(e);
      }
    },

    map(request) {
      return guarded(() => {
        const pool = new BufferPool();
        pool.give(...request.spare);
        mapper!.mapFrames(request, true);
        const { records, deferred } = mapper!.takePartitions(partitions, pool);
        const left = deferred.length > 0 ? packDeferred(request, deferred) : null;
        const returned = [request.desc.buffer, request.bytes.buffer, ...pool.lend(Infinity)];
        const moved = [...records.map((r) => r.buffer), ...returned, ...(left ? [left.desc.buffer, left.bytes.buffer, left.indexes.buffer as ArrayBuffer] : [])];
        return transfer({ records, deferred: left, returned }, moved);
      });
    },

    reduce(batch) {
      return guarded(() => {
        const c = reducer!;
        const blocks: RowBlock[] = [];
        c.beginReduce(batch.times, batch.count, batch.records, batch.firstIndex);
        while (c.reduce() === Status.OutputFull) drain(c, blocks);
        drain(c, blocks);
        return reply({ blocks, created: c.takeCreated(), oldestLive: c.oldestLive(), returned: [batch.times.buffer, batch.records.buffer] });
      });
    },

    finish() {
      return guarded(() => {
        const c = reducer!;
        const blocks: RowBlock[] = [];
        while (c.finish() === Status.OutputFull) drain(c, blocks);
        drain(c, blocks);
        const s = c.stats();
        const m = mapper!.stats();
        const buckets: Partial<Stats> = {};
        for (const key of RECORD_BUCKETS) buckets[key] = m[key];
        return reply({ blocks, created: c.takeCreated(), oldestLive: Infinity, returned: [], totals: { connections: s.connections, peakFlows: s.peakFlows, evicted: s.evicted, buckets } });
      });
    },
  };
}

/** Copies a core's finished rows out into a new block (none when it has none). */
export function drain(c: Core, blocks: RowBlock[]): void {
  const view = c.outputView();
  if (view.rows === 0) return;
  blocks.push(copyRows(view, view.rows));
  c.shiftOutput(view.rows);
}

/** Bytes of the segment record at `at` (assembly/parallel/parts.ts): a fixed part, then both addresses, 8-aligned. */
export function recordBytes(bytes: Uint8Array, at: number): number {
  return (Abi.RecordFixed + 2 * bytes[at + 55]! + 7) & ~7;
}

/** The deferred frames of a chunk, packed: their descriptors (offsets into the packed bytes). */
export function packDeferred(chunk: Omit<FramedChunk, "times">, indexes: Uint32Array): DeferredFrames {
  const from = new DataView(chunk.desc.buffer);
  const desc = new ArrayBuffer(indexes.length * DESC_SIZE);
  const to = new DataView(desc);
  let size = 0;
  for (const i of indexes) size += from.getUint32(i * DESC_SIZE + 12, true);
  const bytes = new Uint8Array(size);
  const source = new Uint8Array(chunk.bytes.buffer);
  let at = 0;
  indexes.forEach((i, k) => {
    new Uint8Array(desc, k * DESC_SIZE, DESC_SIZE).set(new Uint8Array(chunk.desc.buffer, i * DESC_SIZE, DESC_SIZE));
    const offset = from.getUint32(i * DESC_SIZE + 8, true);
    const capLen = from.getUint32(i * DESC_SIZE + 12, true);
    bytes.set(source.subarray(offset, offset + capLen), at);
    to.setUint32(k * DESC_SIZE + 8, at, true);
    at += capLen;
  });
  return { count: indexes.length, desc: { buffer: desc, length: desc.byteLength }, bytes: { buffer: bytes.buffer, length: size }, indexes };
}
