import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/announce.ts"],
    // A guard against a test that hangs, not a speed limit: far above any test's time on a slow or
    // busy machine (the long runs of .ci/run included), well inside .ci/run's 90 minutes.
    testTimeout: 1_800_000,
    hookTimeout: 1_800_000,
    pool: "forks",
    env: { SYNFIN_WASM_BUILD: "debug" },
  },
});
