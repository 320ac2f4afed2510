// Shared by the cluster tests (test/cluster/): captures to run, and the comparison of a cluster
// run's Parquet dataset and accounting with the single pass's.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tableFromIPC, type Table } from "apache-arrow";
import { readParquet } from "parquet-wasm";
import type { DuckDBConnection } from "@duckdb/node-api";
import { expect } from "vitest";
import { analyze, SynfinError, type Stats } from "../../src/node.js";
import { COLUMNS } from "../../src/output/schema.js";
import { PCAP_HEADER_LEN, PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS, PCAP_RECORD_HEADER_LEN } from "../../src/synth/capture.js";

export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** `synfin synth` into `path`: seeded synthetic traffic of `size` (e.g. 30M). */
export function synth(path: string, size: string, seed: number, ...more: string[]): void {
  const run = spawnSync(process.execPath, [CLI, "synth", "-o", path, "--bytes", size, "--seed", String(seed), ...more], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`synfin synth: ${run.stderr}`);
}

/**
 * Cuts a pcap file into `count` files of whole records, the same number in each but the last (as
 * `editcap -c`): every piece starts with a copy of the file header.
 */
export function splitPcap(path: string, count: number): string[] {
  const bytes = readFileSync(path);
  const magic = bytes.readUInt32LE(0);
  const littleEndian = magic === PCAP_MAGIC_MICROS || magic === PCAP_MAGIC_NANOS;
  const starts: number[] = [];
  for (let at = PCAP_HEADER_LEN; at + PCAP_RECORD_HEADER_LEN <= bytes.length;) {
    starts.push(at);
    const capLen = littleEndian ? bytes.readUInt32LE(at + 8) : bytes.readUInt32BE(at + 8);
    at += PCAP_RECORD_HEADER_LEN + capLen;
  }
  const perFile = Math.ceil(starts.length / count);
  return Array.from({ length: count }, (_, k) => {
    const from = starts[k * perFile]!;
    const to = starts[(k + 1) * perFile] ?? bytes.length;
    const piece = `${path.replace(/\.pcap$/, "")}-${k}.pcap`;
    writeFileSync(piece, Buffer.concat([bytes.subarray(0, PCAP_HEADER_LEN), bytes.subarray(from, to)]));
    return piece;
  });
}

/** The captures of a corpus folder, sorted, that the single pass reads on their own (it refuses the others). */
export async function readableCaptures(dir: string): Promise<string[]> {
  const files = readdirSync(dir).filter((f) => /\.(pcap|pcapng|cap|ntar)$/.test(f)).sort().map((f) => join(dir, f));
  const readable: string[] = [];
  for (const file of files) {
    const refused = await analyze(file, { workers: 0 }).then(() => false, (e: unknown) => {
      if (e instanceof SynfinError) return true;
      throw e;
    });
    if (!refused) readable.push(file);
  }
  return readable;
}

type Cell = string | number | boolean | bigint | null;

const TIMESTAMPS = new Set(COLUMNS.filter((c) => c.source.kind === "timestamp").map((c) => c.name));

/**
 * A column's values, row by row, in the terms DuckDB gives them: 64-bit integers (u64 counters,
 * ns durations) as bigint, which Arrow JS hands out for them and DuckDB for UBIGINT and BIGINT;
 * smaller integers and floats as numbers; dictionary strings as strings; timestamps as bigint ns,
 * read from the raw column (Arrow JS's getter turns them into float milliseconds).
 */
function columnCells(table: Table, name: string): Cell[] {
  const vector = table.getChild(name)!;
  if (!TIMESTAMPS.has(name)) return Array.from({ length: vector.length }, (_, r) => (vector.get(r) ?? null) as Cell);
  return vector.data.flatMap((data) => Array.from({ length: data.length }, (_, r) => (data.getValid(r) ? (data.values as BigInt64Array)[r]! : null)));
}

/**
 * Reads the dataset of `out` back with DuckDB (ordered by conn_id) and requires the table of
 * `expected` (the single pass), every column and row. DuckDB reads Timestamp(ns, UTC) as
 * TIMESTAMPTZ, held in whole µs: its timestamps are compared with ours truncated to µs (as its
 * reader truncates), and their ns are compared exactly through Parquet read with parquet-wasm.
 */
export async function expectSameTable(duck: DuckDBConnection, out: string, expected: Table): Promise<void> {
  const parquet = `read_parquet('${join(out, "*.parquet")}')`;
  const names = (await duck.runAndReadAll(`DESCRIBE SELECT * FROM ${parquet}`)).getRowObjectsJS().map((r) => String(r.column_name));
  expect(names).toEqual(expected.schema.fields.map((f) => f.name));

  // The single pass writes rows as connections end; conn_id numbers them by first packet, from 0.
  const ids = columnCells(expected, "conn_id") as bigint[];
  const byId = new Array<number>(ids.length);
  ids.forEach((id, row) => { byId[Number(id)] = row; });
  expect(byId.every((row) => row !== undefined)).toBe(true);

  const select = names.map((n) => (TIMESTAMPS.has(n) ? `epoch_us("${n}") AS "${n}"` : `"${n}"`)).join(", ");
  const got = (await duck.runAndReadAll(`SELECT ${select} FROM ${parquet} ORDER BY conn_id`)).getRowObjectsJS();
  expect(got.length).toBe(expected.numRows);
  const differences: string[] = [];
  for (const name of names) {
    const timestamp = TIMESTAMPS.has(name);
    const ours = columnCells(expected, name);
    for (let id = 0; id < got.length && differences.length < 10; id++) {
      const mine = ours[byId[id]!]!;
      const want = timestamp && mine !== null ? (mine as bigint) / 1000n : mine;
      if (!Object.is(got[id]![name] ?? null, want)) differences.push(`conn_id ${id} ${name}: dataset ${String(got[id]![name])}, single pass ${String(want)}`);
    }
  }

  // The timestamps' ns, from every part file.
  const ourTimestamps = [...TIMESTAMPS].map((name) => columnCells(expected, name));
  let rows = 0;
  for (const part of readdirSync(out).filter((f) => f.endsWith(".parquet"))) {
    const table = tableFromIPC(readParquet(readFileSync(join(out, part))).intoIPCStream());
    const partIds = columnCells(table, "conn_id") as bigint[];
    rows += partIds.length;
    [...TIMESTAMPS].forEach((name, c) => {
      const theirs = columnCells(table, name);
      partIds.forEach((id, r) => {
        const mine = ourTimestamps[c]![byId[Number(id)]!];
        if (theirs[r] !== mine && differences.length < 20) differences.push(`${part} conn_id ${id} ${name}: dataset ${theirs[r]} ns, single pass ${mine} ns`);
      });
    });
  }
  expect(rows).toBe(expected.numRows);
  expect(differences).toEqual([]);
}

/**
 * The run's accounting (DIR/_stats.json) is the single pass's, but for peakFlows: the reducers'
 * peaks summed, at least the single pass's (all partitions' flows at its peak).
 */
export function expectSameStats(run: Stats, single: Stats): void {
  expect({ ...run, peakFlows: 0 }).toEqual({ ...single, peakFlows: 0 });
  expect(run.peakFlows).toBeGreaterThanOrEqual(single.peakFlows);
}

