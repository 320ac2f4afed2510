// The Dask side of the bench's cluster case (bench/run.mjs): whether Dask is here, a local
// cluster started once per bench run, and the figures a job directory leaves in DIR/stage/.

import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export const PYTHON = "/usr/bin/python3";
const SCHEDULER = "/usr/bin/dask-scheduler";
const WORKER = "/usr/bin/dask-worker";
export const DASK_INSTALL_HINT = "apt-get install python3-distributed";

/** "installed" when the scheduler, the worker and python3's `distributed` are all here. */
export function daskInstalled() {
  const here = existsSync(SCHEDULER) && existsSync(WORKER) && spawnSync(PYTHON, ["-c", "import distributed"], { stdio: "ignore" }).status === 0;
  return here ? "installed" : "not installed";
}

/**
 * A scheduler on 127.0.0.1 (a free port) and `workers` one-thread workers, each in its own
 * process group, their logs and the workers' directories in `dir` (emptied first). Resolves once
 * the workers have registered to `{ address, stop }`, or to `{ error, stop }` with the cluster
 * stopped. `stop` kills the process groups by PID; a bench that ends before it calls it (an
 * exception, a signal) runs it on its way out. `env`: the processes' environment (the bench's
 * cases' own, which the tasks' synfin commands then run in).
 */
export async function startCluster(dir, workers, env = process.env) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const address = `tcp://127.0.0.1:${port}`;
  const started = [];
  const launch = (cmd, args, name) => {
    const fd = openSync(join(dir, `${name}.log`), "w");
    const child = spawn(cmd, args, { detached: true, env, stdio: ["ignore", fd, fd] });
    child.on("error", () => {}); // it never registers: the wait below reports it
    started.push(child);
    closeSync(fd);
  };
  const interrupted = () => {
    stop();
    process.exit(130);
  };
  const stop = () => {
    process.off("SIGINT", interrupted).off("SIGTERM", interrupted).off("exit", stop);
    for (const child of started.splice(0)) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Gone already, or never started.
      }
    }
  };
  process.on("SIGINT", interrupted).on("SIGTERM", interrupted).on("exit", stop);
  launch(SCHEDULER, ["--host", "127.0.0.1", "--port", String(port), "--no-dashboard"], "scheduler");
  for (let i = 0; i < workers; i++) {
    launch(WORKER, [address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--local-directory", join(dir, `worker-${i}`)], `worker-${i}`);
  }
  const wait = `from distributed import Client\nwith Client("${address}", timeout=60) as c: c.wait_for_workers(${workers}, timeout=120)`;
  const p = spawnSync(PYTHON, ["-c", wait], { encoding: "utf8" });
  if (p.status === 0) return { address, stop };
  stop();
  return { error: `${workers} Dask workers did not register (logs in ${dir}): ${(p.stderr ?? "").trim().split("\n").pop()}`, stop };
}

/** A TCP port nobody listens on now (the scheduler takes it a moment later). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    }).on("error", reject);
  });
}

/**
 * What a finished job directory's steps handed on: the bytes of DIR/stage/map-* (map → reduce)
 * and of reduce-*.rows (reduce → merge), and `timeTrackBytes` summed over reduce-*.json.
 */
export function stageFigures(dir) {
  const stage = join(dir, "stage");
  const names = readdirSync(stage).filter((n) => !n.endsWith(".tmp")); // a step's unfinished file
  const bytes = (test) => names.filter(test).reduce((sum, n) => sum + statSync(join(stage, n)).size, 0);
  const reducers = names.filter((n) => /^reduce-\d+\.json$/.test(n)).map((n) => JSON.parse(readFileSync(join(stage, n), "utf8")));
  const mapToReduceBytes = bytes((n) => n.startsWith("map-"));
  const reduceToMergeBytes = bytes((n) => /^reduce-\d+\.rows$/.test(n));
  return {
    mapToReduceBytes,
    reduceToMergeBytes,
    betweenStagesBytes: mapToReduceBytes + reduceToMergeBytes,
    timeTrackBytes: reducers.reduce((sum, r) => sum + r.timeTrackBytes, 0),
  };
}
