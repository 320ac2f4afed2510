// Vitest global setup: says once, before any test runs, why the conformance tests will skip when
// the shared capture corpus is not beside this checkout (the default reporter hides skipped titles).

import { CAPTURES, HAS_CAPTURES } from "./shared.js";

export default function announce(): void {
  if (!HAS_CAPTURES) {
    process.stdout.write(`synfin: ${CAPTURES} is absent: the conformance tests on real captures are skipped (see docs/conformance.md)\n`);
  }
}
