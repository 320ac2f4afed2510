#!/usr/bin/env node
// The synfin executable (package.json "bin"): runs the command (or `synfin synth`) and sets the exit code.

import { setFlagsFromString } from "node:v8";
import { main } from "./cli/command.js";
import { synthMain } from "./cli/synth-command.js";
import { CLUSTER_STEPS, clusterMain } from "./cli/cluster-command.js";

// V8 inlines small wasm functions into their callers with this flag (Node 20 has it off by
// default): the core runs about 9% faster (docs/development.md). It applies to modules compiled
// after it is set, which the core is; the library leaves V8's flags to its host.
setFlagsFromString("--experimental-wasm-inlining");

const args = process.argv.slice(2);
const step = CLUSTER_STEPS.find((s) => s === args[0]);
const run = args[0] === "synth" ? synthMain(args.slice(1)) : step ? clusterMain(step, args.slice(1)) : main(args);
run.then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`synfin: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 1;
  },
);
