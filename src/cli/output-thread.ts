// One output file written by a thread of its own (src/cli/output-worker.ts): the command goes on
// with the analysis while the thread builds the connection table's batches from the rows copied
// out of the core (the command's thread would otherwise spend a tenth of the run on it, with many
// short connections), formats them and writes them. The side tables (events, packets) come as
// Arrow batches, handed over as IPC streams: in Parquet, CSV or NDJSON, which take about half as
// long as the analysis itself; other formats and standard output are written in the command's thread.

import { Worker } from "node:worker_threads";
import { Table, tableToIPC, type RecordBatch } from "apache-arrow";
import type { OutputFormat } from "./batch-writer.js";
import type { ZeekTable } from "../output/zeek.js";
import type { RowBlock } from "../core/rows.js";
import { outputWorkerUrl } from "../assets.js";

/**
 * Bytes an output file buffers before a write waits for the disk: more than one batch's Arrow IPC
 * (about 4 MiB for 8,192 connection rows), which is then written while the core runs on.
 */
export const SINK_BUFFER = 16 << 20;

/**
 * The formats an output thread writes a side table in (the connection table's rows go to one in
 * every format): on the 1 GiB header-only capture with two cores, Parquet 2.68 → 2.31 s, CSV
 * 2.48 → 2.00 s, NDJSON 3.24 → 2.39 s (medians of three alternated runs), with the batches built
 * here and handed over as IPC. A Zeek log, cheaper to format, gained nothing (1.87 against
 * 1.95 s), nor would Arrow IPC.
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

export type ToOutputThread = { kind: "batch"; ipc: Uint8Array } | { kind: "rows"; block: RowBlock } | { kind: "end" };
/** "written": a batch is written; for rows, with the block's buffer handed back. */
export type FromOutputThread = { kind: "written"; buffer?: ArrayBuffer } | { kind: "ended" } | { kind: "failed"; message: string };

/** Batches handed over and not yet written (rows: not yet built): the analysis waits beyond this many. */
const AHEAD = 2;

export class OutputThread {
  private started: Worker | undefined;
  private pending = 0;
  private ended = false;
  private stopped = false;
  private failed = false;
  private wake: (() => void) | undefined;
  /**
   * `onFailure` is called once if the thread cannot write (with the reason) or stops; the buffers
   * of blocks of rows it has built go into `spares`, for later rows (connectionRows).
   */
  constructor(private readonly data: OutputThreadData, private readonly onFailure: (reason: string) => void, private readonly spares: ArrayBuffer[] = []) {}

  /**
   * The thread, started when the first batch comes: by then the command has started and compiled
   * the core, which the thread's own start-up (about 60 ms of a core) would otherwise slow down.
   */
  private get worker(): Worker {
    return (this.started ??= this.start());
  }

  private start(): Worker {
    const fail = (reason: string) => {
      if (this.failed) return;
      this.failed = true;
      this.onFailure(reason);
    };
    const worker = new Worker(outputWorkerUrl(), { workerData: this.data });
    worker.on("message", (m: FromOutputThread) => {
      if (m.kind === "failed") return fail(m.message);
      if (m.kind === "written") {
        this.pending--;
        if (m.buffer) this.spares.push(m.buffer);
      } else {
        this.ended = true;
      }
      this.wake?.();
      this.wake = undefined;
    });
    worker.on("error", (e) => fail(e.message));
    // Ended before it said so, and not stopped by us: nothing would wake the command again.
    worker.on("exit", (code) => { if (!this.ended && !this.stopped) fail(`the output thread stopped (exit code ${code})`); });
    return worker;
  }

  /** Hands a batch over; waits while the thread is more than AHEAD batches behind. */
  async write(batch: RecordBatch): Promise<void> {
    const ipc = tableToIPC(new Table([batch]), "stream");
    this.worker.postMessage({ kind: "batch", ipc } satisfies ToOutputThread, [ipc.buffer as ArrayBuffer]);
    await this.handedOver();
  }

  /**
   * Hands a batch's rows over (a RowBlock of the connection table, its buffer moved, not
   * copied): the thread builds the batch. Waits as `write` does.
   */
  async writeRows(block: RowBlock): Promise<void> {
    this.worker.postMessage({ kind: "rows", block } satisfies ToOutputThread, [block.buffer]);
    await this.handedOver();
  }

  private async handedOver(): Promise<void> {
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
    void this.started?.terminate();
  }
}
