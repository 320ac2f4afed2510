// The analysis worker: runs synfin's `connections()` on a File (read as a stream of slices by
// reader.ts), streams the connection table to the page as one Arrow IPC stream (chunks
// transferred, never cloned), and keeps the events table here so that the page can ask for one
// connection's events.

import { AsyncByteQueue, RecordBatchStreamWriter, type RecordBatch } from "apache-arrow";
import { expose, releaseProxy, transfer, type Remote } from "comlink";
import { connections, SynfinError } from "../src/browser.js";
import type { Limits } from "./options.js";
import type { AnalysisApi, BatchSink, EventRow, RunFailure, RunResult, RunSummary, SynRetransmits } from "./protocol.js";
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

let events: RecordBatch[] = [];

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
      yield new Uint8Array(message.bytes);
      const taken: Taken = { kind: "taken" };
      port1.postMessage(taken);
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
  events = [];
  try {
    const summary = await run(file, limits, sink);
    return transfer({ kind: "done", summary }, [summary.synRetransmits.connIds.buffer, summary.synRetransmits.tsNs.buffer]);
  } catch (error) {
    events = [];
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
  const stream = connections(fileSlices(file), {
    maxFlows: limits.maxFlows,
    memoryLimit: limits.memoryLimit,
    events: true,
    onEvents: (batch) => { events.push(batch); },
    onProgress: ({ bytesRead }) => { sink.progress({ bytesRead, totalBytes: file.size }); },
  });
  for await (const batch of stream) {
    writer.write(batch);
    await send(sink, collector);
  }
  writer.finish();
  await send(sink, collector);
  return {
    stats: stream.stats!,
    seconds: (performance.now() - started) / 1000,
    eventCount: events.reduce((n, b) => n + b.numRows, 0),
    synRetransmits: findSynRetransmits(events),
  };
}

/** Dictionary codes of one batch's column, with the code each name has in that batch. */
function codes(batch: RecordBatch, column: string): { keys: Int8Array; code: (name: string) => number } {
  const data = batch.getChild(column)!.data[0]!;
  const names = [...(data.dictionary ?? [])] as string[];
  return { keys: data.values as Int8Array, code: (name) => names.indexOf(name) };
}

/** Every originator SYN after a connection's first one. */
function findSynRetransmits(batches: RecordBatch[]): SynRetransmits {
  const seen = new Set<bigint>();
  const connIds: number[] = [];
  const tsNs: bigint[] = [];
  for (const batch of batches) {
    const ids = batch.getChild("conn_id")!.data[0]!.values as BigUint64Array;
    const ts = batch.getChild("ts")!.data[0]!.values as BigInt64Array;
    const event = codes(batch, "event");
    const direction = codes(batch, "direction");
    const syn = event.code("SYN");
    const orig = direction.code("orig");
    for (let i = 0; i < batch.numRows; i++) {
      if (event.keys[i] !== syn || direction.keys[i] !== orig) continue;
      if (seen.has(ids[i]!)) { connIds.push(Number(ids[i])); tsNs.push(ts[i]!); } else seen.add(ids[i]!);
    }
  }
  return { connIds: Float64Array.from(connIds), tsNs: BigInt64Array.from(tsNs) };
}

async function eventsOf(connId: number): Promise<EventRow[]> {
  const id = BigInt(connId);
  const rows: EventRow[] = [];
  for (const batch of events) {
    const ids = batch.getChild("conn_id")!.data[0]!.values as BigUint64Array;
    for (let i = 0; i < batch.numRows; i++) {
      if (ids[i] !== id) continue;
      const row = batch.get(i)!;
      rows.push({
        tsNs: row.ts === null ? null : tsOf(batch, i),
        packet: row.packet === null ? null : Number(row.packet),
        direction: row.direction ?? null,
        event: row.event,
        origState: row.orig_state,
        respState: row.resp_state,
      });
    }
  }
  return rows;
}

function tsOf(batch: RecordBatch, row: number): bigint {
  return (batch.getChild("ts")!.data[0]!.values as BigInt64Array)[row]!;
}

const api: AnalysisApi = { analyze, eventsOf };
expose(api);
