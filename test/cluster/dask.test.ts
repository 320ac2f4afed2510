// A cluster run on a real Dask cluster (contrib/dask/synfin_dask.py: synfin's plan, map, reduce and
// merge steps as Dask tasks; a scheduler and two one-thread workers on this machine) gives the
// single pass's table, every row and column, also when a worker is killed mid-run.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyze, type AnalyzeOptions, type Stats } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { CLI, expectSameStats, expectSameTable, readableCaptures, splitPcap, synth } from "../support/cluster.js";

/** The long runs (.ci/run) take a capture ten times the size. */
const LONG = Boolean(process.env.SYNFIN_LONG_TESTS);
const DRIVER = fileURLToPath(new URL("../../contrib/dask/synfin_dask.py", import.meta.url));
const PYTHON = "/usr/bin/python3";
const SCHEDULER = "/usr/bin/dask-scheduler";
const WORKER = "/usr/bin/dask-worker";
const MINUTE = 60_000;

const HAS_DASK = existsSync(SCHEDULER) && existsSync(WORKER) && spawnSync(PYTHON, ["-c", "import distributed"]).status === 0;
const DASK_NOTE = HAS_DASK ? "" : ` (skipped: ${SCHEDULER}, ${WORKER} or python3's distributed is missing)`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port nobody listens on now (the scheduler takes it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    }).on("error", reject);
  });
}

/** A process in its own process group (its children too), its output to a log file. */
function spawnLogged(command: string, args: string[], log: string): ChildProcess {
  const fd = openSync(log, "w");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  return child;
}

/** A Dask scheduler and its one-thread workers on this machine; each started process is a process group. */
class LocalCluster {
  readonly workers: ChildProcess[] = [];
  private readonly started: ChildProcess[] = [];

  private constructor(readonly address: string, private readonly dir: string) {}

  static async start(dir: string, workers: number): Promise<LocalCluster> {
    const port = await freePort();
    const cluster = new LocalCluster(`tcp://127.0.0.1:${port}`, dir);
    cluster.started.push(spawnLogged(SCHEDULER, ["--host", "127.0.0.1", "--port", String(port), "--no-dashboard"], join(dir, "scheduler.log")));
    for (let i = 0; i < workers; i++) cluster.addWorker();
    try {
      await cluster.waitForWorkers(workers);
    } catch (e) {
      cluster.stop();
      throw e;
    }
    return cluster;
  }

  addWorker(): void {
    const name = `worker-${this.started.length}`;
    const args = [this.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--local-directory", join(this.dir, name)];
    const worker = spawnLogged(WORKER, args, join(this.dir, `${name}.log`));
    this.workers.push(worker);
    this.started.push(worker);
  }

  /** Resolves once `count` workers are registered with the scheduler (a Dask client asks it). */
  async waitForWorkers(count: number): Promise<void> {
    const script = `from distributed import Client\nwith Client("${this.address}", timeout=60) as c: c.wait_for_workers(${count}, timeout=120)`;
    const { code, stderr } = await runProcess(PYTHON, ["-c", script]);
    if (code !== 0) throw new Error(`${count} Dask workers did not register (logs in ${this.dir}): ${stderr.trim().split("\n").pop()}`);
  }

  /**
   * SIGKILLs a worker running a synfin step now (the nanny; its worker process follows it, and
   * Dask re-runs its task and any result it held); false when none is. The step runs on as an
   * orphan, as it would after an out-of-memory kill of the worker alone.
   */
  killBusyWorker(): boolean {
    const index = this.workers.findIndex((w) => spawnSync("pgrep", ["-g", String(w.pid), "-f", CLI]).status === 0);
    if (index < 0) return false;
    const [worker] = this.workers.splice(index, 1);
    process.kill(worker!.pid!, "SIGKILL");
    return true;
  }

  /** Kills every process group it started: scheduler, workers, their synfin steps. */
  stop(): void {
    for (const child of this.started) {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
  }
}

interface Finished { code: number | null; stdout: string; stderr: string }

function runProcess(command: string, args: string[]): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d; });
    child.stderr.on("data", (d: Buffer) => { stderr += d; });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** How a case runs the driver: the plan's sizes, the analysis options, what to do meanwhile. */
interface ClusterRun {
  parts?: number;
  partitions?: number;
  options?: Pick<AnalyzeOptions, "filter" | "connKey" | "verifyChecksums">;
  /** Runs while the driver does; `finished` says whether it has ended. */
  during?: (out: string, finished: () => boolean) => Promise<void>;
}

describe.skipIf(!HAS_DASK)(`a cluster run on a Dask cluster gives the single pass's table${DASK_NOTE}`, () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let duck: DuckDBConnection;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "synfin-dask-"));
    duck = await (await DuckDBInstance.create(":memory:")).connect();
    cluster = await LocalCluster.start(dir, 2);
  }, 3 * MINUTE);

  afterAll(() => {
    cluster?.stop();
    duck?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs the driver over `files` into a new job directory (with `parts` and `partitions` if given,
   * and the analysis options as its flags) and compares its dataset and accounting with the single
   * pass over the same files with the same options; `during` runs alongside the driver.
   */
  async function expectClusterRunExact(job: string, files: string[], run: ClusterRun = {}): Promise<Stats> {
    const out = join(dir, job);
    const { options = {} } = run;
    const flags = [
      ...(run.parts === undefined ? [] : ["--parts", String(run.parts)]),
      ...(run.partitions === undefined ? [] : ["--partitions", String(run.partitions)]),
      ...(options.filter === undefined ? [] : ["--filter", options.filter]),
      ...(options.connKey === undefined ? [] : ["--conn-key", options.connKey]),
      ...(options.verifyChecksums ? ["--verify-checksums"] : []),
    ];
    const synfin = `'${process.execPath}' '${CLI}'`;
    const driver = runProcess(PYTHON, [DRIVER, "--scheduler", cluster!.address, "-o", out, "--synfin", synfin, ...flags, ...files]);
    let done = false;
    void driver.then(() => { done = true; });
    await run.during?.(out, () => done);
    const { code, stdout, stderr } = await driver;
    expect(code, `driver: ${stderr}`).toBe(0);
    expect(stderr).toMatch(/synfin_dask: merge/);

    const single = await analyze(files, { ...options, workers: 0 });
    expect(stdout).toContain(`dataset: ${join(out, "*.parquet")}`);
    expect(stdout).toMatch(new RegExp(`connections: ${single.table.numRows}\\b`));
    await expectSameTable(duck, out, single.table);
    expectSameStats(JSON.parse(readFileSync(join(out, "_stats.json"), "utf8")) as Stats, single.stats);
    return single.stats;
  }

  // The single pass reads the corpus folders' captures one after the other as one capture; the
  // cluster run is given the same list.
  it.skipIf(!HAS_CAPTURES)(`the Zeek traces as one capture${SKIP_NOTE}`, async () => {
    const files = await readableCaptures(join(CAPTURES, "zeek"));
    expect(files.length).toBeGreaterThan(40);
    await expectClusterRunExact("zeek", files);
  }, 10 * MINUTE);

  it.skipIf(!HAS_CAPTURES)(`the kernel captures (every scenario in pcap µs and ns, pcapng and snap 96) as one capture${SKIP_NOTE}`, async () => {
    const files = await readableCaptures(join(CAPTURES, "kernel"));
    expect(files.length).toBeGreaterThan(30);
    await expectClusterRunExact("kernel", files);
  }, 10 * MINUTE);

  it("a capture rotated into three files by record count, given in order; again with a capture filter, checksums verified and VLAN tags in the key", async () => {
    const whole = join(dir, "rotated.pcap");
    synth(whole, "12M", 23, "--nanos", "--snaplen", "128");
    const pieces = splitPcap(whole, 3);
    await expectClusterRunExact("rotated", pieces, { parts: 6, partitions: 3 });
    // Resets and the clients' longer segments left out: rows end otherwise (by timers, or half-open).
    const filter = "not tcp[tcpflags] & tcp-rst != 0 and not (tcp src portrange 1024-65535 and len > 90)";
    const stats = await expectClusterRunExact("rotated-options", pieces, { parts: 6, partitions: 3, options: { filter, verifyChecksums: true, connKey: "vlan" } });
    expect(stats.filtered).toBeGreaterThan(stats.records / 20);
  }, 10 * MINUTE);

  it("a step that fails fails the run, with one line naming its command and synfin's error", async () => {
    const capture = join(dir, "before-garbage.pcap");
    synth(capture, "2M", 5);
    const garbage = join(dir, "garbage.pcap");
    writeFileSync(garbage, Buffer.alloc(5000, 0xee));
    const synfin = `'${process.execPath}' '${CLI}'`;
    const run = await runProcess(PYTHON, [DRIVER, "--scheduler", cluster!.address, "-o", join(dir, "failing"), "--synfin", synfin, "--retries", "1", capture, garbage]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    const lines = run.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(/^synfin_dask: StepFailed: .*cli\.js map .* --task \d+ .*: exit 2: synfin: NOT_A_CAPTURE: .*garbage\.pcap/);
    expect(lines.slice(0, -1).every((line) => line.startsWith("synfin_dask: "))).toBe(true);
  }, 5 * MINUTE);

  // Last: one of the two workers is gone afterwards.
  it(`a synthetic capture of ${LONG ? 300 : 30} MB in 8 parts and 5 partitions, a worker killed once the first map output exists`, async () => {
    const capture = join(dir, "synthetic.pcap");
    synth(capture, LONG ? "300M" : "30M", 7);
    let killed = false;
    const during = async (out: string, finished: () => boolean) => {
      const firstMap = join(out, "stage", "map-0.json");
      while (!finished()) {
        if (existsSync(firstMap) && cluster!.killBusyWorker()) {
          killed = true;
          return;
        }
        await sleep(20);
      }
    };
    await expectClusterRunExact("synthetic", [capture], { parts: 8, partitions: 5, during });
    expect(killed, "the run ended before a worker could be killed").toBe(true);
  }, LONG ? 40 * MINUTE : 15 * MINUTE);
});
