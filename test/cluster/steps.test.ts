// The cluster steps (src/cluster/, docs/cluster.md) run one after another in this process, as a
// scheduler would run them, give the single pass's table and accounting: a capture cut into many
// byte ranges, a filter, the shared corpus with its fragments and tunnels, a range that starts on
// a false record (the chain check and `--start`), and the errors of steps run out of order.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tableFromIPC, type Table } from "apache-arrow";
import { readParquet } from "parquet-wasm";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyze, SynfinError, type Stats } from "../../src/node.js";
import { makePlan, planPath, readPlan, ensureStage, writeAtomically, MIN_RANGE_BYTES, type ClusterOptions, type Plan } from "../../src/cluster/plan.js";
import { runMap } from "../../src/cluster/map.js";
import { runReduce } from "../../src/cluster/reduce.js";
import { runMerge } from "../../src/cluster/merge.js";
import { PCAP_HEADER_LEN, PCAP_RECORD_HEADER_LEN } from "../../src/synth/capture.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { CLI, expectSameStats, expectSameTable, readableCaptures, synth } from "../support/cluster.js";

const LONG = Boolean(process.env.SYNFIN_LONG_TESTS);
const MINUTE = 60_000;

let dir: string;
let duck: DuckDBConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "synfin-steps-"));
  duck = await (await DuckDBInstance.create(":memory:")).connect();
});

afterAll(() => {
  duck?.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs every map, every reduce, then the merge of the plan in `out`, in `mergeParts` parts. */
async function runSteps(out: string, plan: Plan, mergeParts = 1): Promise<void> {
  for (let i = 0; i < plan.tasks.length; i++) await runMap(out, i);
  for (let j = 0; j < plan.partitions; j++) await runReduce(out, j);
  for (let k = 0; k < mergeParts; k++) await runMerge(out, k, mergeParts);
}

/** The dataset's files, read in name order, hold the rows in the single pass's order. */
function expectSinglePassOrder(out: string, single: Table): void {
  const ids: bigint[] = [];
  for (const name of readdirSync(out).filter((f) => f.endsWith(".parquet")).sort()) {
    const table = tableFromIPC(readParquet(readFileSync(join(out, name))).intoIPCStream());
    ids.push(...(table.getChild("conn_id")!.toArray() as BigInt64Array));
  }
  expect(ids).toEqual([...(single.getChild("conn_id")!.toArray() as BigInt64Array)]);
}

/** A 3 MiB synthetic pcap at `path` (seed `seed`): its bytes, and the offset of its first record at or past the middle. */
function synthAndMiddle(path: string, seed: number): { bytes: Buffer; at: number } {
  synth(path, "3M", seed);
  const bytes = readFileSync(path);
  let at = PCAP_HEADER_LEN;
  while (at < bytes.length / 2) at += PCAP_RECORD_HEADER_LEN + bytes.readUInt32LE(at + 8);
  return { bytes, at };
}

function writePlan(out: string, plan: Plan): void {
  ensureStage(out);
  writeAtomically(planPath(out), JSON.stringify(plan));
}

/** Plans `files` into `job`, runs the steps, and requires the single pass's table and stats. */
async function expectStepsExact(job: string, files: string[], parts: number, partitions: number, options: ClusterOptions = {}, mergeParts = 1): Promise<Plan> {
  const out = join(dir, job);
  const plan = makePlan(files, parts, partitions, options);
  writePlan(out, plan);
  await runSteps(out, plan, mergeParts);
  const single = await analyze(files, { ...options, workers: 0 });
  await expectSameTable(duck, out, single.table);
  expectSinglePassOrder(out, single.table);
  expectSameStats(JSON.parse(readFileSync(join(out, "_stats.json"), "utf8")) as Stats, single.stats);
  return plan;
}

describe("the cluster steps give the single pass's table and accounting", () => {
  it(`a synthetic capture cut into byte ranges of at least ${MIN_RANGE_BYTES} bytes, 7 partitions, the merge in 5 parts; again with a capture filter`, async () => {
    const capture = join(dir, "synthetic.pcap");
    synth(capture, LONG ? "96M" : "24M", 11, "--concurrency", "1500");
    const plan = await expectStepsExact("synthetic", [capture], 64, 7, {}, 5);
    expect(plan.tasks.length).toBe(Math.min(64, Math.floor(plan.files[0]!.size / MIN_RANGE_BYTES)));
    expect(plan.tasks.length).toBeGreaterThan(20);
    await expectStepsExact("synthetic-filtered", [capture], 10, 3, { filter: "tcp and not port 443" });
  }, 10 * MINUTE);

  it.skipIf(!HAS_CAPTURES)(`the Zeek traces (fragments, tunnels over UDP, pcapng), the kernel captures and tcpdump's (times that go back), each folder as one capture${SKIP_NOTE}`, async () => {
    await expectStepsExact("zeek", await readableCaptures(join(CAPTURES, "zeek")), 8, 5, {}, 3);
    await expectStepsExact("kernel", await readableCaptures(join(CAPTURES, "kernel")), 8, 3, { connKey: "vlan" });
    await expectStepsExact("tcpdump", await readableCaptures(join(CAPTURES, "tcpdump")), 8, 4);
  }, 10 * MINUTE);

  it("a range that starts on a false record is caught by the chain check, and is exact once run from where the one before ended", async () => {
    // A frame whose bytes are nine plausible record headers in a chain, and a cut just before them.
    const capture = join(dir, "false-start.pcap");
    const { bytes, at } = synthAndMiddle(capture, 3);
    const fake = Buffer.alloc(9 * 24);
    for (let k = 0; k < 9; k++) {
      fake.writeUInt32LE(bytes.readUInt32LE(at), k * 24);
      fake.writeUInt32LE(1000, k * 24 + 4);
      fake.writeUInt32LE(8, k * 24 + 8);
      fake.writeUInt32LE(8, k * 24 + 12);
    }
    const header = Buffer.alloc(PCAP_RECORD_HEADER_LEN);
    bytes.copy(header, 0, at, at + 8);
    header.writeUInt32LE(fake.length, 8);
    header.writeUInt32LE(fake.length, 12);
    writeFileSync(capture, Buffer.concat([bytes.subarray(0, at), header, fake, bytes.subarray(at)]));

    const out = join(dir, "false-start");
    const plan = makePlan([capture], 1, 2, {});
    const size = plan.files[0]!.size;
    const cut = at + PCAP_RECORD_HEADER_LEN - 3;
    plan.tasks = [{ file: 0, start: 0, stop: cut }, { file: 0, start: cut, stop: size }];
    writePlan(out, plan);
    await runMap(out, 0);
    const second = await runMap(out, 1);
    expect(second.start).toBe(at + PCAP_RECORD_HEADER_LEN);
    const error = await runReduce(out, 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SynfinError);
    expect((error as SynfinError).code).toBe("STAGE_INVALID");
    expect((error as SynfinError).message).toMatch(/map task 1 started reading at byte \d+ but task 0 ended at byte \d+/);

    const first = JSON.parse(readFileSync(join(out, "stage", "map-0.json"), "utf8")) as { end: number };
    expect(first.end).toBe(at + PCAP_RECORD_HEADER_LEN + fake.length);
    await runMap(out, 1, first.end);
    for (let j = 0; j < plan.partitions; j++) await runReduce(out, j);
    await runMerge(out);
    expect(readdirSync(out).filter((f) => f.endsWith(".parquet"))).toEqual(["part-00000-00000.parquet"]);
    const single = await analyze(capture, { workers: 0 });
    await expectSameTable(duck, out, single.table);
    expectSameStats(JSON.parse(readFileSync(join(out, "_stats.json"), "utf8")) as Stats, single.stats);
  }, 5 * MINUTE);

  it("a damaged record header where a range starts: the range before skips it as a single pass does, and the next starts after it", async () => {
    const capture = join(dir, "damaged-at-cut.pcap");
    const { bytes, at } = synthAndMiddle(capture, 6);
    // An impossible captured length and a time no record near it has.
    bytes.writeUInt32LE(0xdeadbeef, at);
    bytes.writeUInt32LE(0x7fffffff, at + 8);
    writeFileSync(capture, bytes);
    const out = join(dir, "damaged-at-cut");
    const plan = makePlan([capture], 1, 3, {});
    plan.tasks = [{ file: 0, start: 0, stop: at }, { file: 0, start: at, stop: plan.files[0]!.size }];
    writePlan(out, plan);
    await runSteps(out, plan);
    const single = await analyze(capture, { workers: 0 });
    expect(single.stats.damagedLength).toBe(1);
    await expectSameTable(duck, out, single.table);
    expectSameStats(JSON.parse(readFileSync(join(out, "_stats.json"), "utf8")) as Stats, single.stats);
  }, 5 * MINUTE);

  it("steps run out of order, on another plan's outputs, or on a file no record of which can be read, fail with one line and exit 2", async () => {
    const capture = join(dir, "small.pcap");
    synth(capture, "2M", 4);
    const out = join(dir, "out-of-order");
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
    expect(cli("plan", capture, "-o", out, "--partitions", "2").status).toBe(0);
    const reduce = cli("reduce", planPath(out), "--partition", "0", "-o", out);
    expect(reduce.status).toBe(2);
    expect(reduce.stderr).toMatch(/^synfin: STAGE_INVALID: .*map-0\.json: no finished map --task 0 output here; run that step first/);
    expect(cli("map", planPath(out), "--task", "5", "-o", out).stderr).toMatch(/^synfin: the plan has tasks 0 to 0; there is no task 5\n$/);
    expect(readPlan(planPath(out)).tasks).toHaveLength(1);
    // A map output of an earlier plan in the same directory is not read.
    expect(cli("map", planPath(out), "--task", "0", "-o", out).status).toBe(0);
    expect(cli("plan", capture, "-o", out, "--partitions", "2").status).toBe(0);
    expect(cli("reduce", planPath(out), "--partition", "0", "-o", out).stderr).toMatch(/^synfin: STAGE_INVALID: .*map-0\.json: this map --task 0 output is of another plan than [-0-9a-f]{36}; run that step again/);

    // Two ranges of a file whose records are all damaged: the merge refuses it as a single pass does.
    const damaged = join(dir, "damaged.pcap");
    const bad = Buffer.alloc(2 * MIN_RANGE_BYTES + 100, 0xff);
    readFileSync(capture).copy(bad, 0, 0, PCAP_HEADER_LEN);
    writeFileSync(damaged, bad);
    const single = await analyze(damaged, { workers: 0 }).catch((e: unknown) => e);
    expect(single).toBeInstanceOf(SynfinError);
    const job = join(dir, "damaged");
    const plan = makePlan([damaged], 2, 1, {});
    expect(plan.tasks).toHaveLength(2);
    writePlan(job, plan);
    const merged = await runSteps(job, plan).catch((e: unknown) => e);
    expect(merged).toBeInstanceOf(SynfinError);
    expect((merged as SynfinError).code).toBe((single as SynfinError).code);
    expect((merged as SynfinError).message).toBe((single as SynfinError).message);
  }, 5 * MINUTE);
});
