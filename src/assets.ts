// The package's files that code reads at run time, located from this module. It lies one folder
// below the package root as src/assets.ts (tests run the sources), as dist/assets.js, and inlined
// into the bundled command dist/cli.js (whose import.meta.url is the bundle's own): every such
// path is here, so that it resolves alike in all three.

/** The compiled core; `shared`: its shared-memory build (Node's single pass, src/input/feed.ts). */
export function coreWasmUrl(build: "debug" | "release", shared = false): URL {
  return new URL(`../build/synfin.${build}${shared ? ".shared" : ""}.wasm`, import.meta.url);
}

/** The package's manifest (for the version). */
export function packageJsonUrl(): URL {
  return new URL("../package.json", import.meta.url);
}

/** The Node worker thread's script: always the built one, also when this module runs from src/. */
export function nodeWorkerUrl(): URL {
  return new URL("../dist/run/worker-node.js", import.meta.url);
}

/** The command's output thread's script (src/cli/output-thread.ts): the built bundle, also from src/. */
export function outputWorkerUrl(): URL {
  return new URL("../dist/output-worker.js", import.meta.url);
}
