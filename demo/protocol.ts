// The protocol between the page and its analysis worker (comlink RPC): what the worker exposes,
// what the page lends it for the duration of one run, and what comes back. Large buffers always
// cross with comlink's `transfer()`.

import type { Stats, SynfinErrorCode } from "../src/browser.js";
import type { Limits } from "./options.js";

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

export interface RunSummary {
  stats: Stats;
  /** Wall time of the run in the worker. */
  seconds: number;
}

/**
 * Why a run stopped: a SynfinError's stable `code` (null for any other error, such as the
 * library's RangeError for an option out of range) and its message. Sent as a value, since an
 * Error thrown across comlink keeps only its name and message.
 */
export interface RunFailure {
  kind: "failed";
  code: SynfinErrorCode | null;
  name: string;
  message: string;
}

export type RunResult = { kind: "done"; summary: RunSummary } | RunFailure;

/** One row of the events table, for the page's event list. */
export interface EventRow {
  tsNs: bigint | null;
  packet: number | null;
  direction: string | null;
  event: string;
  origState: string;
  respState: string;
}

/** One connection's events, and the times of its originator SYNs after the first. */
export interface ConnectionEvents {
  rows: EventRow[];
  synRetransmitsNs: BigInt64Array;
}

/** The worker's API. */
export interface AnalysisApi {
  /**
   * Analyses one capture within `limits` and streams the connection table to `sink` (no events
   * table). A capture the library refuses, or a bound it hits, is a RunFailure.
   */
  analyze(file: Blob, limits: Limits, sink: BatchSink): Promise<RunResult>;
  /** Events of one connection of the last run, in order, read again from its file. */
  eventsOf(connId: number): Promise<ConnectionEvents>;
}
