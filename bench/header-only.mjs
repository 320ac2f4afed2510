// Header-only benchmark: a 1 GB snaplen-96 capture from synfin's own synthesizer, read by a plain
// fs.read loop (the physical limit) and analysed by the synfin CLI to an Arrow file, in one run.
// Writes bench/out/header-only.json and prints a Markdown table.
//
//   node bench/header-only.mjs [--bytes 1G] [--runs 3]

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeSynthFile } from "../dist/writer/synth-file.js";

const { values } = parseArgs({ options: { bytes: { type: "string", default: "1G" }, runs: { type: "string", default: "3" } } });
const bytes = parseSize(values.bytes);
const runs = Number(values.runs);
const out = fileURLToPath(new URL("./out/", import.meta.url));
mkdirSync(out, { recursive: true });
const capture = `${out}header-only-${values.bytes}.pcap`;
const here = fileURLToPath(new URL(".", import.meta.url));

if (!existsSync(capture) || statSync(capture).size < bytes * 0.99) {
  process.stderr.write(`writing ${capture} ...\n`);
  const t0 = performance.now();
  const { packets } = await writeSynthFile(capture, { bytes, snaplen: 96, seed: 1 });
  process.stderr.write(`  ${packets} packets in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

/** Runs a node script in a fresh process; returns wall seconds and peak RSS (bytes). */
function measure(args) {
  const t0 = performance.now();
  const p = spawnSync(process.execPath, [`${here}measure.mjs`, ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (p.status !== 0) throw new Error(`${args.join(" ")} failed: ${p.stderr}`);
  const report = JSON.parse(p.stderr.trim().split("\n").pop());
  return { seconds, maxRssBytes: report.maxRssBytes, packets: report.packets };
}

const cases = {
  "fs.read loop (8 MiB buffer)": ["read", capture],
  "synfin CLI → Arrow file": ["cli", capture, "--format", "arrow", "-o", `${out}header-only.arrow`, "--no-progress", "--stats"],
};
const results = {};
for (const [name, args] of Object.entries(cases)) {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(measure(args));
  samples.sort((a, b) => a.seconds - b.seconds);
  results[name] = { median: samples[samples.length >> 1], min: samples[0], max: samples[samples.length - 1] };
}

const size = statSync(capture).size;
const packets = results["synfin CLI → Arrow file"].median.packets;
const rows = Object.entries(results).map(([name, r]) => ({
  name,
  seconds: r.median.seconds,
  minSeconds: r.min.seconds,
  maxSeconds: r.max.seconds,
  mbPerSecond: size / 1e6 / r.median.seconds,
  packetsPerSecond: packets / r.median.seconds,
  peakRssMb: Math.max(...[r.min, r.median, r.max].map((s) => s.maxRssBytes)) / 2 ** 20,
}));
const readSeconds = rows[0].seconds;
const report = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  capture: { path: capture, bytes: size, packets, snaplen: 96 },
  runs,
  results: rows.map((r) => ({ ...r, ratioToRead: r.seconds / readSeconds })),
};
writeFileSync(`${out}header-only.json`, JSON.stringify(report, null, 2));

console.log(`${(size / 1e9).toFixed(2)} GB, ${packets} packets, snaplen 96; median of ${runs} runs (min–max)\n`);
console.log("| case | time s | MB/s | packets/s | × read time | peak RSS MB |");
console.log("|---|---|---|---|---|---|");
for (const r of report.results) {
  console.log(`| ${r.name} | ${r.seconds.toFixed(2)} (${r.minSeconds.toFixed(2)}–${r.maxSeconds.toFixed(2)}) | ${r.mbPerSecond.toFixed(0)} | ${(r.packetsPerSecond / 1e6).toFixed(2)} M | ${r.ratioToRead.toFixed(2)} | ${r.peakRssMb.toFixed(0)} |`);
}

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(text);
  if (!m) throw new Error(`bad size ${text}`);
  return Math.round(Number(m[1]) * { "": 1, K: 1e3, M: 1e6, G: 1e9 }[m[2].toUpperCase()]);
}
