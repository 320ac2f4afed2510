// `npm run bench`: synfin against the physical limit and its peers on synthetic captures, each
// case a separate process timed over several runs. Writes bench/out/bench.json and bench.md and
// prints the Markdown (bench/README.md explains the cases). Exits 1 when a case of ours fails.
//
//   node bench/run.mjs [--smoke] [--runs N] [--only header|full|live|short|pcapng] [--no-peers]

import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { tableFromIPC } from "apache-arrow";
import { DASK_INSTALL_HINT, daskInstalled, PYTHON, stageFigures, startCluster } from "./dask.mjs";

const USAGE = "usage: node bench/run.mjs [--smoke] [--runs N] [--only header|full|live|short|pcapng] [--no-peers]";
let flags;
try {
  ({ values: flags } = parseArgs({
    options: {
      smoke: { type: "boolean", default: false },
      runs: { type: "string" },
      only: { type: "string" },
      "no-peers": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (e) {
  usage(e.message);
}
if (flags.help) {
  process.stdout.write(`${USAGE}\n  --smoke      one quick run of each case\n  --runs N     runs per case (default 3)\n  --only K     only the header-only, full-payload, live-connection, short-connection or pcapng cases\n  --no-peers   leave out tshark and tcptrace (the JS baseline and Dask still run)\nbench/README.md explains the cases.\n`);
  process.exit(0);
}
const here = fileURLToPath(new URL(".", import.meta.url));
const out = join(here, "out");
const CLI = join(here, "..", "dist", "cli.js");
const MEASURE = join(here, "measure.mjs");
const JS_BASELINE = join(here, "js-baseline.mjs");
const DASK_DRIVER = join(here, "..", "contrib", "dask", "synfin_dask.py");
const DASK_WORKERS = 2;
const SEED = 1;
const FULL_SNAPLEN = 262144;
const HEADER_SNAPLEN = 96;
const MIB = 2 ** 20;
const INSTALL_HINT = "apt-get install tshark tcptrace";

const runs = Number(flags.runs ?? (flags.smoke ? 1 : 3));
if (!(Number.isInteger(runs) && runs >= 1)) usage(`--runs takes a positive whole number, got '${flags.runs}'`);
if (flags.only !== undefined && !["header", "full", "live", "short", "pcapng"].includes(flags.only)) usage(`--only takes header, full, live, short or pcapng, got '${flags.only}'`);
if (!existsSync(CLI)) usage("dist/cli.js is missing: run `npm run build` first");

// Sizes are binary, as `synfin synth --bytes` reads them. "small" is there to show that peak
// memory follows the connections alive at once, not the file size.
const sizes = flags.smoke ? { full: "16M", header: "8M", small: "4M", live: "8M", short: "8M", pcapng: "8M" } : { full: "2G", header: "1G", small: "256M", live: "1G", short: "1G", pcapng: "1G" };
const captures = [
  { id: "full", only: "full", title: "Full payload", bytes: sizes.full, snaplen: FULL_SNAPLEN, cases: "all" },
  { id: "header", only: "header", title: "Header-only (snaplen 96)", bytes: sizes.header, snaplen: HEADER_SNAPLEN, cases: "all" },
  { id: "small", only: "full", title: "Full payload, small (memory flatness)", bytes: sizes.small, snaplen: FULL_SNAPLEN, cases: "synfin-w1" },
  // The same kind of traffic with ten times the connections alive at once (issue #12, point 2).
  { id: "live-few", only: "live", title: "Header-only, --concurrency 800", bytes: sizes.live, snaplen: HEADER_SNAPLEN, concurrency: 800, cases: "live" },
  { id: "live-many", only: "live", title: "Header-only, --concurrency 8000", bytes: sizes.live, snaplen: HEADER_SNAPLEN, concurrency: 8000, cases: "live" },
  // Another shape (issue #12, point 1): responses of at most 3 KiB, so about 16 packets per
  // connection against about 120: the work of starting and ending connections and writing rows.
  { id: "short", only: "short", title: "Header-only, many short connections (--max-response 3K)", bytes: sizes.short, snaplen: HEADER_SNAPLEN, maxResponse: "3K", cases: "short" },
  // The header-only traffic as pcapng (Enhanced Packet Blocks), as dumpcap and Wireshark write it.
  { id: "pcapng", only: "pcapng", title: "Header-only as pcapng", bytes: sizes.pcapng, snaplen: HEADER_SNAPLEN, format: "pcapng", cases: "pcapng" },
].filter((c) => flags.only === undefined || c.only === flags.only); // `only`: the --only value that runs it

const rssMethod = gnuTimeWorks() ? "GNU time %M" : "polled /proc/PID/status VmHWM";
const peers = {
  tshark: flags["no-peers"] ? "skipped" : installed("tshark", ["--version"]),
  tcptrace: flags["no-peers"] ? "skipped" : installed("tcptrace", ["-v"]),
};
// The cluster case is synfin's own: --no-peers keeps it. It runs on the header-only capture.
const dask = captures.some((c) => c.id === "header") ? daskInstalled() : "not needed";

/**
 * What every case runs without from this process's environment: NODE_EXTRA_CA_CERTS makes every
 * Node process parse that bundle of CA certificates as it starts (50 ms on this project's
 * machine, whose environment sets it), a cost of the machine, not of the case, which would add to
 * the read loop's time as much as to synfin's and make their ratio look better than it is.
 */
const WITHOUT_ENV = ["NODE_EXTRA_CA_CERTS"].filter((k) => process.env[k] !== undefined);
const caseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !WITHOUT_ENV.includes(k)));

mkdirSync(out, { recursive: true });
const report = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  runs,
  smoke: flags.smoke,
  rssMethod,
  withoutEnv: WITHOUT_ENV,
  captures: [],
};
let ownFailures = 0;
for (const capture of captures) {
  const file = await ensureCapture(capture);
  // One local Dask cluster for all runs of the cluster case; if the bench dies first, its exit stops it.
  const cluster = capture.id === "header" && dask === "installed" ? await startCluster(join(out, "dask-cluster"), DASK_WORKERS, caseEnv) : undefined;
  if (cluster?.error) ownFailures++;
  const cases = casesFor(capture, file.path, cluster);
  await runCase({ cmd: process.execPath, args: [MEASURE, "read", file.path] }); // warm the page cache, untimed
  const samples = new Map(cases.map((c) => [c, []]));
  for (let run = 0; run < runs; run++) {
    for (const c of cases) {
      if (c.status !== undefined) continue; // not installed, or failed in an earlier run
      const result = await runCase(c);
      if (!result.ok) {
        c.status = `failed: ${shortened(result.firstErrorLine)}`;
        if (c.own) ownFailures++;
        continue;
      }
      samples.get(c).push(result);
    }
  }
  cluster?.stop();
  report.captures.push(summarise(capture, file, cases, samples));
}
const markdown = renderMarkdown(report);
writeFileSync(join(out, "bench.json"), JSON.stringify(report, null, 2) + "\n");
writeFileSync(join(out, "bench.md"), markdown);
process.stdout.write(markdown);
if (ownFailures > 0) {
  process.stderr.write(`bench: ${ownFailures} case(s) of synfin's own failed\n`);
  process.exitCode = 1;
}

// ---- Captures -----------------------------------------------------------------------------

/** Writes the capture with `synfin synth` unless one with the same parameters is already there. */
async function ensureCapture(capture) {
  const params = { bytes: capture.bytes, snaplen: capture.snaplen, seed: SEED, ...(capture.concurrency ? { concurrency: capture.concurrency } : {}), ...(capture.maxResponse ? { maxResponse: capture.maxResponse } : {}) };
  const path = join(out, `synth-${capture.bytes}-snap${capture.snaplen}-seed${SEED}${capture.concurrency ? `-c${capture.concurrency}` : ""}${capture.maxResponse ? `-r${capture.maxResponse}` : ""}.${capture.format ?? "pcap"}`);
  const sidecar = `${path}.json`;
  if (existsSync(path) && existsSync(sidecar)) {
    const saved = JSON.parse(readFileSync(sidecar, "utf8"));
    if (JSON.stringify(saved.params) === JSON.stringify(params) && saved.size === statSync(path).size) return { ...saved, path, generatedNow: false };
  }
  process.stderr.write(`bench: writing ${path} ...\n`);
  const args = [CLI, "synth", "-o", path, "--bytes", capture.bytes, "--snaplen", String(capture.snaplen), "--seed", String(SEED)];
  if (capture.concurrency) args.push("--concurrency", String(capture.concurrency));
  if (capture.maxResponse) args.push("--max-response", capture.maxResponse);
  const t0 = performance.now();
  const p = spawnSync(process.execPath, args, { encoding: "utf8" });
  const seconds = (performance.now() - t0) / 1000;
  if (p.status !== 0) throw new Error(`synfin synth failed: ${p.stderr}`);
  const size = statSync(path).size;
  const packets = Number(/(\d+) packets/.exec(p.stderr)?.[1]);
  const saved = { params, size, packets, synthSeconds: seconds, synthMBps: size / 1e6 / seconds };
  writeFileSync(sidecar, JSON.stringify(saved, null, 2) + "\n");
  return { ...saved, path, generatedNow: true };
}

function casesFor(capture, path, cluster) {
  const node = process.execPath;
  const arrow = (name) => join(out, `${capture.id}-${name}.arrow`);
  const cli = (workers) => ({
    name: `synfin CLI → Arrow, --workers ${workers}`, group: "synfin", own: true, arrow: arrow(`cli-w${workers}`), workers,
    cmd: node, args: [CLI, path, "--format", "arrow", "-o", arrow(`cli-w${workers}`), "--workers", String(workers), "--no-progress"],
  });
  const lib = (workers) => ({
    name: `synfin library → Arrow, workers ${workers}`, group: "synfin", own: true, arrow: arrow(`lib-w${workers}`), workers,
    cmd: node, args: [MEASURE, "lib", path, arrow(`lib-w${workers}`), String(workers)],
  });
  // The plain run with a capture filter (issue #15): its rows are not the others', so no count check.
  const filtered = (expr) => ({
    ...cli(1), name: `synfin CLI → Arrow, --workers 1, --filter "${expr}"`, id: "filter", arrow: undefined,
    args: [CLI, path, "--format", "arrow", "-o", arrow("cli-w1-filter"), "--workers", "1", "--no-progress", "--filter", expr],
  });
  // The plain run also writing the packets table (issue #15): one Arrow row per TCP segment.
  const withPackets = {
    ...cli(1), name: "synfin CLI → Arrow, --workers 1, --packets (Arrow)", id: "packets", arrow: arrow("cli-w1-packets"),
    args: [...cli(1).args.map((a) => (a === arrow("cli-w1") ? arrow("cli-w1-packets") : a)), "--packets", arrow("cli-w1-packets-table")],
  };
  // The plain run with the packet statistics columns (issue #15): the same connections, wider rows.
  const withStats = {
    ...cli(1), name: "synfin CLI → Arrow, --workers 1, --packet-stats", id: "packet-stats", arrow: arrow("cli-w1-stats"),
    args: [...cli(1).args.map((a) => (a === arrow("cli-w1") ? arrow("cli-w1-stats") : a)), "--packet-stats"],
  };
  // The same run writing the other formats (header-only capture): what each output costs beside Arrow.
  const inFormat = (format, label, ext) => ({
    ...cli(1), name: `synfin CLI → ${label}, --workers 1`, id: `format-${format}`, arrow: undefined,
    args: [CLI, path, "--format", format, "-o", join(out, `${capture.id}-cli-w1.${ext}`), "--workers", "1", "--no-progress"],
  });
  const formats = capture.id === "header" ? [inFormat("parquet", "Parquet", "parquet"), inFormat("zeek", "Zeek conn.log", "log"), inFormat("ndjson", "NDJSON", "ndjson")] : [];
  // The Dask driver over the cluster steps: a fresh job directory each run, its
  // intermediates measured, then deleted; it prints its connection count on stdout.
  const job = join(out, `${capture.id}-dask-job`);
  const onDask = {
    name: `Dask driver → Parquet, ${DASK_WORKERS} local workers × 1 thread`, id: "dask", group: "synfin", own: true, keepStdout: true, jobDir: job,
    status: cluster?.error ? `failed: ${shortened(cluster.error)}` : notInstalled(dask),
    cmd: PYTHON, args: [DASK_DRIVER, "--scheduler", cluster?.address ?? "tcp://127.0.0.1:PORT", "-o", job, "--synfin", `'${process.execPath}' '${CLI}'`, "--parts", "8", "--partitions", "2", path],
  };
  if (capture.cases === "synfin-w1") return [cli(1), lib(1)];
  const readLoop = { name: "fs.read loop, 8 MiB buffer", id: "read", group: "limit", own: true, cmd: node, args: [MEASURE, "read", path] };
  const tcptrace = { name: "tcptrace -n -l", id: "tcptrace", group: "peer", status: notInstalled(peers.tcptrace), cmd: "tcptrace", args: ["-n", "-l", path] };
  if (capture.cases === "short") return [readLoop, cli(1), tcptrace];
  if (capture.cases === "pcapng") return [readLoop, cli(1), tcptrace];
  if (capture.cases === "live") {
    const withStats = { ...cli(1), args: [...cli(1).args, "--stats"], reportsPeakFlows: true };
    return [readLoop, withStats];
  }
  return [
    readLoop,
    { name: "pcap record-header walk (JS)", id: "walk", group: "limit", own: true, cmd: node, args: [MEASURE, "walk", path], reportsPackets: true },
    cli(1), cli(2), filtered("port 80"), withPackets, withStats, ...formats, lib(1), lib(2), ...(capture.id === "header" ? [onDask] : []),
    { name: "tshark -q -z conv,tcp", id: "tshark", group: "peer", status: notInstalled(peers.tshark), cmd: "tshark", args: ["-r", path, "-q", "-z", "conv,tcp"] },
    tcptrace,
    { name: "JS baseline (Map flow tracker)", id: "js", group: "peer", own: true, cmd: node, args: [JS_BASELINE, path], keepStdout: true },
  ];
}

// ---- Processes ----------------------------------------------------------------------------

/** Runs one case as a child process; resolves to wall seconds, CPU seconds, peak RSS and its output. */
function runCase(c) {
  const rssFile = join(out, ".rss");
  const useTime = rssMethod.startsWith("GNU");
  const [cmd, args] = useTime ? ["/usr/bin/time", ["-f", "%M %U %S", "-o", rssFile, c.cmd, ...c.args]] : [c.cmd, c.args];
  const devNull = openSync("/dev/null", "w");
  // Each run writes its outputs afresh: replacing a large file by rename makes the file system
  // write the old one's data out first (ext4's auto_da_alloc), a cost of the bench, not the case.
  for (const arg of c.args) if (arg.startsWith(out) && /\.(arrow|parquet|log|ndjson)$/.test(arg)) rmSync(arg, { force: true });
  if (c.jobDir) rmSync(c.jobDir, { recursive: true, force: true });
  // The outputs of the run before are written out now, untimed: otherwise the file system writes
  // them back during this run (hundreds of MB after the packets table), which slowed whatever
  // case came next by about a tenth.
  spawnSync("sync", { stdio: "ignore" });
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: caseEnv, stdio: ["ignore", c.keepStdout ? "pipe" : devNull, "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    let polledKiB = 0;
    const poll = useTime ? undefined : setInterval(() => { polledKiB = Math.max(polledKiB, vmHwmKiB(child.pid)); }, 10);
    child.on("error", (e) => { stderr += e.message; });
    child.on("close", (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (poll) clearInterval(poll);
      closeSync(devNull);
      let maxRssBytes = polledKiB * 1024;
      // CPU time, user and system, of the process and the children it waited for (GNU time only).
      let cpuSeconds;
      if (useTime && existsSync(rssFile)) {
        const [kib, user, system] = readFileSync(rssFile, "utf8").trim().split("\n").pop().split(" ").map(Number);
        maxRssBytes = kib * 1024;
        cpuSeconds = user + system;
        rmSync(rssFile);
      }
      // Not the Dask driver's progress lines either ("synfin_dask: map: 8 tasks, … (2.1 s)").
      const errorLines = stderr.split("\n").map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith("{") && !/Running as user "root"/.test(l) && !/^synfin_dask: .*\(\d+\.\d s\)$/.test(l));
      // A job directory is measured and deleted; a failed run's stays for a look.
      const stages = c.jobDir && code === 0 ? stageFigures(c.jobDir) : undefined;
      if (stages) rmSync(c.jobDir, { recursive: true, force: true });
      const report = /\{.*\}\s*$/.exec(stderr.trim())?.[0];
      resolve({
        ok: code === 0,
        seconds,
        cpuSeconds,
        maxRssBytes,
        stdout,
        report: report ? JSON.parse(report) : undefined,
        peakFlows: c.reportsPeakFlows ? Number(/^peakFlows\s+(\d+)/m.exec(stderr)?.[1]) : undefined,
        stages,
        firstErrorLine: errorLines[0] ?? `exit status ${code}`,
      });
    });
  });
}

function vmHwmKiB(pid) {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0; // the process has just ended
  }
}

function gnuTimeWorks() {
  return existsSync("/usr/bin/time") && spawnSync("/usr/bin/time", ["-f", "%M", "-o", "/dev/null", "true"]).status === 0;
}

function installed(cmd, args) {
  const p = spawnSync(cmd, args, { stdio: "ignore" });
  return p.error === undefined ? "installed" : "not installed";
}

function notInstalled(state) {
  return state === "installed" ? undefined : state;
}

// ---- Results ------------------------------------------------------------------------------

function summarise(capture, file, cases, samples) {
  const walk = cases.find((c) => c.id === "walk");
  const walkPackets = walk ? samples.get(walk)[0]?.report?.packets : undefined;
  const packets = walkPackets ?? file.packets;
  const rows = cases.map((c) => {
    const list = samples.get(c);
    const row = { name: c.name, id: c.id, group: c.group, command: [c.cmd, ...c.args].join(" "), status: c.status ?? "ok" };
    if (list.length === 0) return row;
    const sorted = [...list].sort((a, b) => a.seconds - b.seconds);
    const median = sorted[sorted.length >> 1].seconds;
    Object.assign(row, {
      seconds: { median, min: sorted[0].seconds, max: sorted[sorted.length - 1].seconds, all: list.map((s) => s.seconds) },
      cpuSeconds: list.every((s) => s.cpuSeconds !== undefined) ? medianOf(list.map((s) => s.cpuSeconds)) : undefined,
      peakRssBytes: Math.max(...list.map((s) => s.maxRssBytes)),
      packetsPerSecond: packets / median,
      bytesPerSecond: file.size / median,
    });
    if (c.arrow && existsSync(c.arrow)) row.connections = tableFromIPC(readFileSync(c.arrow)).numRows;
    if (c.id === "js") row.flows = JSON.parse(list[0].stdout).flows;
    if (c.reportsPeakFlows) row.peakFlows = list[0].peakFlows;
    if (c.jobDir) {
      row.connections = Number(/connections: (\d+)/.exec(list.at(-1).stdout)?.[1]);
      row.stages = list.at(-1).stages; // the last run's
    }
    return row;
  });
  // Every synfin case must find the same connections as the first one that ran.
  const synfinRows = rows.filter((r) => r.connections !== undefined);
  for (const row of synfinRows.slice(1)) {
    if (row.connections === synfinRows[0].connections) continue;
    row.status = `wrong: ${row.connections} connections, ${synfinRows[0].name} found ${synfinRows[0].connections}`;
    ownFailures++;
  }
  const references = ["read", "tshark", "tcptrace", "js"].map((id) => rows.find((r) => r.id === id)).filter((r) => r?.seconds);
  for (const row of rows) {
    if (!row.seconds) continue;
    row.ratios = Object.fromEntries(references.map((ref) => [ref.id, { time: row.seconds.median / ref.seconds.median, rss: row.peakRssBytes / ref.peakRssBytes }]));
  }
  return {
    id: capture.id,
    title: capture.title,
    path: file.path,
    params: file.params,
    bytes: file.size,
    packets,
    synth: file.generatedNow ? { seconds: file.synthSeconds, MBps: file.synthMBps } : undefined,
    results: rows,
  };
}

function medianOf(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function renderMarkdown(r) {
  const lines = [];
  const m = r.machine;
  lines.push(`# synfin benchmark${r.smoke ? " (smoke: small files, 1 run)" : ""}`, "");
  lines.push(`${r.date}; ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}; median of ${r.runs} run(s) (min–max), each case a fresh process, the file in the page cache${r.withoutEnv?.length ? `, without ${r.withoutEnv.join(" and ")} in its environment` : ""}; peak RSS by ${r.rssMethod}.`, "");
  const refs = [["read", "read"], ["tshark", "tshark"], ["tcptrace", "tcptrace"], ["js", "JS"]];
  for (const c of r.captures.filter((c) => c.id !== "small" && !c.id.startsWith("live"))) {
    const synth = c.synth ? `; written in ${c.synth.seconds.toFixed(1)} s (${c.synth.MBps.toFixed(0)} MB/s) by \`synfin synth\`` : "";
    lines.push(`## ${c.title}: ${sizeText(c.bytes)}, ${c.packets.toLocaleString("en-US")} packets${synth}`, "");
    lines.push(`| case | wall s | CPU s | packets/s | MB/s | peak RSS MiB | connections | ${refs.map(([, label]) => `× ${label} time`).join(" | ")} |`);
    lines.push(`|---|---|---|---|---|---|---|${refs.map(() => "---").join("|")}|`);
    for (const row of c.results) {
      if (!row.seconds) {
        lines.push(`| ${row.name} | ${row.status} | | | | | |${refs.map(() => " ").join("|")}|`);
        continue;
      }
      const s = row.seconds;
      const ratios = refs.map(([id]) => (row.ratios[id] ? row.ratios[id].time.toFixed(2) : "–"));
      const count = row.status !== "ok" ? row.status : row.connections ?? (row.flows !== undefined ? `${row.flows} flows` : "");
      const cpu = row.cpuSeconds === undefined ? "–" : row.cpuSeconds.toFixed(2);
      lines.push(`| ${row.name} | ${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)}) | ${cpu} | ${(row.packetsPerSecond / 1e6).toFixed(2)} M | ${(row.bytesPerSecond / 1e6).toFixed(0)} | ${(row.peakRssBytes / MIB).toFixed(0)} | ${count} | ${ratios.join(" | ")} |`);
    }
    lines.push("");
  }
  const flat = r.captures.filter((c) => c.id === "small" || c.id === "full").sort((a, b) => a.bytes - b.bytes);
  if (flat.length === 2) {
    lines.push("## Peak RSS against file size (full payload)", "");
    lines.push("| capture | packets | synfin CLI --workers 1 | synfin library, workers 1 |", "|---|---|---|---|");
    for (const c of flat) {
      const rss = (prefix) => {
        const row = c.results.find((x) => x.name.startsWith(prefix) && x.name.endsWith(" 1"));
        return row?.peakRssBytes ? `${(row.peakRssBytes / MIB).toFixed(0)} MiB` : (row?.status ?? "–");
      };
      lines.push(`| ${sizeText(c.bytes)} | ${c.packets.toLocaleString("en-US")} | ${rss("synfin CLI")} | ${rss("synfin library")} |`);
    }
    lines.push("");
  }
  const live = ["live-few", "live-many"].map((id) => r.captures.find((c) => c.id === id));
  if (live.every((c) => c !== undefined)) {
    lines.push("## Live connections: cost per packet (synfin CLI → Arrow, --workers 1)", "");
    lines.push("| capture | packets | peak live connections | wall s | ns per packet | CPU ns per packet | × read time |", "|---|---|---|---|---|---|---|");
    const perPacket = [];
    const cpuPerPacket = [];
    for (const c of live) {
      const row = c.results.find((x) => x.reportsPeakFlows || x.peakFlows !== undefined) ?? c.results.find((x) => x.name.startsWith("synfin CLI"));
      if (!row?.seconds) { lines.push(`| ${c.title} | ${c.packets.toLocaleString("en-US")} | | ${row?.status ?? "–"} | | | |`); continue; }
      const ns = (row.seconds.median / c.packets) * 1e9;
      perPacket.push(ns);
      const cpuNs = row.cpuSeconds === undefined ? undefined : (row.cpuSeconds / c.packets) * 1e9;
      if (cpuNs !== undefined) cpuPerPacket.push(cpuNs);
      lines.push(`| ${c.title}, ${sizeText(c.bytes)} | ${c.packets.toLocaleString("en-US")} | ${row.peakFlows?.toLocaleString("en-US") ?? "?"} | ${row.seconds.median.toFixed(2)} | ${ns.toFixed(0)} | ${cpuNs?.toFixed(0) ?? "–"} | ${row.ratios.read?.time.toFixed(2) ?? "–"} |`);
    }
    if (perPacket.length === 2) {
      const cpu = cpuPerPacket.length === 2 ? ` (CPU time: ${(cpuPerPacket[1] / cpuPerPacket[0]).toFixed(2)}×)` : "";
      lines.push("", `Cost per packet with ten times the live connections: ${(perPacket[1] / perPacket[0]).toFixed(2)}×${cpu}.`);
    }
    lines.push("");
  }
  lines.push(...renderCluster(r));
  lines.push("Ratios: the row's median wall time ÷ the reference's (below 1: faster than it); packets/s and MB/s are the same ratios inverted. CPU s: the median of the runs' user and system time (every thread, and the processes the case waited for), which a slow spell of a shared machine moves less than the wall time. bench.json also has the peak-RSS ratios.");
  const missing = Object.entries(peers).filter(([, state]) => state === "not installed").map(([name]) => name);
  if (missing.length > 0) lines.push(`Not installed here: ${missing.join(", ")} (\`${INSTALL_HINT}\`).`);
  if (dask === "not installed") lines.push(`Not installed here: dask-scheduler, dask-worker or python3's distributed, for the Dask driver (\`${DASK_INSTALL_HINT}\`).`);
  return lines.join("\n") + "\n";
}

/** The Dask driver's row beside the single pass's, with what its steps handed on (the last run's). */
function renderCluster(r) {
  const capture = r.captures.find((c) => c.results.some((x) => x.id === "dask" && x.stages));
  if (!capture) return [];
  const driver = capture.results.find((x) => x.id === "dask");
  const single = capture.results.find((x) => x.name === "synfin CLI → Arrow, --workers 1");
  const mib = (bytes) => (bytes / MIB).toFixed(1);
  const st = driver.stages;
  return [
    `## Cluster steps on Dask: ${capture.title}, ${sizeText(capture.bytes)}`, "",
    "| single pass (CLI, --workers 1) wall s | Dask driver wall s | × single pass | map → reduce MiB | reduce → merge MiB | reducers' time track MiB |",
    "|---|---|---|---|---|---|",
    `| ${single?.seconds?.median.toFixed(2) ?? single?.status ?? "–"} | ${driver.seconds.median.toFixed(2)} | ${single?.seconds ? (driver.seconds.median / single.seconds.median).toFixed(2) : "–"} | ${mib(st.mapToReduceBytes)} | ${mib(st.reduceToMergeBytes)} | ${mib(st.timeTrackBytes)} |`,
    "",
    `\`contrib/dask/synfin_dask.py --parts 8 --partitions 2\` on a scheduler and ${DASK_WORKERS} one-thread workers on this machine, started once for all runs; its wall time runs from the driver's start to the dataset written. Between stages: the bytes of DIR/stage/map-* (map → reduce) and reduce-*.rows (reduce → merge) after the last run; the time track: \`timeTrackBytes\` summed over reduce-*.json. The driver's peak RSS is its process's alone: the workers and the steps they run are other processes.`,
    "",
  ];
}

/** "2.00 GiB", "16.0 MiB". */
function sizeText(bytes) {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / MIB).toFixed(1)} MiB`;
}

/** An error line fit for a table cell: its first sentence, at most 100 characters, no pipes. */
function shortened(line) {
  const sentence = line.replace(/\|/g, "/").split(/(?<=\.) /)[0];
  return sentence.length > 100 ? `${sentence.slice(0, 99)}…` : sentence;
}

function usage(message) {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}
