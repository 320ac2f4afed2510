"""Runs synfin over a Dask cluster: captures in, one Parquet dataset of TCP connections out.

The run is synfin's four CLI steps, each a Dask task that calls the synfin command:

    plan (one task)  ->  map (one task per byte range of the captures)
                     ->  chain check (re-runs a map whose first record is not where the one
                         before it ended: a false resync, very rare)
                     ->  reduce (one task per partition)
                     ->  merge (one task per partition, each writing its share of the rows)

The result is DIR/part-KKKKK-NNNNN.parquet (read DIR/*.parquet as one table, ordered by conn_id:
the single pass's table; the files in name order hold the rows in the single pass's order) and DIR/_stats.json; intermediates stay under DIR/stage/. Every step is
idempotent, so a task Dask re-runs (retries, or a worker that died) does no harm; a map task the
chain check corrected keeps its start in DIR/stage/dask-start-I for when Dask runs it again.

Shared storage: DIR and the captures must be visible at the same paths to every worker (a
network or cluster file system); relative paths are made absolute here. The synfin command
(--synfin) must run on every worker.

    python3 contrib/dask/synfin_dask.py --scheduler tcp://HOST:8786 -o /shared/job \\
        --synfin "node /opt/synfin/dist/cli.js" /shared/captures/*.pcap

Needs the standard library and `distributed` only. Progress goes to standard error, the dataset
and its counts to standard output; on failure, one line naming the step and synfin's error, and
exit status 1.
"""

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import uuid

from distributed import Client


class StepFailed(RuntimeError):
    """A synfin step exited non-zero; the message is its command and the last line of its stderr."""


def run_step(command):
    """Runs one synfin step; raises StepFailed with its command and its SynfinError line."""
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        reason = lines[-1] if lines else "(no message)"
        raise StepFailed(f"{shlex.join(command)}: exit {done.returncode}: {reason}")


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_text(path, text):
    """Writes a small file under a temporary name and renames it into place, as synfin's steps do."""
    temp = f"{path}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    with open(temp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temp, path)


# The tasks. Each returns the step's JSON record, read on the worker: the client needs no access to DIR.

def start_file(out, task):
    """Where the chain check leaves a map task's corrected start (a file of this driver's, not synfin's)."""
    return os.path.join(out, "stage", f"dask-start-{task}")


def plan_task(synfin, captures, out, plan_args):
    run_step([*synfin, "plan", *captures, "-o", out, *plan_args])
    for name in os.listdir(os.path.join(out, "stage")):  # corrected starts of an earlier run in DIR
        if name.startswith("dask-start-"):
            os.remove(os.path.join(out, "stage", name))
    return read_json(os.path.join(out, "stage", "plan.json"))


def map_task(synfin, plan_path, task, out):
    # A map task Dask runs again (its worker died holding the result) keeps the chain check's correction.
    corrected = start_file(out, task)
    at = []
    if os.path.exists(corrected):
        with open(corrected, encoding="utf-8") as f:
            at = ["--start", f.read()]
    run_step([*synfin, "map", plan_path, "--task", str(task), "-o", out, *at])
    return read_json(os.path.join(out, "stage", f"map-{task}.json"))


def chain_task(synfin, plan_path, out, records):
    """Each map task must start where the one before it in the same file ended; re-runs one that does not."""
    records = list(records)
    reruns = 0
    for i in range(1, len(records)):
        before, record = records[i - 1], records[i]
        if record["file"] != before["file"] or record["start"] == before["end"]:
            continue
        write_text(start_file(out, i), str(before["end"]))
        records[i] = map_task(synfin, plan_path, i, out)
        reruns += 1
        if records[i]["start"] != before["end"]:
            raise StepFailed(f"map task {i} started at {records[i]['start']} when asked to start at {before['end']}")
    return reruns


def reduce_task(synfin, plan_path, partition, out, _chain):
    run_step([*synfin, "reduce", plan_path, "--partition", str(partition), "-o", out])
    return read_json(os.path.join(out, "stage", f"reduce-{partition}.json"))


def merge_task(synfin, plan_path, part, parts, out, _reduces):
    run_step([*synfin, "merge", plan_path, "-o", out, "--part", str(part), "--of", str(parts)])
    return read_json(os.path.join(out, "_stats.json"))


def parse_args(argv):
    p = argparse.ArgumentParser(description="Runs synfin's plan, map, reduce and merge steps as tasks on a Dask cluster.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap/pcapng files, read as one capture in this order")
    p.add_argument("--scheduler", required=True, help="the Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="the job directory (shared by every worker)")
    p.add_argument("--parts", type=int, help="map tasks to aim for (default: 2 x the cluster's threads)")
    p.add_argument("--partitions", type=int, help="reduce tasks, at most 256 (default: the cluster's threads, up to 256)")
    p.add_argument("--synfin", default="synfin", help='the synfin command on the workers (default: synfin), e.g. "node /opt/synfin/dist/cli.js"')
    p.add_argument("--retries", type=int, default=3, help="re-runs of a failing task (default 3)")
    p.add_argument("--sort-by-time", action="store_true")
    p.add_argument("--conn-key", choices=["five-tuple", "vlan"])
    p.add_argument("--verify-checksums", action="store_true")
    p.add_argument("--max-flows")
    p.add_argument("--filter")
    return p.parse_args(argv)


def plan_options(args, threads):
    """The plan step's flags: the sizes, and the analysis options given."""
    # synfin plan takes at most 256 partitions.
    flags = ["--parts", str(args.parts or 2 * threads), "--partitions", str(args.partitions or min(threads, 256))]
    if args.sort_by_time:
        flags.append("--sort-by-time")
    if args.verify_checksums:
        flags.append("--verify-checksums")
    for flag, value in (("--conn-key", args.conn_key), ("--max-flows", args.max_flows), ("--filter", args.filter)):
        if value is not None:
            flags += [flag, value]
    return flags


class Progress:
    """One line on standard error per finished stage, with its seconds."""

    def __init__(self):
        self.last = time.monotonic()

    def stage(self, text):
        now = time.monotonic()
        print(f"synfin_dask: {text} ({now - self.last:.1f} s)", file=sys.stderr, flush=True)
        self.last = now


def run(args):
    synfin = shlex.split(args.synfin)
    out = os.path.abspath(args.output)
    captures = [os.path.abspath(c) for c in args.captures]
    plan_path = os.path.join(out, "stage", "plan.json")
    run_id = uuid.uuid4().hex[:8]
    progress = Progress()
    with Client(args.scheduler) as client:

        def submit(fn, *fn_args, key):
            # Named keys show in Dask's errors and dashboard; pure=False: a step is an effect, never cached.
            return client.submit(fn, *fn_args, key=f"synfin-{key}-{run_id}", pure=False, retries=args.retries)

        client.wait_for_workers(1)
        threads = sum(client.nthreads().values())
        plan = submit(plan_task, synfin, captures, out, plan_options(args, threads), key="plan").result()
        tasks, partitions = len(plan["tasks"]), plan["partitions"]
        progress.stage(f"plan: {tasks} map tasks over {len(plan['files'])} files, {partitions} partitions, {threads} threads")

        maps = [submit(map_task, synfin, plan_path, i, out, key=f"map-{i}") for i in range(tasks)]
        chain = submit(chain_task, synfin, plan_path, out, maps, key="chain")
        reduces = [submit(reduce_task, synfin, plan_path, j, out, chain, key=f"reduce-{j}") for j in range(partitions)]
        # The merge in as many parts as partitions: each writes its share of the rows.
        merges = [submit(merge_task, synfin, plan_path, k, partitions, out, reduces, key=f"merge-{k}") for k in range(partitions)]

        # Each stage's futures are let go once done: Dask then runs a lost result again only while a
        # later stage still needs it.
        frames = sum(r["frames"] for r in client.gather(maps))
        del maps
        progress.stage(f"map: {tasks} tasks, {frames} frames")
        progress.stage(f"chain check: {chain.result()} map tasks re-run")
        del chain
        rows = sum(r["rows"] for r in client.gather(reduces))
        del reduces
        progress.stage(f"reduce: {partitions} tasks, {rows} rows")
        stats = client.gather(merges)[0]
        progress.stage(f"merge: {partitions} tasks")
    return out, stats


def main(argv):
    args = parse_args(argv)
    try:
        out, stats = run(args)
    except Exception as e:  # one line, whatever failed: a step, the cluster, a worker that kept dying
        print(f"synfin_dask: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
        return 1
    print(f"dataset: {os.path.join(out, '*.parquet')}")
    print(f"packets: {stats['records']}, connections: {stats['connections']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
