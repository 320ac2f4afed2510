// The package as users install it: every file package.json's "exports" names exists after the
// build (its "types" named a dist/index.d.ts that was never built), and importing it by name
// type-checks (test/support/package-types.ts, checked by npm test's tsc).

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** Every path in an "exports" value, however its conditions nest. */
function targets(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (value && typeof value === "object") return Object.values(value).flatMap(targets);
  return [];
}

describe("package.json", () => {
  it("exports only files that exist, with types for both entries", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { exports: Record<string, unknown> };
    const paths = targets(pkg.exports);
    expect(paths.filter((p) => p.endsWith(".d.ts")).length).toBeGreaterThanOrEqual(2);
    for (const path of paths) expect(existsSync(new URL(`../${path}`, import.meta.url)), path).toBe(true);
  });
});
