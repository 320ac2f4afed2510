// Where the shared capture corpus lives (../shared/captures beside the checkout), and a title
// suffix that says why conformance tests are skipped when it is absent.

import { existsSync, readdirSync, statSync } from "node:fs";
import { analyze, SynfinError, type AnalyzeOptions, type AnalyzeResult } from "../../src/node.js";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CAPTURES = fileURLToPath(new URL("../../../shared/captures", import.meta.url));
export const HAS_CAPTURES = existsSync(CAPTURES);
export const SKIP_NOTE = HAS_CAPTURES ? "" : " (skipped: ../shared/captures is not beside this checkout)";

/** Every capture file (by extension) under `dir`, recursively. */
export function capturesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? capturesUnder(path) : /\.(pcap|pcapng|cap|trace|ntar)$/.test(name) ? [path] : [];
  });
}

/**
 * Every capture of the corpus analysed with `options`, as [path relative to CAPTURES, result];
 * the captures synfin refuses are passed over (the corpus test lists them).
 */
export async function* analysedCaptures(options: AnalyzeOptions): AsyncGenerator<[string, AnalyzeResult]> {
  for (const file of capturesUnder(CAPTURES)) {
    let result: AnalyzeResult;
    try {
      result = await analyze(file, options);
    } catch (e) {
      if (e instanceof SynfinError) continue;
      throw e;
    }
    yield [file.slice(CAPTURES.length + 1), result];
  }
}
