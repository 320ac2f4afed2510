// The packets table against tshark 4.0 (Debian's), frame by frame: for every segment of the
// kernel captures and the Zeek traces tshark's analysis is compared on, the row's seq, ack, len,
// window, SACK blocks and each analysis flag equal tshark's tcp.seq, tcp.ack, tcp.len,
// tcp.window_size, tcp.options.sack_le/sack_re and tcp.analysis.* for the same frame; every TCP
// segment tshark shows has a row, and every row a segment.

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE, analysedCaptures } from "../support/shared.js";
import { rowsOf } from "../support/rows.js";
import { packetsAgainstRows } from "../support/packets.js";
import { KERNEL, SEGMENT_FLAGS, ZEEK, tsharkSegments, tsharkVersion } from "../support/tshark.js";

const TSHARK = tsharkVersion();
const ACK = 0x10;
const SKIP = SKIP_NOTE || (TSHARK ? "" : " (skipped: tshark is not installed; .ci/run installs it)");

/** Where the packets table of `file` differs from tshark's fields, frame by frame. */
async function differencesFromTshark(file: string): Promise<string[]> {
  const { segments } = tsharkSegments(file);
  const { packets } = await analyze(file, { packets: true });
  const differences: string[] = [];
  const seen = new Set<number>();
  for (const row of rowsOf(packets!)) {
    const frame = (row.packet as number) + 1;
    seen.add(frame);
    const want = segments.get(frame);
    if (!want) { differences.push(`frame ${frame}: a row, and no TCP segment in tshark`); continue; }
    const got = {
      // tshark shows the ACK field as sent when the ACK flag is not set; synfin's ack is then null.
      seq: row.seq, ack: ((row.flags as number) & ACK) !== 0 ? row.ack : row.ack_raw, len: row.len, window: row.window, dupAckNum: row.duplicate_ack_num,
      flags: SEGMENT_FLAGS.filter((f) => row[f] === true).join(","), sack: row.sack,
    };
    const expected = { seq: want.seq, ack: want.ack, len: want.len, window: want.window, dupAckNum: want.dupAckNum, flags: [...want.flags].join(","), sack: want.sack };
    for (const key of Object.keys(expected) as (keyof typeof expected)[]) {
      if (got[key] !== expected[key]) differences.push(`frame ${frame} ${key}: synfin ${got[key]}, tshark ${expected[key]}`);
    }
  }
  for (const frame of segments.keys()) if (!seen.has(frame)) differences.push(`frame ${frame}: a TCP segment in tshark, and no row`);
  return differences;
}

describe.skipIf(!HAS_CAPTURES || !TSHARK)(`packets table against ${TSHARK ?? "tshark"}, frame by frame${SKIP}`, () => {
  for (const capture of [...KERNEL, ...ZEEK]) {
    it(capture, async () => {
      expect(await differencesFromTshark(join(CAPTURES, capture))).toEqual([]);
    });
  }
});

describe.skipIf(!HAS_CAPTURES)(`the packets table of every capture of the corpus${SKIP_NOTE}`, () => {
  it("has each connection's packets, in capture order, with flags that add up to its totals", async () => {
    const differences: string[] = [];
    let compared = 0;
    for await (const [file, result] of analysedCaptures({ packets: true })) {
      compared++;
      for (const d of packetsAgainstRows(rowsOf(result.table), rowsOf(result.packets!))) differences.push(`${file}: ${d}`);
    }
    expect(compared).toBeGreaterThan(100);
    expect(differences.slice(0, 20)).toEqual([]);
  });
});
