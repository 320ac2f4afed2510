// Every file of ../shared/captures is either analysed or refused with a SynfinError (a code, the
// file and a byte offset); none traps, throws anything else or hangs, and the accounting of
// every analysed file adds up.

import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze, SynfinError } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { bucketSum } from "../support/rows.js";

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe.skipIf(!HAS_CAPTURES)(`every file of the corpus${SKIP_NOTE}`, () => {
  it("is analysed with accounting that adds up, or refused with a SynfinError", async () => {
    const files = filesUnder(CAPTURES);
    let analysed = 0;
    const refusedCaptures: string[] = [];
    for (const file of files) {
      try {
        const { table, stats } = await analyze(file);
        expect(bucketSum(stats), file).toBe(stats.records);
        expect(stats.connections, file).toBe(table.numRows);
        analysed++;
      } catch (e) {
        expect(e, `${file}: ${(e as Error).stack}`).toBeInstanceOf(SynfinError);
        const err = e as SynfinError;
        expect(err.message).toContain("byte offset");
        expect(err.message).not.toContain("\n");
        if (/\.(pcap|pcapng|ntar)$/.test(file)) refusedCaptures.push(`${relative(CAPTURES, file)}: ${err.code}`);
      }
    }
    console.info(`${analysed} of ${files.length} files analysed; capture files refused:\n  ${refusedCaptures.join("\n  ")}`);
    // The only capture files refused: a JPEG named .ntar and an SHB of unknown version (256.0).
    expect(refusedCaptures.sort()).toEqual([
      "other/pcapng-org-examples/bad/icmp.ntar: NOT_A_CAPTURE",
      "other/pcapng-org-examples/http.bigendian.ntar: BAD_SECTION_HEADER",
    ]);
  });
});
