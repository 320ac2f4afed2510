#!/usr/bin/env node
// The synfin executable (package.json "bin"): runs the command (or `synfin synth`) and sets the exit code.

import { main } from "./command.js";
import { synthMain } from "./synth-command.js";

const args = process.argv.slice(2);
const run = args[0] === "synth" ? synthMain(args.slice(1)) : main(args);
run.then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`synfin: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 1;
  },
);
