// `synfin plan | map | reduce | merge`: one capture as tasks a cluster schedules (docs/cluster.md),
// each a pure function of files in a job directory that every machine sees at the same path.

import { parseArgs } from "node:util";
import { UsageError, parseArgsMessage } from "./usage.js";
import { SynfinError } from "../errors.js";
import { MAX_MAX_FLOWS } from "../core/core.js";
import { compileFilter } from "../filter/compile.js";
import { sortByFirstPacket } from "../input/first-time.js";
import { readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureStage, makePlan, planPath, stageDir, writeAtomically, type ClusterOptions } from "../cluster/plan.js";
import { runMap } from "../cluster/map.js";
import { runReduce } from "../cluster/reduce.js";
import { runMerge } from "../cluster/merge.js";
import type { ClusterStep } from "./steps.js";


const USAGE = `usage: synfin plan CAPTURE... -o DIR [--parts N] [--partitions P] [--sort-by-time]
                  [--verify-checksums] [--conn-key KEY] [--max-flows N] [--filter EXPR]
       synfin map DIR/stage/plan.json --task I -o DIR [--start OFFSET]
       synfin reduce DIR/stage/plan.json --partition J -o DIR
       synfin merge DIR/stage/plan.json -o DIR [--part K --of M]

One capture as tasks for a cluster (docs/cluster.md; contrib/dask/synfin_dask.py runs them on
Dask). DIR is the job directory, at the same path on every machine: the steps leave their files
in DIR/stage/ and the result in DIR/part-KKKKK-NNNNN.parquet (one table; the files in name order
hold the rows in a single pass's order, conn_id as a single pass's) and DIR/_stats.json. Each step writes under temporary names
and renames, so a step that dies leaves nothing behind and may simply run again.

  plan      splits the capture (files in the order given) into about N map tasks of equal
            bytes: pcap files at byte offsets, pcapng files whole; writes DIR/stage/plan.json
  map       frames and decodes task I's bytes into the plan's P partitions
  reduce    runs the connection state machines of partition J over every map task's records
  merge     writes the dataset from every reducer's rows: all of it, or with --part K --of M
            the K-th of M parts (by rows), each a task of its own

  -o, --output DIR      the job directory
  --parts N             map tasks to aim for (default 2 × the partitions)
  --partitions P        reduce tasks (default 4; at most 256)
  --sort-by-time        read the files in order of their first packet's time
  --verify-checksums, --conn-key KEY, --max-flows N, --filter EXPR
                        as for a single run (synfin --help); --max-flows is shared out among
                        the partitions
  --task I              the map task to run (0 to N - 1)
  --start OFFSET        start task I at this byte offset, known to begin a record (the end the
                        task before reported, when the two do not meet)
  --partition J         the partition to reduce (0 to P - 1)
  --part K, --of M      the part of the merge to write (0 to M - 1; default: all of it)
  -h, --help            this text`;

function integer(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got '${text}'`);
  return n;
}

export async function clusterMain(step: ClusterStep, argv: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: "string", short: "o" }, parts: { type: "string" }, partitions: { type: "string" },
        "sort-by-time": { type: "boolean" }, "verify-checksums": { type: "boolean" }, "conn-key": { type: "string" },
        "max-flows": { type: "string" }, filter: { type: "string" }, task: { type: "string" }, start: { type: "string" },
        partition: { type: "string" }, part: { type: "string" }, of: { type: "string" }, help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    return usage(parseArgsMessage(e as NodeJS.ErrnoException));
  }
  if (v.help) { process.stdout.write(USAGE + "\n"); return 0; }
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  try {
    const dir = v.output as string | undefined;
    if (!dir) throw new UsageError(`${step} needs the job directory (-o DIR)`);
    if (step === "plan") {
      if (positionals.length === 0) throw new UsageError("plan needs at least one capture file");
      const partitions = integer(v.partitions as string | undefined, "--partitions", 1, 256) ?? 4;
      const parts = integer(v.parts as string | undefined, "--parts", 1, 1_000_000) ?? 2 * partitions;
      const connKey = v["conn-key"] as string | undefined;
      if (connKey !== undefined && connKey !== "five-tuple" && connKey !== "vlan") throw new UsageError(`--conn-key must be five-tuple or vlan, got '${connKey}'`);
      const filter = v.filter as string | undefined;
      if (filter !== undefined) compileFilter(filter);
      const options: ClusterOptions = {
        verifyChecksums: v["verify-checksums"] === true || undefined,
        connKey: connKey as ClusterOptions["connKey"],
        maxFlows: integer(v["max-flows"] as string | undefined, "--max-flows", 1, MAX_MAX_FLOWS),
        filter,
      };
      const files = v["sort-by-time"] ? await sortByFirstPacket(positionals) : positionals;
      const plan = makePlan(files, parts, partitions, options);
      ensureStage(dir);
      removeEarlierDataset(dir);
      writeAtomically(planPath(dir), JSON.stringify(plan, null, 1) + "\n");
      const bytes = plan.files.reduce((n, f) => n + f.size, 0);
      process.stderr.write(`synfin: plan: ${plan.tasks.length} map tasks over ${plan.files.length} file(s), ${bytes} bytes; ${partitions} partitions; ${planPath(dir)}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(`${step} takes one plan (DIR/stage/plan.json)`);
    if (resolve(positionals[0]!) !== resolve(planPath(dir))) throw new UsageError(`${step} reads the plan of the job directory -o ${dir}, ${planPath(dir)}, not ${positionals[0]}`);
    if (step === "map") {
      const task = integer(v.task as string | undefined, "--task", 0, 2 ** 31);
      if (task === undefined) throw new UsageError("map needs --task I");
      const start = integer(v.start as string | undefined, "--start", 0, Number.MAX_SAFE_INTEGER);
      if (start !== undefined && start > 0 && start < 24) throw new UsageError(`--start must be 0 or at least 24 (a pcap file's header), got ${start}`);
      const r = await runMap(dir, task, start);
      process.stderr.write(`synfin: map task ${task}: bytes ${r.start} to ${r.end}, ${r.frames} frames, ${r.deferred} deferred, ${seconds()} s\n`);
      return 0;
    }
    if (step === "reduce") {
      const partition = integer(v.partition as string | undefined, "--partition", 0, 255);
      if (partition === undefined) throw new UsageError("reduce needs --partition J");
      const r = await runReduce(dir, partition);
      process.stderr.write(`synfin: reduce partition ${partition}: ${r.rows} rows, ${r.recordBytes} record bytes, ${r.timeTrackBytes} time-track bytes, ${seconds()} s\n`);
      return 0;
    }
    if ((v.part === undefined) !== (v.of === undefined)) throw new UsageError("merge takes --part K and --of M together");
    const of = integer(v.of as string | undefined, "--of", 1, 99_999) ?? 1;
    const part = integer(v.part as string | undefined, "--part", 0, of - 1) ?? 0;
    const r = await runMerge(dir, part, of);
    process.stderr.write(`synfin: merge${of > 1 ? ` part ${part} of ${of}` : ""}: ${r.rows} rows in ${r.parts.length} Parquet file(s) in ${dir}, ${seconds()} s\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) return usage(e.message);
    if (e instanceof SynfinError) {
      process.stderr.write(`synfin: ${e.code}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof RangeError) {
      process.stderr.write(`synfin: ${e.message.replace(/^synfin: /, "")}\n`);
      return 2;
    }
    throw e;
  }
}

/**
 * A new plan's job directory loses the dataset and temporary files of an earlier run, so that
 * DIR/*.parquet never mixes two runs' rows (the stage files are refused by plan id instead).
 */
function removeEarlierDataset(dir: string): void {
  for (const [folder, test] of [[dir, /^(part-\d{5}-\d{5}\.parquet|_stats\.json)$|\.tmp$/], [stageDir(dir), /\.tmp$/]] as const) {
    for (const name of readdirSync(folder)) if (test.test(name)) rmSync(join(folder, name), { force: true });
  }
}

function usage(message: string): number {
  process.stderr.write(`synfin: ${message} (see synfin plan --help)\n`);
  return 2;
}
