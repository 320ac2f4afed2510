// Every kernel capture (../shared/captures/kernel) cut at every 97th byte: no cut traps, and each
// prefix is consistent with the whole file. A cut inside the file header reads nothing; after it,
// the prefix reads, its accounting adds up (whole records plus at most the one the cut went
// through, and no damage), and every connection whose packets all lie before the cut has the whole
// file's row, end_reason aside (the end of input ends it instead of a later timer or reuse).

import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataType, type RecordBatch, type Vector } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { Status } from "../../src/core/abi.js";
import { Core } from "../../src/core/core.js";
import { CoreBatches } from "../../src/core/batch.js";
import { SynfinError } from "../../src/errors.js";
import { SCHEMA } from "../../src/output/schema.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { bucketSum } from "../support/rows.js";
import { captureRecords, type CaptureRecords } from "../support/capture-records.js";
import type { Stats } from "../../src/public.js";

const KERNEL = join(CAPTURES, "kernel");
const CUT_STEP = 97;
/** Problems reported per capture; the count of all of them is reported too. */
const MAX_REPORTED = 20;
/** Columns that depend on what ended the row, which a cut changes (writeRow in assembly/out/row.ts). */
const EXEMPT = new Set(["end_reason"]);
/** A cut is the end of the file, not damage (docs/library.md, Accounting). */
const DAMAGE: ReadonlyArray<keyof Stats> = ["damagedLength", "damagedTrailer", "damagedSection", "damagedBytes"];
const COMPARED = SCHEMA.fields.map((f) => f.name).filter((name) => !EXEMPT.has(name));

/**
 * The release build, the one users run, rather than the debug build SYNFIN_WASM_BUILD selects for
 * the other tests: the cuts re-read up to 2.3 MB each, 89k times, and its feed is about 4x faster.
 * This file takes about 45 s with it and 95 s with the debug build (2 cores, measured together).
 */
const RELEASE_BUILD = new URL("../../build/synfin.release.wasm", import.meta.url);
let modulePromise: Promise<WebAssembly.Module> | undefined;
const loadModule = () => (modulePromise ??= WebAssembly.compile(readFileSync(RELEASE_BUILD)));

/** A connection row, by column name; timestamps as ns (bigint), not Arrow's lossy milliseconds. */
type Row = Map<string, unknown>;
type Outcome = { error: SynfinError } | { rows: Map<bigint, Row>; stats: Stats };

/**
 * One core that reads prefix after prefix. A fresh Core per cut costs about 6 ms (a new wasm
 * memory, faulted in and freed): ten minutes over all cuts. `Core.reset` starts a new run on the
 * same instance in microseconds. A core that threw is not used again.
 */
class PrefixReader {
  private core: Core | undefined;

  async read(bytes: Uint8Array, cut: number): Promise<Outcome> {
    const core = (this.core ??= await Core.create(await loadModule(), {}));
    try {
      return readPrefix(core, bytes, cut);
    } catch (e) {
      this.core = undefined;
      throw e;
    }
  }
}

/** Reads bytes[0, cut) as one whole capture, as the engine does with a single read. */
function readPrefix(core: Core, bytes: Uint8Array, cut: number): Outcome {
  core.reset();
  core.beginFile();
  core.input(bytes.length).set(bytes.subarray(0, cut));
  const batches: RecordBatch[] = [];
  const out = new CoreBatches(core);
  const take = () => { for (let batch; (batch = out.takeBatch(true)); ) batches.push(batch); };
  let len = cut;
  for (;;) {
    const { status, consumed } = core.feed(len, true);
    if (status === Status.Error) {
      const { code, offset } = core.error();
      return { error: SynfinError.fromCore(code, `cut ${cut}`, offset) };
    }
    core.carryOver(consumed, len);
    len -= consumed;
    if (status !== Status.OutputFull) break;
    take();
  }
  while (core.finish() === Status.OutputFull) take();
  take();
  return { rows: rowsById(batches), stats: core.stats() };
}

function rowsById(batches: RecordBatch[]): Map<bigint, Row> {
  const rows = new Map<bigint, Row>();
  for (const batch of batches) {
    const columns = COMPARED.map((name) => [name, cellReader(batch.getChild(name)!)] as const);
    for (let i = 0; i < batch.numRows; i++) {
      const row: Row = new Map(columns.map(([name, cell]) => [name, cell(i)]));
      rows.set(row.get("conn_id") as bigint, row);
    }
  }
  return rows;
}

function cellReader(vector: Vector): (i: number) => unknown {
  if (!DataType.isTimestamp(vector.type)) return (i) => vector.get(i);
  const values = vector.data[0]!.values as BigInt64Array;
  return (i) => (vector.isValid(i) ? values[i] : null);
}

/** For each record count n: the earliest time among records n, n+1, … (+∞ past the last). */
function earliestTimeFrom(records: CaptureRecords): bigint[] {
  const times = records.recordTimesNs;
  const earliest: bigint[] = new Array(times.length + 1);
  earliest[times.length] = 2n ** 63n;
  for (let i = times.length - 1; i >= 0; i--) earliest[i] = times[i]! < earliest[i + 1]! ? times[i]! : earliest[i + 1]!;
  return earliest;
}

/** What is wrong with the prefix bytes[0, cut), or nothing. */
function* prefixProblems(outcome: Outcome, cut: number, records: CaptureRecords, wholeRecords: number, before: bigint, full: Map<bigint, Row>): Generator<string> {
  if (cut < records.headerEnd) {
    // The pcap file header, or the pcapng file's first Section Header Block.
    if (!("error" in outcome && outcome.error.code === "TRUNCATED_FILE_HEADER")) yield `cut inside the file header: ${outcomeText(outcome)}`;
    return;
  }
  if ("error" in outcome) {
    yield `cut after the file header: ${outcomeText(outcome)}`;
    return;
  }
  const { rows, stats } = outcome;
  if (bucketSum(stats) !== stats.records) yield `buckets add up to ${bucketSum(stats)}, records ${stats.records}`;
  const atBoundary = records.boundaries.has(cut);
  if (stats.truncatedRecords > (atBoundary ? 0 : 1)) yield `${stats.truncatedRecords} truncated records${atBoundary ? " at a record boundary" : ""}`;
  const damage = DAMAGE.filter((key) => stats[key] !== 0);
  if (damage.length > 0) yield `counted as damage: ${damage.map((key) => `${key} ${stats[key]}`).join(", ")}`;
  if (stats.records !== wholeRecords + stats.truncatedRecords) yield `records ${stats.records}, want ${wholeRecords} whole + ${stats.truncatedRecords} truncated`;
  for (const [id, row] of rows) {
    const whole = full.get(id);
    if (!whole || whole.get("ts") !== row.get("ts") || whole.get("first_packet") !== row.get("first_packet")) yield `conn ${id}: not in the whole file's output`;
  }
  for (const [id, whole] of full) {
    // Conservative: the connection's last packet is earlier than every record the cut reaches.
    if ((whole.get("last_ts") as bigint) >= before) continue;
    const row = rows.get(id);
    if (!row) { yield `conn ${id} (last packet before the cut): missing`; continue; }
    for (const name of COMPARED) {
      if (!Object.is(row.get(name), whole.get(name))) yield `conn ${id}: ${name} ${show(row.get(name))}, whole file ${show(whole.get(name))}`;
    }
  }
}

function outcomeText(outcome: Outcome): string {
  return "error" in outcome ? `${outcome.error.code} ${outcome.error.message}` : `read ${outcome.stats.records} records`;
}

const show = (value: unknown) => (typeof value === "bigint" ? `${value}n` : JSON.stringify(value));

/** The first problems with the cuts of one capture, and how many there are in all. */
async function truncationProblems(name: string): Promise<{ problems: string[]; count: number }> {
  const bytes = readFileSync(join(KERNEL, name));
  const records = captureRecords(bytes);
  const earliest = earliestTimeFrom(records);
  const reader = new PrefixReader();
  const whole = await reader.read(bytes, bytes.length);
  if ("error" in whole) throw whole.error;
  expect(whole.stats.records, "records synfin reads in the whole file").toBe(records.recordEnds.length);
  expect(whole.stats.truncatedRecords).toBe(0);
  const problems: string[] = [];
  let count = 0;
  let wholeRecords = 0;
  for (let cut = CUT_STEP; cut < bytes.length; cut += CUT_STEP) {
    while (wholeRecords < records.recordEnds.length && records.recordEnds[wholeRecords]! <= cut) wholeRecords++;
    let found: Iterable<string>;
    try {
      found = prefixProblems(await reader.read(bytes, cut), cut, records, wholeRecords, earliest[wholeRecords]!, whole.rows);
    } catch (e) {
      found = [`threw ${String(e)}`];
    }
    for (const problem of found) if (count++ < MAX_REPORTED) problems.push(`${name} cut at ${cut}: ${problem}`);
  }
  return { problems, count };
}

const files = HAS_CAPTURES ? readdirSync(KERNEL).filter((f) => /\.(pcap|pcapng)$/.test(f)) : [];

describe.skipIf(!HAS_CAPTURES)(`kernel captures cut at every ${CUT_STEP}th byte${SKIP_NOTE}`, () => {
  // Without the corpus there is nothing to list: one skipped test makes the report say why.
  if (!HAS_CAPTURES) it("each kernel capture", () => undefined);
  for (const name of files) {
    const cuts = Math.floor((statSync(join(KERNEL, name)).size - 1) / CUT_STEP);
    it(`${name} (${cuts} cuts): no trap, and every prefix keeps the rows of the connections before the cut`, async () => {
      const { problems, count } = await truncationProblems(name);
      expect(problems, `${count} problems`).toEqual([]);
    });
  }
});
