// The command (or `synfin synth`, or a cluster step): runs it and sets the exit code. `npm run
// build` bundles it with everything it imports into one script, dist/cli.bundle.cjs
// (scripts/bundle-cli.mjs), which the executable, dist/cli.js (src/cli/start.ts), runs: one file
// loads in a fraction of the time of the modules it is made of.

import { setFlagsFromString } from "node:v8";
import { main } from "./command.js";
import { CLUSTER_STEPS } from "./steps.js";

// V8 inlines small wasm functions into their callers with this flag (Node 20 has it off by
// default): the core runs about 9% faster (docs/development.md). It applies to modules compiled
// after it is set, which the core is; the library leaves V8's flags to its host.
setFlagsFromString("--experimental-wasm-inlining");

const args = process.argv.slice(2);
const step = CLUSTER_STEPS.find((s) => s === args[0]);
// The synth and cluster commands are loaded only when asked for.
const run = args[0] === "synth" ? import("./synth-command.js").then((m) => m.synthMain(args.slice(1)))
  : step ? import("./cluster-command.js").then((m) => m.clusterMain(step, args.slice(1))) : main(args);
run.then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`synfin: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 1;
  },
);
