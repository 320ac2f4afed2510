// Real Linux TCP connections (../shared/captures/kernel) in four container variants: every
// case of expected.json must hold, as ../shared/tools/check_kernel.py scores it.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { bucketSum, rowsOf, type Row } from "../support/rows.js";

const KERNEL = join(CAPTURES, "kernel");
const VARIANTS = [".pcap", ".pcapng", ".ns.pcap", ".snap96.pcap"];
type Want = Record<string, string | number | boolean>;

function mismatch(row: Row, want: Want): string | null {
  for (const [key, value] of Object.entries(want)) {
    if (key === "established") {
      if ((row.established_ts !== null) !== value) return `established_ts ${row.established_ts}, want established=${value}`;
    } else if (value === ">0") {
      if (typeof row[key] !== "number" || (row[key] as number) <= 0) return `${key}=${row[key]}, want >0`;
    } else if (row[key] !== value) {
      return `${key}=${JSON.stringify(row[key])}, want ${JSON.stringify(value)}`;
    }
  }
  return null;
}

describe.skipIf(!HAS_CAPTURES)(`kernel captures${SKIP_NOTE}`, () => {
  const expected = HAS_CAPTURES ? (JSON.parse(readFileSync(join(KERNEL, "expected.json"), "utf8")) as Record<string, Want[]>) : {};
  for (const [scenario, wants] of Object.entries(expected)) {
    for (const variant of VARIANTS) {
      it(`${scenario}${variant}`, async () => {
        const { table, stats } = await analyze(join(KERNEL, scenario + variant));
        const rows = rowsOf(table).sort((a, b) => String(a.ts).localeCompare(String(b.ts)) || (a.conn_id as number) - (b.conn_id as number));
        expect(rows).toHaveLength(wants.length);
        rows.forEach((row, i) => expect(mismatch(row, wants[i]!), `row ${i}`).toBeNull());
        expect(bucketSum(stats)).toBe(stats.records);
        expect(stats.truncatedRecords).toBe(0);
      });
    }
  }
});
