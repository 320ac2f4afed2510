// The text outputs (ndjson, csv, Zeek) read Arrow columns without BigInts or Arrow's accessors per
// cell. Checked here against the definitions they replace, written with BigInts and Arrow's own
// `get`: times, numbers and uids on random and edge values, and whole lines on a synthetic
// capture with every table (connections with packet statistics, events, packets).

import { describe, expect, it } from "vitest";
import type { RecordBatch, Vector } from "apache-arrow";
import { analyze } from "../src/node.js";
import { synthPackets } from "../src/synth/synth.js";
import { writePcap } from "../src/synth/capture.js";
import { columnsOf, csvLines, int64At, isoFromHalves, ndjsonLines, numberText, uint64At } from "../src/output/format.js";
import { uidOfHalves, zeekTimeOfHalves } from "../src/output/zeek.js";

// --- the definitions, with BigInts ---

function isoOf(ns: bigint): string {
  const seconds = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const frac = ns - seconds * 1_000_000_000n;
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${frac.toString().padStart(9, "0")}Z`;
}

function zeekTimeOf(ns: bigint): string {
  const us = (ns + 500n) / 1000n;
  return `${us / 1_000_000n}.${(us % 1_000_000n).toString().padStart(6, "0")}`;
}

const MASK64 = (1n << 64n) - 1n;
function mix64(x: bigint): bigint {
  let k = x & MASK64;
  k = ((k ^ (k >> 33n)) * 0xff51afd7ed558ccdn) & MASK64;
  k = ((k ^ (k >> 33n)) * 0xc4ceb9fe1a85ec53n) & MASK64;
  return k ^ (k >> 33n);
}

function uidOf(connId: bigint, tsNs: bigint): string {
  let n = (mix64(connId ^ 0x9e3779b97f4a7c15n) << 64n) | mix64(tsNs ^ mix64(connId));
  let s = "";
  for (let i = 0; i < 17; i++) {
    s += "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[Number(n % 62n)];
    n /= 62n;
  }
  return `C${s}`;
}

/** A cell as the text formats define it: Arrow's value, times as ISO text, 64-bit counts as numbers. */
function cellOf(kind: string, vector: Vector, row: number): string | number | boolean | null {
  const v = vector.get(row) as unknown;
  if (v === null || v === undefined) return null;
  const raw = vector.data[0]!.values[row] as bigint;
  if (kind === "timestamp") return isoOf(raw);
  if (kind === "duration") return Number(raw) / 1e9;
  if (kind === "u64" || kind === "index") return Number(raw);
  return v as string | number | boolean;
}

function objectsOf(batch: RecordBatch): Array<Record<string, unknown>> {
  const columns = columnsOf(batch);
  return Array.from({ length: batch.numRows }, (_, row) =>
    Object.fromEntries(columns.map((c, i) => [c.name, cellOf(c.source.kind, batch.getChildAt(i)!, row)])));
}

function csvOf(batch: RecordBatch): string[] {
  return objectsOf(batch).map((o) => Object.values(o).map((v) => {
    if (v === null) return "";
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }).join(","));
}

// --- random 64-bit values, with the edges ---

function randomU32(): number { return Math.floor(Math.random() * 2 ** 32); }
const EDGES = [0n, 1n, 499n, 500n, 999_999_499n, 999_999_500n, 999_999_999n, 1_000_000_000n, 4294967295n, 4294967296n,
  86_399_999_999_999n, 86_400_000_000_000n, 1_700_000_000_999_999_500n, (1n << 63n) - 1n, -1n, -500n, -501n, -(1n << 63n)];
function* values(count: number): Generator<bigint> {
  yield* EDGES;
  for (let i = 0; i < count; i++) {
    const r = Math.random();
    if (r < 0.4) yield 1_600_000_000_000_000_000n + BigInt(randomU32()) * BigInt(randomU32() >>> 10);
    else if (r < 0.6) yield BigInt(Math.floor(Math.random() * 1e7)) * 1_000_000_000n + BigInt([0, 1, 499, 500, 501, 999_999_499, 999_999_500, 999_999_999][i % 8]!);
    else yield BigInt.asIntN(64, (BigInt(randomU32()) << 32n) | BigInt(randomU32()));
  }
}

function halves(v: bigint): [number, number] {
  const words = new Int32Array(new BigInt64Array([BigInt.asIntN(64, v)]).buffer);
  return [words[1]!, words[0]! >>> 0];
}

describe("text formats", () => {
  it("write times, 64-bit numbers and uids as the BigInt definitions do", () => {
    const words = new Int32Array(2);
    for (const v of values(100_000)) {
      const [hi, lo] = halves(v);
      words[0] = lo;
      words[1] = hi;
      expect(isoFromHalves(hi, lo), `${v}`).toBe(isoOf(v));
      expect(zeekTimeOfHalves(hi, lo), `${v}`).toBe(zeekTimeOf(v));
      expect(int64At(words, 0), `${v}`).toBe(Number(v));
      expect(uint64At(words, 0), `${v}`).toBe(Number(BigInt.asUintN(64, v)));
    }
    const ids = [...values(20_000)];
    ids.forEach((id, i) => {
      const ts = ids[(i * 7 + 3) % ids.length]!;
      const [idHi, idLo] = halves(id);
      const [tsHi, tsLo] = halves(ts);
      expect(uidOfHalves(idHi >>> 0, idLo, tsHi >>> 0, tsLo), `${id} ${ts}`).toBe(uidOf(BigInt.asUintN(64, id), ts));
    });
  });

  it("write numbers as String does", () => {
    const cases = [0, -0, 1, 9, 10, 99, 100, 2147483647, 2147483648, 4294967295, 4294967296, 99999999, 100000000, 100000001,
      Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 2 ** 60, 1e21, -1, -2147483648, NaN, Infinity, -Infinity,
      1e-6, 1e-7, 9.99e-7, 0.5, 0.1, 0.000001426, 4194303.999999999, 4194304, 4194304.5, 1 / 3, Math.PI];
    for (let i = 0; i < 200_000; i++) {
      const r = Math.random();
      if (r < 0.25) cases.push(Math.floor(Math.random() * 2 ** 31));
      else if (r < 0.4) cases.push(Math.floor(Math.random() * 2 ** 53));
      // Durations: whole nanoseconds as seconds, over every magnitude the fast path and its edges meet.
      else if (r < 0.8) cases.push(Math.floor(Math.random() * 10 ** Math.floor(Math.random() * 17)) / 1e9);
      else if (r < 0.9) cases.push(Math.floor(Math.random() * 1e6) / 1e3);
      else cases.push((Math.random() - 0.5) * 10 ** (Math.random() * 40 - 20));
    }
    for (const v of cases) expect(numberText(v), `${v}`).toBe(String(v));
  });

  it("write each table's rows as JSON.stringify and csv fields of the cells would", async () => {
    const capture = writePcap(synthPackets({ connections: 120, concurrency: 16, maxResponseBytes: 20_000, seed: 11, outOfOrderRate: 0.05, nanos: true, snaplen: 96 }), { linkType: 1, nanos: true, snaplen: 96 });
    const { table, events, packets } = await analyze(capture, { packetStats: true, events: true, packets: true });
    let rows = 0;
    for (const t of [table, events!, packets!]) {
      for (const batch of t.batches) {
        expect([...ndjsonLines(batch)]).toEqual(objectsOf(batch).map((o) => JSON.stringify(o)));
        expect([...csvLines(batch)]).toEqual(csvOf(batch));
        rows += batch.numRows;
      }
    }
    expect(table.numRows).toBeGreaterThan(10);
    expect(events!.numRows).toBeGreaterThan(100);
    expect(rows).toBeGreaterThan(3000);
  });
});
