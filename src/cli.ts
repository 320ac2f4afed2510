#!/usr/bin/env node
// The synfin executable (package.json "bin"): runs the command and sets the exit code.

import { main } from "./command.js";

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`synfin: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exitCode = 1;
  },
);
