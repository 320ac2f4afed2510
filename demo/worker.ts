// The analysis worker: runs synfin's `connections()` on a File (read as a stream of slices by
// reader.ts) and streams the connection table to the page as one Arrow IPC stream (chunks
// transferred, never cloned). The main pass builds no events or packets table: when the page asks
// for one connection's, the file is read again with both and a capture filter for that
// connection, up to the end of its row (its events and packets all come before it), so a click
// costs a filtered read of the file up to where that connection ended, and nothing is kept
// between clicks.

import { AsyncByteQueue, RecordBatchStreamWriter, type RecordBatch } from "apache-arrow";
import { expose, releaseProxy, transfer, type Remote } from "comlink";
import { connections, SynfinError } from "../src/browser.js";
import type { Limits } from "./options.js";
import type { AnalysisApi, BatchSink, ConnectionDetail, ConnectionKey, EventRow, RunFailure, RunResult, RunSummary } from "./protocol.js";
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
 * One connection's events and packets, read again from the last run's file with events and the
 * packets table, and with a capture filter for its addresses and ports (on one or two VLAN tags
 * too) unless it is inside a tunnel (a filter sees the outer headers), stopping once its row has
 * come out. A filtered run numbers its connections afresh, so the connection is found by its
 * first packet's index, which a filter does not change.
 */
async function detailOf(key: ConnectionKey): Promise<ConnectionDetail> {
  const filter = key.tunnelled ? "" : keyFilter(key);
  // Unfiltered, conn_ids are the first run's: only that connection's rows are kept as they come.
  const fixedId = filter ? null : BigInt(key.connId);
  const eventBatches: RecordBatch[] = [];
  const packetBatches: RecordBatch[] = [];
  const keep = (list: RecordBatch[]) => (batch: RecordBatch) => {
    if (fixedId === null || (batch.getChild("conn_id")!.data[0]!.values as BigUint64Array).includes(fixedId)) list.push(batch);
  };
  if (!last) return detailFrom([], [], null, filter);
  const stream = connections(fileSlices(last.file), {
    maxFlows: last.limits.maxFlows,
    memoryLimit: last.limits.memoryLimit,
    filter: filter || undefined,
    events: true,
    onEvents: keep(eventBatches),
    packets: true,
    onPackets: keep(packetBatches),
    // The row comes out within this much of its end, rather than with the next 8,192 rows.
    flushInterval: 0.25,
  });
  const first = BigInt(key.firstPacket);
  for await (const batch of stream) {
    if ((batch.getChild("first_packet")!.data[0]!.values as BigUint64Array).includes(first)) break;
  }
  let id = fixedId;
  for (const batch of packetBatches) {
    const at = (batch.getChild("packet")!.data[0]!.values as BigInt64Array).indexOf(first);
    if (at >= 0) { id = (batch.getChild("conn_id")!.data[0]!.values as BigUint64Array)[at]!; break; }
  }
  return detailFrom(eventBatches, packetBatches, id, filter);
}

/** A capture filter for a connection's addresses and ports, untagged or on one or two VLAN tags. */
function keyFilter(key: ConnectionKey): string {
  const f = `(host ${key.origH} and host ${key.respH} and tcp port ${key.origP} and tcp port ${key.respP})`;
  // `vlan` moves every later offset: the untagged test comes first.
  return `${f} or (vlan and ${f}) or (vlan and vlan and ${f})`;
}

/** The rows of connection `id` (none when null) of the events and packets batches, as ConnectionDetail. */
function detailFrom(eventBatches: RecordBatch[], packetBatches: RecordBatch[], id: bigint | null, filter: string): ConnectionDetail {
  const events: EventRow[] = [];
  const synRetransmitsNs: bigint[] = [];
  let synSeen = false;
  for (const batch of eventBatches) {
    const ids = batch.getChild("conn_id")!.data[0]!.values as BigUint64Array;
    const event = codes(batch, "event");
    const direction = codes(batch, "direction");
    const syn = event.code("SYN");
    const orig = direction.code("orig");
    for (let i = 0; i < batch.numRows; i++) {
      if (ids[i] !== id) continue;
      const row = batch.get(i)!;
      const tsNs = row.ts === null ? null : tsOf(batch, i);
      events.push({
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
  const picked: [RecordBatch, number][] = [];
  for (const batch of packetBatches) {
    const ids = batch.getChild("conn_id")!.data[0]!.values as BigUint64Array;
    for (let i = 0; i < batch.numRows; i++) if (ids[i] === id) picked.push([batch, i]);
  }
  const n = picked.length;
  const detail: ConnectionDetail = {
    events, synRetransmitsNs: BigInt64Array.from(synRetransmitsNs), filter,
    packet: new Float64Array(n), tsNs: new BigInt64Array(n), direction: new Uint8Array(n), seq: new Float64Array(n),
    ack: new Float64Array(n), hasAck: new Uint8Array(n), len: new Float64Array(n), window: new Float64Array(n),
    retransmission: new Uint8Array(n), rttMs: new Float64Array(n), sack: new Array<Float64Array>(n),
  };
  picked.forEach(([batch, i], k) => {
    const row = batch.get(i)!;
    detail.packet[k] = Number(row.packet);
    detail.tsNs[k] = tsOf(batch, i);
    detail.direction[k] = row.direction === "resp" ? 1 : 0;
    detail.seq[k] = row.seq;
    detail.hasAck[k] = row.ack === null ? 0 : 1;
    detail.ack[k] = row.ack ?? 0;
    detail.len[k] = row.len ?? 0;
    detail.window[k] = row.window;
    detail.retransmission[k] = row.retransmission ? 1 : 0;
    detail.sack[k] = row.sack ? Float64Array.from(row.sack.split(/[-,]/), Number) : NO_SACK;
    const rtt = batch.getChild("rtt")!.data[0]!;
    detail.rttMs[k] = rtt.getValid(i) ? Number((rtt.values as BigInt64Array)[i]!) / 1e6 : NaN;
  });
  return detail;
}

const NO_SACK = new Float64Array(0);

function tsOf(batch: RecordBatch, row: number): bigint {
  return (batch.getChild("ts")!.data[0]!.values as BigInt64Array)[row]!;
}

const api: AnalysisApi = { analyze, detailOf };
expose(api);
