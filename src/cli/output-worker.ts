// An output thread of the command (src/cli/output-thread.ts): formats one table's batches and
// writes them to the file descriptor it was given, so that Parquet encoding and text formatting
// run beside the analysis instead of after each batch of it. Batches arrive as Arrow IPC streams.

import { createWriteStream } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { tableFromIPC } from "apache-arrow";
import { BatchWriter, type ByteSink } from "./batch-writer.js";
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

const sink: ByteSink = {
  closed: false,
  async write(chunk) {
    if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once("drain", () => resolve()));
  },
  async end() {
    await new Promise<void>((resolve) => stream.end(() => resolve()));
  },
};
const writer = new BatchWriter(data.format, sink, data.table, data.vlanKey, data.withStats);

// One message at a time, in order.
let done = Promise.resolve();
port.on("message", (message: ToOutputThread) => {
  done = done.then(async () => {
    if (failed) return;
    if (message.kind === "batch") {
      for (const batch of tableFromIPC(message.ipc).batches) await writer.write(batch);
      send({ kind: "written" });
    } else {
      await writer.end();
      send({ kind: "ended" });
    }
  }).catch((e: unknown) => fail((e as Error)?.message ?? String(e)));
});
