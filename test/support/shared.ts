// Where the shared capture corpus lives (../shared/captures beside the checkout), and a title
// suffix that says why conformance tests are skipped when it is absent.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CAPTURES = fileURLToPath(new URL("../../../shared/captures", import.meta.url));
export const HAS_CAPTURES = existsSync(CAPTURES);
export const SKIP_NOTE = HAS_CAPTURES ? "" : " (skipped: ../shared/captures is not beside this checkout)";
