// A capture split into several files and read as one (an array source) gives the same rows as
// the whole file: connections that continue into the next file stay one row.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { rowsOf } from "../support/rows.js";

const PCAP_HEADER = 24;
const RECORD_HEADER = 16;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_IDB = 1;
const PCAPNG_EPB = 6;

/**
 * Splits a capture into `parts` files of about equal packet counts. pcap: each part gets the file
 * header; pcapng (one section): each part gets the section header and interface blocks.
 */
function split(bytes: Uint8Array, parts: number): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) === PCAPNG_SHB) return splitPcapng(bytes, view, parts);
  const magic = view.getUint32(0, true);
  const littleEndian = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const offsets: number[] = [];
  for (let at = PCAP_HEADER; at + RECORD_HEADER <= bytes.length; at += RECORD_HEADER + view.getUint32(at + 8, littleEndian)) offsets.push(at);
  return cut(bytes, bytes.subarray(0, PCAP_HEADER), offsets, parts);
}

function splitPcapng(bytes: Uint8Array, view: DataView, parts: number): Uint8Array[] {
  const littleEndian = view.getUint32(8, true) === 0x1a2b3c4d;
  let headerEnd = 0;
  const packets: number[] = [];
  for (let at = 0; at + 8 <= bytes.length; at += view.getUint32(at + 4, littleEndian)) {
    const type = view.getUint32(at, littleEndian);
    if (type === PCAPNG_SHB || type === PCAPNG_IDB) headerEnd = at + view.getUint32(at + 4, littleEndian);
    else if (type === PCAPNG_EPB) packets.push(at);
  }
  return cut(bytes, bytes.subarray(0, headerEnd), packets, parts);
}

/** Files of `header` followed by consecutive runs of the records starting at `offsets`. */
function cut(bytes: Uint8Array, header: Uint8Array, offsets: number[], parts: number): Uint8Array[] {
  const files: Uint8Array[] = [];
  for (let p = 0; p < parts; p++) {
    const from = offsets[Math.floor((p * offsets.length) / parts)] ?? bytes.length;
    const to = p + 1 < parts ? offsets[Math.floor(((p + 1) * offsets.length) / parts)] ?? bytes.length : bytes.length;
    const file = new Uint8Array(header.length + to - from);
    file.set(header);
    file.set(bytes.subarray(from, to), header.length);
    files.push(file);
  }
  return files;
}

const KERNEL = join(CAPTURES, "kernel");
const files = HAS_CAPTURES ? readdirSync(KERNEL).filter((f) => /\.(pcap|pcapng)$/.test(f)) : [];

describe.skipIf(!HAS_CAPTURES)(`kernel captures split into several files${SKIP_NOTE}`, () => {
  for (const name of files) {
    it(`${name} in 2 and in 3 files`, async () => {
      const whole = readFileSync(join(KERNEL, name));
      const expected = rowsOf((await analyze(whole)).table);
      const { stats: wholeStats } = await analyze(whole);
      // A capture of two packets splits into two files at most.
      for (const parts of [2, 3].filter((n) => n <= wholeStats.records)) {
        const { table, stats } = await analyze(split(whole, parts));
        expect(rowsOf(table), `${parts} files`).toEqual(expected);
        expect(stats.sections).toBe(parts);
        expect(stats.records).toBe(wholeStats.records);
      }
    });
  }
});
