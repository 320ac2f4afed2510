// Compares builds of the core in one process: each build's single pass over FILE (read straight
// into its memory, as the CLI does; rows built, nothing written), the builds in turn, ROUNDS
// times. Prints each build's wall and CPU time (min and median, ms) and, for every build after
// the first, in how many rounds it beat the first. One process and alternation keep a slow spell
// of a shared machine from landing on one build only.
//
//   node --experimental-wasm-inlining bench/ab-core.mjs FILE ROUNDS A.shared.wasm B.shared.wasm [...]
//
// The builds are shared-memory ones: build/synfin.release.shared.wasm as `npm run build:wasm`
// leaves it, or a variant (`npx asc assembly/index.ts --target release-shared -o X`, without the
// second inlining pass of scripts/inline-wasm.mjs unless its wasm-opt flags are run on it too).
// The host is dist/.

import { readFileSync } from "node:fs";
import { makeApi } from "../dist/run/api.js";
import { fileSource } from "../dist/input/file-source.js";

const [file, roundsArg, ...builds] = process.argv.slice(2);
const rounds = Number(roundsArg);
if (!file || !Number.isInteger(rounds) || rounds < 1 || builds.length < 1) {
  console.error("usage: node bench/ab-core.mjs FILE ROUNDS A.shared.wasm [B.shared.wasm ...]");
  process.exit(2);
}
const apis = await Promise.all(builds.map(async (path) => {
  const module = await WebAssembly.compile(readFileSync(path));
  return makeApi({
    loadModule: async () => module,
    loadSharedModule: async () => module,
    open: (source) => [fileSource(source)],
    openReplica() { throw new Error("one lane only"); },
    cores: () => 1,
  });
}));
const wall = builds.map(() => []);
const cpu = builds.map(() => []);
const rowCounts = builds.map(() => 0);
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < apis.length; i++) {
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    let rows = 0;
    for await (const batch of apis[i].connections(file, { workers: 0 })) rows += batch.numRows;
    wall[i].push(performance.now() - started);
    const used = process.cpuUsage(cpuStart);
    cpu[i].push((used.user + used.system) / 1000);
    rowCounts[i] = rows;
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (let i = 0; i < builds.length; i++) {
  const wins = i === 0 ? "" : ` | faster than the first in ${wall[i].filter((t, r) => t < wall[0][r]).length} of ${rounds}`;
  console.log(`${builds[i]}: ${rowCounts[i]} rows | wall min ${Math.min(...wall[i]).toFixed(0)} median ${median(wall[i]).toFixed(0)} | ` +
    `CPU min ${Math.min(...cpu[i]).toFixed(0)} median ${median(cpu[i]).toFixed(0)}${wins} | all ${wall[i].map((t) => t.toFixed(0)).join(" ")}`);
}
if (new Set(rowCounts).size > 1) console.log("the builds gave different row counts");
