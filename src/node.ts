// The Node entry: everything the neutral entry reads, plus file paths, read straight into wasm
// memory with positioned reads (no intermediate buffers).

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import nodeEndpoint from "comlink/dist/esm/node-adapter.mjs";
import { deathNotice, type WorkerHandle } from "./run/parallel.js";
import { readFile } from "node:fs/promises";
import { coreWasmUrl, nodeWorkerUrl } from "./assets.js";
import { fileSource, openReplica } from "./input/file-source.js";
import { makeApi } from "./run/api.js";
import { openInput } from "./input/sources.js";
import type { AnalyzeOptions, AnalyzeResult, ByteSource, CaptureInput, ConnectionStream } from "./public.js";

/** A path, or bytes/streams; an array is several files read as one capture, in order. */
export type CaptureSource = string | CaptureInput | ReadonlyArray<string | CaptureInput>;

const wasmBuild = process.env.SYNFIN_WASM_BUILD === "debug" ? "debug" : "release";

const api = makeApi<CaptureSource>({
  async loadModule() {
    return WebAssembly.compile(await readFile(coreWasmUrl(wasmBuild)));
  },
  async loadSharedModule() {
    return WebAssembly.compile(await readFile(coreWasmUrl(wasmBuild, true)));
  },
  open(source) {
    const list: ReadonlyArray<string | CaptureInput> = Array.isArray(source) ? source : [source as string | CaptureInput];
    return list.map((input, i) => (typeof input === "string" ? fileSource(input)
      : openInput(input, input === process.stdin ? "standard input" : list.length > 1 ? `input ${i + 1}` : "input")));
  },
  spawnWorker,
  openReplica,
  cores: () => availableParallelism(),
});

/** Worker threads started and not yet exited (they exit when a run ends, however it ends). */
const running = new Set<Worker>();

/** How many of synfin's worker threads are running now (for diagnostics and tests). */
export function runningWorkers(): number {
  return running.size;
}

/** A worker_threads thread running dist/run/worker-node.js (also when this module runs from src/). */
function spawnWorker(): WorkerHandle {
  const worker = new Worker(nodeWorkerUrl());
  running.add(worker);
  const death = deathNotice();
  worker.on("error", (e) => death.die(e.message));
  worker.on("exit", (code) => {
    running.delete(worker);
    death.die(`exited with code ${code}`);
  });
  return {
    endpoint: nodeEndpoint(worker),
    terminate() {
      death.end();
      void worker.terminate();
    },
    kill() { void worker.terminate(); },
    onDeath: death.onDeath,
  };
}

/** The whole connection table of a capture (and its events table with `events: true`). */
export const analyze: (source: CaptureSource, options?: AnalyzeOptions) => Promise<AnalyzeResult> = api.analyze;
/** The connection table of a capture as a stream of batches, in bounded memory. */
export const connections: (source: CaptureSource, options?: AnalyzeOptions) => ConnectionStream = api.connections;
/** @internal The command's: the connections' rows, each batch's not yet built into Arrow (src/run/api.ts). */
export const connectionRows = api.connectionRows;
export * from "./exports.js";
