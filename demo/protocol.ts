// The protocol between the page and its analysis worker (comlink RPC): what the worker exposes,
// what the page lends it for the duration of one run, and what comes back. Large buffers always
// cross with comlink's `transfer()`.

import type { Stats } from "../src/browser.js";

/** Bytes read so far, as the library's `onProgress` reports them. */
export interface ReadProgress {
  bytesRead: number;
  totalBytes: number | undefined;
}

/** What the page lends the worker for one run (passed with comlink's `proxy()`). */
export interface BatchSink {
  progress(progress: ReadProgress): void;
  /** The next bytes of one Arrow IPC stream of connection batches (a transferred buffer). */
  ipc(bytes: Uint8Array): Promise<void>;
}

/** SYN retransmissions found in the events table: one entry per originator SYN after the first. */
export interface SynRetransmits {
  connIds: Float64Array;
  tsNs: BigInt64Array;
}

export interface RunSummary {
  stats: Stats;
  /** Wall time of the run in the worker. */
  seconds: number;
  eventCount: number;
  synRetransmits: SynRetransmits;
}

/** One row of the events table, for the page's event list. */
export interface EventRow {
  tsNs: bigint | null;
  packet: number | null;
  direction: string | null;
  event: string;
  origState: string;
  respState: string;
}

/** The worker's API. */
export interface AnalysisApi {
  /** Analyses one capture; streams the connection table to `sink`; keeps the events table. */
  analyze(file: Blob, sink: BatchSink): Promise<RunSummary>;
  /** Events of one connection from the last run, in order. */
  eventsOf(connId: number): Promise<EventRow[]>;
}
