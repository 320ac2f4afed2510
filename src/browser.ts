// The platform-neutral entry (browsers, workers, Deno, bundlers): sources are bytes, Blobs/Files,
// ReadableStreams or async iterables; the wasm core is fetched next to this module.

import { makeApi } from "./run/api.js";
import { openBlobReplica, openInput } from "./input/sources.js";
import { deathNotice, type WorkerHandle } from "./run/parallel.js";
import type { AnalyzeOptions, AnalyzeResult, CaptureInput, ConnectionStream } from "./public.js";

export type CaptureSource = CaptureInput | readonly CaptureInput[];

const api = makeApi<CaptureSource>({
  async loadModule() {
    const url = new URL("../build/synfin.release.wasm", import.meta.url);
    return WebAssembly.compileStreaming(fetch(url));
  },
  open(source) {
    const list = Array.isArray(source) ? source : [source as CaptureInput];
    return list.map((input, i) => openInput(input, list.length > 1 ? `input ${i + 1}` : "input"));
  },
  spawnWorker: typeof Worker === "undefined" ? undefined : spawnWorker,
  openReplica: openBlobReplica,
  cores: () => (typeof navigator !== "undefined" && navigator.hardwareConcurrency) || 1,
});

/** A Web Worker running worker-browser.js (a module worker, next to this module). */
function spawnWorker(): WorkerHandle {
  const worker = new Worker(new URL("./run/worker-browser.js", import.meta.url), { type: "module" });
  const death = deathNotice();
  worker.addEventListener("error", (e) => death.die(e.message || "failed to start"));
  return {
    endpoint: worker,
    terminate() {
      if (!death.end()) worker.terminate();
    },
    kill() {
      // A browser reports nothing when a worker is terminated: say it here.
      worker.terminate();
      death.die("terminated");
    },
    onDeath: death.onDeath,
  };
}

/** The whole connection table of a capture (and its events table with `events: true`). */
export const analyze: (source: CaptureSource, options?: AnalyzeOptions) => Promise<AnalyzeResult> = api.analyze;
/** The connection table of a capture as a stream of batches, in bounded memory. */
export const connections: (source: CaptureSource, options?: AnalyzeOptions) => ConnectionStream = api.connections;
export * from "./exports.js";
