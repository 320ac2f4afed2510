// Bundles the command (dist/cli/main.js, from src/cli/main.ts) and everything it imports into one
// script, dist/cli.bundle.cjs, which the package's "bin", dist/cli.js (src/cli/start.ts), runs,
// and its output thread into dist/output-worker.js. Node loads one file of modules far faster than
// the hundreds it is made of (apache-arrow alone is about 150): about 0.12 s less per run. Then
// writes V8's code cache of the command's script (dist/cli.bundle.cache) after a run of it on a
// small capture, which the next runs start from (about 30 ms less each; src/cli/start.ts). The
// library itself (dist/node.js, dist/browser.js) stays as modules: its users bundle it their own
// way, and the Arrow objects it returns must be those of their own apache-arrow. parquet-wasm
// stays out of the bundle (it finds its wasm next to its own files) and is loaded only when
// Parquet is asked for.

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = `${root}dist/cli.js`;
const cache = `${root}dist/cli.bundle.cache`;
const options = { platform: "node", external: [/^node:/, /^parquet-wasm(\/|$)/], logLevel: "warn" };
// A script run by Node as a CommonJS module is what V8 can cache (Node 20 caches no ES module).
await build({ ...options, input: `${root}dist/cli/main.js`, output: { file: `${root}dist/cli.bundle.cjs`, format: "cjs", codeSplitting: false, sourcemap: false } });
await build({ ...options, input: `${root}dist/cli/start.js`, output: { file: cli, format: "esm", codeSplitting: false, sourcemap: false } });
chmodSync(cli, 0o755);
// The command's output thread (src/cli/output-worker.ts), one file too: it starts beside the analysis.
await build({ ...options, input: `${root}dist/cli/output-worker.js`, output: { file: `${root}dist/output-worker.js`, format: "esm", codeSplitting: false, sourcemap: false } });
// Last: the run that writes the cache is a run of the whole command.
writeCodeCache();

/**
 * Runs the command on a small synthetic capture with SYNFIN_WRITE_CODE_CACHE set, which makes it
 * write its code cache as it ends. Without the core's wasm (`npm run build:host` alone, before
 * `build:wasm`), or if the run fails (said), there is no cache: the command then compiles its
 * script as it starts.
 */
function writeCodeCache() {
  rmSync(cache, { force: true });
  if (!existsSync(`${root}build/synfin.release.shared.wasm`)) {
    console.warn("bundle-cli: no core built yet, so no code cache (dist/cli.bundle.cache): run `npm run build`");
    return;
  }
  let dir;
  try {
    dir = mkdtempSync(join(tmpdir(), "synfin-cache-"));
    const capture = join(dir, "small.pcap");
    const run = (args, env = {}) => {
      const p = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
      if (p.status !== 0) throw new Error(`bundle-cli: synfin ${args.join(" ")} failed: ${p.stderr}`);
    };
    run(["synth", "-o", capture, "--bytes", "4M", "--snaplen", "96", "--seed", "1"]);
    run([capture, "-o", join(dir, "small.arrow")], { SYNFIN_WRITE_CODE_CACHE: cache });
  } catch (e) {
    rmSync(cache, { force: true });
    console.warn(`${e.message}\nbundle-cli: so no code cache (dist/cli.bundle.cache): the command compiles its script as it starts`);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
