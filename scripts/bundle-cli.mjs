// Bundles the command (dist/cli/main.js, from src/cli/main.ts) and everything it imports into one
// file, dist/cli.js, the package's "bin". Node loads one file of modules far faster than the
// hundreds it is made of (apache-arrow alone is about 150): about 0.12 s less per run. The library
// itself (dist/node.js, dist/browser.js) stays as modules: its users bundle it their own way, and
// the Arrow objects it returns must be those of their own apache-arrow. parquet-wasm stays out of
// the bundle (it finds its wasm next to its own files) and is loaded only when Parquet is asked for.

import { chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = `${root}dist/cli.js`;
await build({
  input: `${root}dist/cli/main.js`,
  platform: "node",
  external: [/^node:/, /^parquet-wasm(\/|$)/],
  logLevel: "warn",
  output: { file: out, format: "esm", codeSplitting: false, sourcemap: false },
});
chmodSync(out, 0o755);
