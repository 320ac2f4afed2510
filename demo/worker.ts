// The analysis worker: runs synfin's `connections()` on a File (read as a stream of slices by
// reader.ts) and streams the connection table to the page as one Arrow IPC stream (chunks
// transferred, never cloned). The main pass builds no events table: when the page asks for one
// connection's events, the file is read again with events, up to the batch that holds that
// connection's row (its events all come before it), so a click costs a read of the file up to
// where that connection ended, and nothing is kept between clicks.

import { AsyncByteQueue, RecordBatchStreamWriter, type RecordBatch } from "apache-arrow";
import { expose, releaseProxy, transfer, type Remote } from "comlink";
import { connections, SynfinError } from "../src/browser.js";
import type { Limits } from "./options.js";
import type { AnalysisApi, BatchSink, ConnectionEvents, EventRow, RunFailure, RunResult, RunSummary } from "./protocol.js";
import type { ReaderMessage, ReadRequest, Taken } from "./reader.js";

/** Collects what the IPC writer emits, so that each batch's bytes can be sent as one buffer. */
class ChunkCollector extends AsyncByteQueue {
  private chunks: Uint8Array[] = [];
  override write(value: Uint8Array): void {
    if (value.byteLength > 0) this.chunks.push(value);
  }
  override close(): void {}
  /** Everything written since the last call, copied into one fresh (transferable) buffer. */
  take(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const chunk of this.chunks) { out.set(chunk, at); at += chunk.byteLength; }
    this.chunks = [];
    return out;
  }
}

/** The last run's file and limits: what a connection's events are read again from. */
let last: { file: Blob; limits: Limits } | null = null;

const SLICE_BYTES = 8 << 20;
const SLICES_AHEAD = 4;

/** The file's bytes in order, read by the reader thread (reader.ts) ahead of the core. */
async function* fileSlices(file: Blob): AsyncGenerator<Uint8Array> {
  const reader = new Worker(new URL("./reader.ts", import.meta.url), { type: "module" });
  const { port1, port2 } = new MessageChannel();
  const inbox: ReaderMessage[] = [];
  let wake: (() => void) | null = null;
  port1.onmessage = ({ data }: MessageEvent<ReaderMessage>) => { inbox.push(data); wake?.(); wake = null; };
  const request: ReadRequest = { file, port: port2, sliceBytes: SLICE_BYTES, ahead: SLICES_AHEAD };
  reader.postMessage(request, [port2]);
  try {
    while (true) {
      while (!inbox.length) await new Promise<void>((resolve) => { wake = resolve; });
      const message = inbox.shift()!;
      if (message.kind === "end") return;
      if (message.kind === "error") throw new Error(`cannot read the file: ${message.message}`);
      // The library asks for the next slice only once it is done with this one.
      yield new Uint8Array(message.bytes);
      const taken: Taken = { kind: "taken", bytes: message.bytes };
      port1.postMessage(taken, [message.bytes]);
    }
  } finally {
    port1.close();
    reader.terminate();
  }
}

async function send(sink: BatchSink, collector: ChunkCollector): Promise<void> {
  const bytes = collector.take();
  if (bytes.byteLength > 0) await sink.ipc(transfer(bytes, [bytes.buffer]));
}

async function analyze(file: Blob, limits: Limits, sink: BatchSink): Promise<RunResult> {
  last = null;
  try {
    const summary = await run(file, limits, sink);
    last = { file, limits };
    return { kind: "done", summary };
  } catch (error) {
    return failure(error, (file as File).name);
  } finally {
    // The page lent `sink` for this run only (comlink proxy): let go of its message channel.
    (sink as Remote<BatchSink>)[releaseProxy]();
  }
}

/** What the page shows for an error; the library names a stream source "input": say which file it was. */
function failure(error: unknown, fileName: string | undefined): RunFailure {
  if (!(error instanceof Error)) return { kind: "failed", code: null, name: "Error", message: String(error) };
  if (!(error instanceof SynfinError)) return { kind: "failed", code: null, name: error.name, message: error.message };
  const message = error.file === "input" && fileName ? `${fileName}${error.message.slice("input".length)}` : error.message;
  return { kind: "failed", code: error.code, name: error.name, message };
}

async function run(file: Blob, limits: Limits, sink: BatchSink): Promise<RunSummary> {
  const started = performance.now();
  const collector = new ChunkCollector();
  const writer = new RecordBatchStreamWriter();
  writer.reset(collector);
  let lastProgress = -Infinity;
  const stream = connections(fileSlices(file), {
    maxFlows: limits.maxFlows,
    memoryLimit: limits.memoryLimit,
    onProgress: ({ bytesRead }) => {
      // A message to the page at most every 100 ms: each one costs the page a repaint.
      if (performance.now() - lastProgress < 100) return;
      lastProgress = performance.now();
      sink.progress({ bytesRead, totalBytes: file.size });
    },
  });
  for await (const batch of stream) {
    writer.write(batch);
    await send(sink, collector);
  }
  writer.finish();
  await send(sink, collector);
  return { stats: stream.stats!, seconds: (performance.now() - started) / 1000 };
}

/** Dictionary codes of one batch's column, with the code each name has in that batch. */
function codes(batch: RecordBatch, column: string): { keys: Int8Array; code: (name: string) => number } {
  const data = batch.getChild(column)!.data[0]!;
  const names = [...(data.dictionary ?? [])] as string[];
  return { keys: data.values as Int8Array, code: (name) => names.indexOf(name) };
}

/**
 * One connection's events, read again from the last run's file with the same options (so the
 * same conn_ids), stopping at the batch that holds its row.
 */
async function eventsOf(connId: number): Promise<ConnectionEvents> {
  if (!last) return { rows: [], synRetransmitsNs: new BigInt64Array(0) };
  const id = BigInt(connId);
  const batches: RecordBatch[] = [];
  const stream = connections(fileSlices(last.file), {
    maxFlows: last.limits.maxFlows,
    memoryLimit: last.limits.memoryLimit,
    events: true,
    onEvents: (batch) => { if ((batch.getChild("conn_id")!.data[0]!.values as BigUint64Array).includes(id)) batches.push(batch); },
  });
  for await (const batch of stream) {
    if ((batch.getChild("conn_id")!.data[0]!.values as BigUint64Array).includes(id)) break;
  }
  const rows: EventRow[] = [];
  const synRetransmitsNs: bigint[] = [];
  let synSeen = false;
  for (const batch of batches) {
    const ids = batch.getChild("conn_id")!.data[0]!.values as BigUint64Array;
    const event = codes(batch, "event");
    const direction = codes(batch, "direction");
    const syn = event.code("SYN");
    const orig = direction.code("orig");
    for (let i = 0; i < batch.numRows; i++) {
      if (ids[i] !== id) continue;
      const row = batch.get(i)!;
      const tsNs = row.ts === null ? null : tsOf(batch, i);
      rows.push({
        tsNs,
        packet: row.packet === null ? null : Number(row.packet),
        direction: row.direction ?? null,
        event: row.event,
        origState: row.orig_state,
        respState: row.resp_state,
      });
      // Every originator SYN after the connection's first one is a retransmission of it.
      if (event.keys[i] === syn && direction.keys[i] === orig) {
        if (synSeen && tsNs !== null) synRetransmitsNs.push(tsNs);
        synSeen = true;
      }
    }
  }
  return { rows, synRetransmitsNs: BigInt64Array.from(synRetransmitsNs) };
}

function tsOf(batch: RecordBatch, row: number): bigint {
  return (batch.getChild("ts")!.data[0]!.values as BigInt64Array)[row]!;
}

const api: AnalysisApi = { analyze, eventsOf };
expose(api);
