// An output thread of the command (src/cli/output-thread.ts): builds and formats one table's
// batches and writes them to the file descriptor it was given, so that building the Arrow
// columns, Parquet encoding and text formatting run beside the analysis instead of after each
// batch of it. The connection table's batches arrive as rows (RowBlocks), built here as the
// command's thread would build them; a side table's as Arrow IPC streams. A lane (TextLanes)
// writes the CSV or NDJSON lines of every n-th block of rows, in its turn.

import { parentPort, workerData } from "node:worker_threads";
import { tableFromIPC } from "apache-arrow";
import { BatchBuilder } from "../core/batch.js";
import { BatchWriter, type ByteSink } from "./batch-writer.js";
import { textLines } from "../output/format.js";
import { TURN_STOPPED, lowerThreadPriority, writeAll, type OutputThreadData, type ToOutputThread, type FromOutputThread } from "./output-thread.js";

const data = workerData as OutputThreadData;
if (data.yields) lowerThreadPriority();
const port = parentPort!;
const send = (message: FromOutputThread) => port.postMessage(message);

/** A lane's turn (see OutputThreadData.turn), or undefined for the thread that writes the table alone. */
const turn = data.turn ? new Int32Array(data.turn) : undefined;

let failed = false;
const fail = (message: string) => {
  if (failed) return;
  failed = true;
  if (turn) {
    Atomics.store(turn, 0, TURN_STOPPED);
    Atomics.notify(turn, 0);
  }
  send({ kind: "failed", message });
};

/**
 * The file, written synchronously (this thread has nothing else to do meanwhile): once a batch's
 * write returns, its bytes are out, and so the rows a batch was built from (borrowed, not copied)
 * can go back to the command. The command opened the file and closes it when this thread has
 * written everything.
 */
const sink: ByteSink = {
  closed: false,
  async write(chunk) { writeAll(data.fd, typeof chunk === "string" ? Buffer.from(chunk) : chunk); },
  async end() {},
};
const writer = turn ? undefined : new BatchWriter(data.format, sink, data.table, data.vlanKey, data.withStats);
/**
 * Builds the connection table's batches from its rows, one builder for the run (its dictionaries
 * grow over it; a lane's own dictionaries change no line of text). Its numeric columns are views
 * of the rows' block, which goes back to the command once the batch is written.
 */
const builder = new BatchBuilder(true);

/** Thrown in a lane when another lane failed or the command stopped them: that one reports why. */
const STOPPED_ELSEWHERE = new Error("stopped");

/** A lane's block number `seq`: waits for its turn, writes its lines, and passes the turn on. */
function writeInTurn(seq: number, lines: Uint8Array): void {
  while (true) {
    const now = Atomics.load(turn!, 0);
    if (now === TURN_STOPPED) throw STOPPED_ELSEWHERE;
    if (now === seq) break;
    Atomics.wait(turn!, 0, now, 100);
  }
  writeAll(data.fd, lines);
  Atomics.store(turn!, 0, seq + 1);
  Atomics.notify(turn!, 0);
}

// One message at a time, in order.
let done = Promise.resolve();
port.on("message", (message: ToOutputThread) => {
  done = done.then(async () => {
    if (failed) return;
    if (message.kind === "batch") {
      for (const batch of tableFromIPC(message.ipc).batches) await writer!.write(batch);
      send({ kind: "written" });
    } else if (message.kind === "rows") {
      // The batch's columns are views of the block: it goes back to the command, for later rows,
      // once the batch is written (a lane: once its lines are made).
      const batch = builder.buildRows(message.block, data.withStats);
      const handBack = () => port.postMessage({ kind: "written", buffer: message.block.buffer } satisfies FromOutputThread, [message.block.buffer]);
      if (turn) {
        const lines = textLines(batch, data.format === "ndjson" ? "json" : "csv", undefined, (n) => Buffer.allocUnsafe(n));
        handBack();
        writeInTurn(message.seq!, lines);
      } else {
        await writer!.write(batch);
        handBack();
      }
    } else {
      await writer?.end();
      send({ kind: "ended" });
    }
  }).catch((e: unknown) => {
    if (e === STOPPED_ELSEWHERE) failed = true;
    else fail((e as Error)?.message ?? String(e));
  });
});
