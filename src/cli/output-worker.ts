// An output thread of the command (src/cli/output-thread.ts): builds and formats one table's
// batches and writes them to the file descriptor it was given, so that building the Arrow
// columns, Parquet encoding and text formatting run beside the analysis instead of after each
// batch of it. The connection table's batches arrive as rows (RowBlocks), built here as the
// command's thread would build them; a side table's as Arrow IPC streams.

import { createWriteStream } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { tableFromIPC } from "apache-arrow";
import { BatchBuilder } from "../core/batch.js";
import { BatchWriter, streamSink } from "./batch-writer.js";
import { SINK_BUFFER, type OutputThreadData, type ToOutputThread, type FromOutputThread } from "./output-thread.js";

const data = workerData as OutputThreadData;
const port = parentPort!;
const send = (message: FromOutputThread) => port.postMessage(message);

// The command opened the file and closes it when this thread has written everything.
const stream = createWriteStream("", { fd: data.fd, autoClose: false, highWaterMark: SINK_BUFFER });
let failed = false;
const fail = (message: string) => {
  if (failed) return;
  failed = true;
  send({ kind: "failed", message });
};
stream.on("error", (e) => fail(e.message));

const writer = new BatchWriter(data.format, streamSink(stream), data.table, data.vlanKey, data.withStats);
/** Builds the connection table's batches from its rows, one builder for the run (its dictionaries grow over it). */
const builder = new BatchBuilder();

// One message at a time, in order.
let done = Promise.resolve();
port.on("message", (message: ToOutputThread) => {
  done = done.then(async () => {
    if (failed) return;
    if (message.kind === "batch") {
      for (const batch of tableFromIPC(message.ipc).batches) await writer.write(batch);
      send({ kind: "written" });
    } else if (message.kind === "rows") {
      // The batch's columns are copies: the block goes back to the command for later rows.
      const batch = builder.buildRows(message.block, data.withStats);
      port.postMessage({ kind: "written", buffer: message.block.buffer } satisfies FromOutputThread, [message.block.buffer]);
      await writer.write(batch);
    } else {
      await writer.end();
      send({ kind: "ended" });
    }
  }).catch((e: unknown) => fail((e as Error)?.message ?? String(e)));
});
