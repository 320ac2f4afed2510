// Bundles the command (dist/cli/main.js, from src/cli/main.ts) and everything it imports into one
// file, dist/cli.js, the package's "bin", and its output thread into dist/output-worker.js. Node
// loads one file of modules far faster than the hundreds it is made of (apache-arrow alone is
// about 150): about 0.12 s less per run. The library itself (dist/node.js, dist/browser.js) stays
// as modules: its users bundle it their own way, and the Arrow objects it returns must be those of
// their own apache-arrow. parquet-wasm stays out of the bundle (it finds its wasm next to its own
// files) and is loaded only when Parquet is asked for.

import { chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = `${root}dist/cli.js`;
const options = { platform: "node", external: [/^node:/, /^parquet-wasm(\/|$)/], logLevel: "warn" };
await build({ ...options, input: `${root}dist/cli/main.js`, output: { file: out, format: "esm", codeSplitting: false, sourcemap: false } });
chmodSync(out, 0o755);
// The command's output thread (src/cli/output-worker.ts), one file too: it starts beside the analysis.
await build({ ...options, input: `${root}dist/cli/output-worker.js`, output: { file: `${root}dist/output-worker.js`, format: "esm", codeSplitting: false, sourcemap: false } });
