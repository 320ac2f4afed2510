// Replays every input the fuzzer found (fuzz/regressions/<kind>-<hash>.<config>.bin) and the
// fuzzer's synthetic seed corpus through `analyze`: each must return with its accounting adding
// up, or throw a SynfinError. Found inputs are also replayed the fuzzer's way (fuzz/target.mjs on
// the debug build), which reads in chunks of any size and compares runs that must agree.

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { analyze, RECORD_BUCKETS, SynfinError } from "../src/node.js";
import { DEFAULT_CONFIG, FILTERS, Target, configFromName, type FuzzConfig } from "../fuzz/target.mjs";
import { seedCorpus } from "../fuzz/seeds.mjs";

const REGRESSIONS = new URL("../fuzz/regressions/", import.meta.url);
const files = existsSync(REGRESSIONS) ? readdirSync(REGRESSIONS).filter((f) => f.endsWith(".bin")).sort() : [];

/** Returns normally with stats adding up, or throws a SynfinError that is not OUT_OF_MEMORY. */
async function replay(bytes: Uint8Array, config: FuzzConfig): Promise<void> {
  const source = config.split > 0 ? [bytes.subarray(0, config.split), bytes.subarray(config.split)] : bytes;
  const options = { events: config.events, verifyChecksums: config.verifyChecksums, maxFlows: config.maxFlows, filter: config.filter > 0 ? FILTERS[config.filter - 1] : undefined };
  try {
    const { table, stats } = await analyze(source, options);
    const sum = RECORD_BUCKETS.reduce((total, key) => total + stats[key], 0);
    expect(sum, JSON.stringify(stats)).toBe(stats.records);
    expect(stats.connections).toBe(table.numRows);
  } catch (e) {
    if (!(e instanceof SynfinError) || e.code === "OUT_OF_MEMORY") throw e;
  }
}

describe("fuzz regressions", () => {
  if (files.length > 0) {
    it.each(files)("%s", async (file) => {
      const bytes = new Uint8Array(readFileSync(new URL(file, REGRESSIONS)));
      const config = configFromName(file);
      await replay(bytes, config);
      const target = new Target(await WebAssembly.compile(readFileSync(new URL("../build/synfin.debug.wasm", import.meta.url))));
      await target.compare(bytes, config); // the fuzzer's oracle: throws a Finding while it still fails
    });
  }

  it("the seed corpus reads cleanly, with and without events, checksums and a small maxFlows", async () => {
    const seeds = seedCorpus(null);
    expect(seeds.length).toBeGreaterThan(50);
    for (const seed of seeds) {
      await replay(seed.bytes, DEFAULT_CONFIG);
      await replay(seed.bytes, { ...DEFAULT_CONFIG, events: true, verifyChecksums: true, maxFlows: 3 });
    }
  });
});
