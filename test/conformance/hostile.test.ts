// The hostile part of the corpus: the early pcapng/ntar samples (malformed by today's spec, one a
// JPEG) and tcpdump's out-of-bounds-read and truncation regression captures, with their text
// dumps beside them. Each gives rows or a SynfinError with a code and a byte offset, never a trap;
// the accounting adds up, and the records read equal the packet count the corpus README states.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze, SynfinError } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { bucketSum } from "../support/rows.js";

const PCAPNG_ORG = "other/pcapng-org-examples";

function hostileFiles(): string[] {
  const ntar = readdirSync(join(CAPTURES, PCAPNG_ORG)).filter((f) => f !== "README.md" && f !== "bad").map((f) => `${PCAPNG_ORG}/${f}`);
  const bad = readdirSync(join(CAPTURES, PCAPNG_ORG, "bad")).map((f) => `${PCAPNG_ORG}/bad/${f}`);
  const tcpdump = readdirSync(join(CAPTURES, "tcpdump")).filter((f) => /oobr|crafted|trunc/i.test(f)).map((f) => `tcpdump/${f}`);
  return [...ntar, ...bad, ...tcpdump];
}

/** The "packets" column of the corpus README's tables, by file name (where it gives a number). */
function statedPackets(): Map<string, number> {
  const packets = new Map<string, number>();
  let column = -1;
  for (const line of readFileSync(join(CAPTURES, "README.md"), "utf8").split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells[1] === "file") column = cells.indexOf("packets");
    else if (column > 0 && /^\d+$/.test(cells[column] ?? "")) packets.set(cells[1]!, Number(cells[column]));
  }
  return packets;
}

describe.skipIf(!HAS_CAPTURES)(`hostile captures${SKIP_NOTE}`, () => {
  it("give rows with accounting that adds up, or a SynfinError with a code and an offset", async () => {
    const files = hostileFiles();
    const stated = statedPackets();
    const refused: string[] = [];
    let counted = 0;
    for (const file of files) {
      const path = join(CAPTURES, file);
      try {
        const { table, stats } = await analyze(path);
        expect(bucketSum(stats), file).toBe(stats.records);
        expect(stats.connections, file).toBe(table.numRows);
        const name = file.startsWith(PCAPNG_ORG) ? file.slice(PCAPNG_ORG.length + 1) : file.split("/").pop()!;
        if (stated.has(name)) {
          expect(stats.records, file).toBe(stated.get(name));
          counted++;
        }
      } catch (e) {
        expect(e, `${file}: ${(e as Error).stack}`).toBeInstanceOf(SynfinError);
        const error = e as SynfinError;
        expect(error.message).toMatch(/ at byte offset \d+$/);
        expect(error.file).toBe(path);
        refused.push(`${file}: ${error.code} @${error.offset}`);
      }
    }
    expect(files.length).toBeGreaterThanOrEqual(30);
    // Every capture whose packet count the README states was read record for record.
    expect(counted).toBeGreaterThanOrEqual(20);
    // Refused: a JPEG, an SHB of version 256.0 (as tshark refuses it), and tcpdump's text dumps.
    const captures = refused.filter((r) => !/\.out:/.test(r));
    expect(captures.sort()).toEqual([
      `${PCAPNG_ORG}/bad/icmp.ntar: NOT_A_CAPTURE @0`,
      `${PCAPNG_ORG}/http.bigendian.ntar: BAD_SECTION_HEADER @0`,
    ]);
    expect(refused.filter((r) => /\.out:/.test(r)).every((r) => r.endsWith("NOT_A_CAPTURE @0"))).toBe(true);
  });
});
