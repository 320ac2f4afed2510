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

/** What identifies a connection of the last run: its conn_id, and what a capture filter for it needs. */
export interface ConnectionKey {
  connId: number;
  /** Index of its first packet among all records (unchanged by a filter). */
  firstPacket: number;
  origH: string;
  origP: number;
  respH: string;
  respP: number;
  /** Inside a tunnel: a filter sees only the outer headers, so the file is read unfiltered. */
  tunnelled: boolean;
}

/**
 * One connection's events, the times of its originator SYNs after the first, and its packets
 * table as columns (index i is one TCP segment, in capture order).
 */
export interface ConnectionDetail {
  events: EventRow[];
  synRetransmitsNs: BigInt64Array;
  /** The capture filter the file was read again with ("" for none). */
  filter: string;
  packet: Float64Array;
  tsNs: BigInt64Array;
  /** 0 orig, 1 resp (as the roles stood at that packet). */
  direction: Uint8Array;
  seq: Float64Array;
  ack: Float64Array;
  hasAck: Uint8Array;
  len: Float64Array;
  window: Float64Array;
  retransmission: Uint8Array;
  /** The segment's SACK blocks, relative: [left, right, left, right, …]; empty without. */
  sack: Float64Array[];
  /** The data RTT sample the segment's ACK completed, in ms; NaN for none. */
  rttMs: Float64Array;
}

/** The worker's API. */
export interface AnalysisApi {
  /**
   * Analyses one capture within `limits` and streams the connection table to `sink` (no events
   * table). A capture the library refuses, or a bound it hits, is a RunFailure.
   */
  analyze(file: Blob, limits: Limits, sink: BatchSink): Promise<RunResult>;
  /**
   * Events and packets of one connection of the last run, in order, read again from its file with
   * a capture filter for its addresses and ports, up to the end of its row.
   */
  detailOf(key: ConnectionKey): Promise<ConnectionDetail>;
}
