// One output file written by a thread of its own (src/cli/output-worker.ts): the command hands
// each batch over as an Arrow IPC stream and goes on with the analysis while the thread encodes
// Parquet or formats CSV or NDJSON, which take about half as long as the analysis itself. Files
// in other formats (Arrow IPC costs little more than the hand-over would) and standard output
// are written in the command's thread.

import { Worker } from "node:worker_threads";
import { Table, tableToIPC, type RecordBatch } from "apache-arrow";
import type { OutputFormat } from "./batch-writer.js";
import type { ZeekTable } from "../output/zeek.js";
import { outputWorkerUrl } from "../assets.js";

/**
 * Bytes an output file buffers before a write waits for the disk: more than one batch's Arrow IPC
 * (about 4 MiB for 8,192 connection rows), which is then written while the core runs on.
 */
export const SINK_BUFFER = 16 << 20;

/**
 * The formats an output thread writes: on the 1 GiB header-only capture with two cores, Parquet
 * 2.68 → 2.31 s, CSV 2.48 → 2.00 s, NDJSON 3.24 → 2.39 s (medians of three alternated runs). A
 * Zeek log, cheaper to format, gained nothing (1.87 against 1.95 s), nor would Arrow IPC.
 */
export const THREADED_FORMATS: ReadonlySet<OutputFormat> = new Set(["parquet", "csv", "ndjson"]);

/** What the thread is started with: the open file, and how to write the table. */
export interface OutputThreadData {
  fd: number;
  format: OutputFormat;
  table: ZeekTable;
  vlanKey: boolean;
  withStats: boolean;
}

export type ToOutputThread = { kind: "batch"; ipc: Uint8Array } | { kind: "end" };
export type FromOutputThread = { kind: "written" } | { kind: "ended" } | { kind: "failed"; message: string };

/** Batches handed over and not yet written: the analysis waits beyond this many. */
const AHEAD = 2;

export class OutputThread {
  private readonly worker: Worker;
  private pending = 0;
  private ended = false;
  private stopped = false;
  private failed = false;
  private wake: (() => void) | undefined;

  /** `onFailure` is called once if the thread cannot write (with the reason) or stops. */
  constructor(data: OutputThreadData, onFailure: (reason: string) => void) {
    const fail = (reason: string) => {
      if (this.failed) return;
      this.failed = true;
      onFailure(reason);
    };
    this.worker = new Worker(outputWorkerUrl(), { workerData: data });
    this.worker.on("message", (m: FromOutputThread) => {
      if (m.kind === "failed") return fail(m.message);
      if (m.kind === "written") this.pending--;
      else this.ended = true;
      this.wake?.();
      this.wake = undefined;
    });
    this.worker.on("error", (e) => fail(e.message));
    // Ended before it said so, and not stopped by us: nothing would wake the command again.
    this.worker.on("exit", (code) => { if (!this.ended && !this.stopped) fail(`the output thread stopped (exit code ${code})`); });
  }

  /** Hands a batch over; waits while the thread is more than AHEAD batches behind. */
  async write(batch: RecordBatch): Promise<void> {
    const ipc = tableToIPC(new Table([batch]), "stream");
    this.worker.postMessage({ kind: "batch", ipc } satisfies ToOutputThread, [ipc.buffer as ArrayBuffer]);
    this.pending++;
    while (this.pending > AHEAD) await new Promise<void>((resolve) => { this.wake = resolve; });
  }

  /** Finishes the table (the thread knows its schema) and waits until everything is written. */
  async end(): Promise<void> {
    this.worker.postMessage({ kind: "end" } satisfies ToOutputThread);
    while (!this.ended) await new Promise<void>((resolve) => { this.wake = resolve; });
    this.stopped = true;
    await this.worker.terminate();
  }

  /** Stops the thread (a failed run). */
  stop(): void {
    this.stopped = true;
    void this.worker.terminate();
  }
}
