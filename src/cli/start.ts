#!/usr/bin/env node
// The synfin executable (dist/cli.js, package.json "bin"): runs the command, which `npm run build`
// bundles into one script (dist/cli.bundle.cjs, from src/cli/main.ts; scripts/bundle-cli.mjs),
// from V8's code cache of it (dist/cli.bundle.cache): the build writes the cache as a run of the
// command on a small capture ends, so the functions that ran then are not compiled again. A run
// on a small capture takes about 0.11 s instead of 0.14. The cache holds bytecode. It is taken
// only for the script it was made from (the script's SHA-1 heads the cache) and by the V8 that
// made it, under the same flags (V8 checks those itself), and only whole (its own SHA-1 beside
// it); otherwise the script is compiled as it would be without one. Node 20 caches no ES module,
// so the bundle is a CommonJS script.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { Script } from "node:vm";
import { IMPORT_MODULE } from "../import-module.js";

// The command sets this flag (src/cli/main.ts); it is set before the script is compiled too, as
// a code cache is only taken by a V8 with the flags it was made under.
setFlagsFromString("--experimental-wasm-inlining");

const bundle = fileURLToPath(new URL("cli.bundle.cjs", import.meta.url));
const cacheFile = fileURLToPath(new URL("cli.bundle.cache", import.meta.url));
/** Set by scripts/bundle-cli.mjs only: where to write the code cache when the run ends. */
const writeCacheTo = process.env.SYNFIN_WRITE_CODE_CACHE;
/** Set by the tests (docs/development.md): say on standard error whether the cache was taken. */
const report = process.env.SYNFIN_REPORT_CODE_CACHE === "1";
const HASH_BYTES = 20;
const sha1 = (data: Uint8Array) => createHash("sha1").update(data).digest();

// The cache file: the script's SHA-1, the SHA-1 of V8's data, then the data. V8 checks the data's
// length, its own version and flags, but not its bytes: data damaged on disk would crash the
// process as V8 reads it, so its digest is checked first (about a millisecond).
const bytes = readFileSync(bundle);
const hash = sha1(bytes);
let cachedData: Buffer | undefined;
let state = "absent";
if (!writeCacheTo) {
  try {
    const cache = readFileSync(cacheFile);
    const data = cache.subarray(2 * HASH_BYTES);
    if (cache.length <= 2 * HASH_BYTES || !hash.equals(cache.subarray(0, HASH_BYTES))) state = "made for another script";
    else if (!sha1(data).equals(cache.subarray(HASH_BYTES, 2 * HASH_BYTES))) state = "damaged";
    else cachedData = data;
  } catch {
    // No cache (a build that could not write one): compiled as usual.
  }
}
// Wrapped as Node wraps a CommonJS module. Its dynamic imports (Parquet's writer) go through this
// module's import() (src/import-module.ts): in Node 20 no function of a vm.Script compiled with
// a code cache can import() by itself, whatever the script's importModuleDynamically.
(globalThis as { [IMPORT_MODULE]?: (specifier: string) => Promise<unknown> })[IMPORT_MODULE] = (specifier) => import(specifier);
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${bytes.toString("utf8")}\n})`, { filename: bundle, cachedData });
if (cachedData) state = script.cachedDataRejected ? "rejected by V8" : "taken";
if (report) process.stderr.write(`synfin: code cache ${state}\n`);
if (writeCacheTo) {
  process.on("exit", () => {
    const data = script.createCachedData();
    writeFileSync(writeCacheTo, Buffer.concat([hash, sha1(data), data]));
  });
}
const module = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
