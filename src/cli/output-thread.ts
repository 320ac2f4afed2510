// One output file written by a thread of its own (src/cli/output-worker.ts): the command goes on
// with the analysis while the thread builds the connection table's batches from the rows copied
// out of the core (the command's thread would otherwise spend a tenth of the run on it, with many
// short connections), formats them and writes them. The side tables (events, packets) come as
// Arrow batches, handed over as IPC streams: in Parquet, CSV or NDJSON, which take about half as
// long as the analysis itself; other formats and standard output are written in the command's thread.
// A connection table of many rows in CSV or NDJSON is written by several such threads (TextLanes).

import { readlinkSync, writeSync } from "node:fs";
import { setPriority } from "node:os";
import { Worker } from "node:worker_threads";
import { Table, tableToIPC, type RecordBatch } from "apache-arrow";
import type { OutputFormat } from "./batch-writer.js";
import type { ZeekTable } from "../output/zeek.js";
import type { RowBlock } from "../core/rows.js";
import { csvHeader } from "../output/format.js";
import { COLUMNS, STATS_COLUMNS } from "../output/schema.js";
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
  /**
   * One of several lanes writing the connection table's CSV or NDJSON lines (TextLanes): each
   * builds and formats the blocks of rows it is given and writes their lines when `turn`'s first
   * element is the block's number (then counts it on), or stops when it is TURN_STOPPED.
   */
  turn?: SharedArrayBuffer;
  /**
   * The thread builds a connection table whose writing costs a fraction of the analysis (Arrow,
   * a Zeek log): it runs at a lower priority (lowerThreadPriority), so that on a busy core the
   * analysis and its reads go first. See yieldsToAnalysis.
   */
  yields?: boolean;
}

/**
 * Whether a connection table's output thread yields the core to the analysis: for an Arrow file
 * or a Zeek log, whose batches take the thread about a third of the analysis's time. On two
 * cores the analysis thread, its reads (on libuv's pool) and this thread then want the two at
 * once, and the scheduler's equal shares held the analysis up: the 1 GiB header-only capture to
 * Arrow, eight alternated runs each, 1.090 → 1.045 s median; many short connections, four each,
 * 2.505 → 2.395 s; a Zeek log 1.130 → 1.100 s. Parquet, CSV and NDJSON (THREADED_FORMATS) take
 * their thread as long as the analysis or longer, and yielding made NDJSON slower (1.400 → 1.575
 * s): their threads keep their shares.
 */
export function yieldsToAnalysis(format: OutputFormat): boolean {
  return !THREADED_FORMATS.has(format);
}

/** The nice value of a yielding output thread (0 is the process's own, 19 the lowest). */
export const YIELDING_NICE = 10;

/**
 * Lowers the calling thread's scheduling priority to YIELDING_NICE, on Linux (where a thread has
 * a priority of its own: its id from /proc/thread-self). Elsewhere, or if it fails, the thread
 * keeps the process's priority: only the speed can differ. Returns whether it was lowered.
 */
export function lowerThreadPriority(): boolean {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, YIELDING_NICE);
    return true;
  } catch {
    return false;
  }
}

export type ToOutputThread = { kind: "batch"; ipc: Uint8Array } | { kind: "rows"; block: RowBlock; seq?: number } | { kind: "end" };

/** `turn` once a lane failed or the run stopped: no lane waits for its turn any longer. */
export const TURN_STOPPED = -1;
/** "written": a batch is written (a lane's: its lines are made); for rows, with the block's buffer handed back. */
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
      // Nothing more will be written: whoever waits on the thread goes on (and learns why from onFailure).
      this.wake?.();
      this.wake = undefined;
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
   * copied): the thread builds the batch. Waits as `write` does. `seq`: the block's number, for
   * a lane (TextLanes).
   */
  async writeRows(block: RowBlock, seq?: number): Promise<void> {
    this.worker.postMessage({ kind: "rows", block, seq } satisfies ToOutputThread, [block.buffer]);
    await this.handedOver();
  }

  private async handedOver(): Promise<void> {
    this.pending++;
    while (this.pending > AHEAD && !this.failed && !this.stopped) await new Promise<void>((resolve) => { this.wake = resolve; });
  }

  /**
   * Finishes the table (the thread knows its schema) and waits until everything is written, or
   * until the thread failed (onFailure said why) or was stopped.
   */
  async end(): Promise<void> {
    if (this.failed || this.stopped) return;
    this.worker.postMessage({ kind: "end" } satisfies ToOutputThread);
    while (!this.ended && !this.failed && !this.stopped) await new Promise<void>((resolve) => { this.wake = resolve; });
    this.stopped = true;
    await this.worker.terminate();
  }

  /** Stops the thread (a failed run); nothing waits on it any longer. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
    this.wake = undefined;
    void this.started?.terminate();
  }
}

/**
 * The connection table's CSV or NDJSON lines written by several output threads, the lanes: block
 * k of rows goes to lane k mod n, which builds and formats it while the others do theirs, and
 * writes its lines once block k − 1's are written (a turn counter in shared memory). One thread
 * formats about one row in the time the analysis makes two: with many short connections the
 * table's thread was the run's bottleneck, and once the analysis is done the cores it leaves go
 * to the lanes. The lines are those one thread writes.
 */
export class TextLanes {
  private readonly lanes: OutputThread[];
  private readonly turn = new SharedArrayBuffer(4);
  private next = 0;
  private stopped = false;

  /**
   * Lanes for the connection table in `data` (CSV or NDJSON), `count` of them. A CSV file gets its
   * header here, before any lane writes.
   */
  constructor(data: OutputThreadData, count: number, onFailure: (reason: string) => void, spares: ArrayBuffer[]) {
    const stop = (reason: string) => {
      if (this.stopped) return;
      this.stopped = true;
      onFailure(reason);
      // The other lanes stop too: none would write its turn, nor say it ended.
      this.stop();
    };
    this.lanes = Array.from({ length: count }, () => new OutputThread({ ...data, turn: this.turn }, stop, spares));
    try {
      if (data.format === "csv") writeAll(data.fd, Buffer.from(`${csvHeader(data.withStats ? STATS_COLUMNS : COLUMNS)}\n`));
    } catch (e) {
      stop((e as Error).message);
    }
  }

  /** Hands block `next` to its lane; waits while that lane is behind (OutputThread.writeRows). */
  writeRows(block: RowBlock): Promise<void> {
    const seq = this.next++;
    return this.lanes[seq % this.lanes.length]!.writeRows(block, seq);
  }

  /** Waits until every lane has written its last block. */
  async end(): Promise<void> {
    await Promise.all(this.lanes.slice(0, this.next).map((lane) => lane.end()));
  }

  /** Stops every lane (a failed run); none waits for a turn any more. */
  stop(): void {
    const turn = new Int32Array(this.turn);
    Atomics.store(turn, 0, TURN_STOPPED);
    Atomics.notify(turn, 0);
    for (const lane of this.lanes) lane.stop();
  }
}

/** Writes all of `bytes` to `fd` (a write may take part of them). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
}
