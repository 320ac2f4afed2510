// A second optimisation pass over the release builds of the core (build/synfin.release.wasm and
// build/synfin.release.shared.wasm), with Binaryen's inliner given a far larger budget than asc's
// -O3 leaves it: functions up to 40 instructions always, up to 400 where it judges them cheap,
// functions with one caller always, loops or not. The per-packet path then runs as a few large
// functions instead of a call chain: 4–8% less time per packet on the bench's captures (measured
// in one process, alternating builds; docs/benchmarks.md). Binaryen is the one asc itself uses.
// The debug builds stay as asc makes them (their names and source maps are for reading).

import { spawnSync } from "node:child_process";
import { renameSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const wasmOpt = createRequire(import.meta.url).resolve("binaryen/bin/wasm-opt");
/** The features asconfig.json enables (wasm-opt must be told them); the shared build's threads too. */
const FEATURES = ["--enable-bulk-memory", "--enable-sign-ext", "--enable-nontrapping-float-to-int", "--enable-mutable-globals"];
const INLINING = ["--always-inline-max-function-size=40", "--flexible-inline-max-function-size=400", "--one-caller-inline-max-function-size=-1", "--inline-functions-with-loops", "-O3"];

for (const [name, features] of [["synfin.release.wasm", FEATURES], ["synfin.release.shared.wasm", [...FEATURES, "--enable-threads"]]]) {
  const file = `${root}build/${name}`;
  const tmp = `${file}.inlined`;
  const run = spawnSync(process.execPath, [wasmOpt, file, ...features, ...INLINING, "-o", tmp], { encoding: "utf8" });
  if (run.status !== 0) {
    console.error(`inline-wasm: wasm-opt failed on build/${name}:\n${run.stdout}${run.stderr}`);
    process.exit(1);
  }
  renameSync(tmp, file);
}
