// The platform-neutral entry (browsers, workers, Deno, bundlers): sources are bytes, Blobs/Files,
// ReadableStreams or async iterables; the wasm core is fetched next to this module.

import { makeApi } from "./api.js";
import { openInput, type CaptureInput } from "./sources.js";

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
});

export const analyze = api.analyze;
export const connections = api.connections;
export * from "./exports.js";
