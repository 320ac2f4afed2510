import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/announce.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    env: { SYNFIN_WASM_BUILD: "debug" },
  },
});
