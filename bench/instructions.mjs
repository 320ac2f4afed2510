// Counts the machine instructions the core executes per packet record, exactly: each build's
// single pass over FILE (bench/ab-core.mjs, one round) runs under Valgrind's callgrind, and the
// instructions executed in the core's compiled code are summed by function (V8's perf map names
// the code) and divided by the capture's records. A wall time on a shared machine moves by a
// tenth or more between runs; this count moves by less than one instruction per record, so a
// change of 1% shows. It counts instructions, not time: cache misses and stalls do not show
// (measure those with bench/ab-core.mjs, or count them with --misses).
//
//   node bench/instructions.mjs FILE [A.shared.wasm B.shared.wasm ...] [--top N] [--misses [--ll BYTES]]
//   node bench/instructions.mjs FILE [A.shared.wasm ...] --annotate NAME [--min COUNT]
//
// --misses: callgrind simulates the caches too (--cache-sim=yes: this machine's first-level
// cache, and its last-level one or one of --ll BYTES, 16-way), and what is counted per record is
// each function's data misses in the last level, as exactly as its instructions: a change meant
// to save cache misses shows there when the machine's wall times are too noisy to tell. The
// simulation has no prefetcher (reading the input in order counts misses the processor hides),
// and this machine's 32 MiB last level is shared with other machines' work: --ll 2097152 comes
// closer to what a record last touched seconds of capture time ago meets.
//
// --annotate NAME: also V8's machine code of the core function whose name contains NAME (a build
// with names, `asc … --debug` then scripts/inline-wasm.mjs's wasm-opt flags with `-g`, names
// them `assembly/flow/tracker/trackSegment`; otherwise `wasm-function[6]`), each instruction
// with how many times per record it ran (those run at least --min times per record, default
// 0.05), then its stretches of instructions that run equally often, costliest first: where the
// instructions of a function go, to read against its source.
//
// FILE: a pcap or pcapng file (its records are counted here); a few tens of MB are enough
// (Valgrind runs the pass about fifty times slower). The builds default to
// build/synfin.release.shared.wasm.
// V8 is made deterministic (--predictable, fixed seeds) and compiles the core with its optimizing
// compiler from the start (--no-liftoff), so that the count does not depend on when tiering
// happened. Needs valgrind (Debian: apt-get install valgrind).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const USAGE = "usage: node bench/instructions.mjs FILE [A.shared.wasm ...] [--top N] [--misses [--ll BYTES]] [--annotate NAME [--min COUNT]]";
let values, positionals;
try {
  ({ values, positionals } = parseArgs({ options: { top: { type: "string", default: "8" }, misses: { type: "boolean", default: false }, ll: { type: "string" }, annotate: { type: "string" }, min: { type: "string", default: "0.05" } }, allowPositionals: true }));
} catch (e) {
  console.error(`instructions: ${e.message}\n${USAGE}`);
  process.exit(2);
}
const [file, ...builds] = positionals;
const top = Number(values.top);
if (!file || !Number.isInteger(top) || top < 0) { console.error(USAGE); process.exit(2); }
const ll = values.ll === undefined ? undefined : Number(values.ll);
if (ll !== undefined && (!values.misses || !Number.isInteger(ll) || ll < 65536 || (ll & (ll - 1)) !== 0)) {
  console.error(`instructions: --ll takes a power of two of bytes, 65536 or more, with --misses\n${USAGE}`);
  process.exit(2);
}
const minCount = Number(values.min);
if (values.annotate !== undefined && (values.annotate === "" || values.misses || !(minCount >= 0))) {
  console.error(`instructions: --annotate takes a function's name (or part of it), without --misses; --min a count per record, 0 or more\n${USAGE}`);
  process.exit(2);
}
const root = fileURLToPath(new URL("..", import.meta.url));
if (builds.length === 0) builds.push(join(root, "build/synfin.release.shared.wasm"));
if (spawnSync("valgrind", ["--version"]).status !== 0) {
  console.error("instructions: valgrind is not installed (Debian: apt-get install valgrind)");
  process.exit(2);
}

/** Packet records of a pcap or pcapng file (either byte order), as the framer counts them. */
function captureRecords(path) {
  const bytes = readFileSync(path);
  const magic = bytes.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) return pcapngRecords(bytes);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && magic !== 0xd4c3b2a1 && magic !== 0x4d3cb2a1) throw new Error(`${path}: neither pcap nor pcapng`);
  let records = 0;
  for (let p = 24; p + 16 <= bytes.length; records++) {
    const capLen = little ? bytes.readUInt32LE(p + 8) : bytes.readUInt32BE(p + 8);
    p += 16 + capLen;
  }
  return records;
}

/** Packet blocks (enhanced, simple, obsolete) of a pcapng file; each section has its byte order. */
function pcapngRecords(bytes) {
  let records = 0;
  let little = true;
  for (let p = 0; p + 12 <= bytes.length;) {
    if (bytes.readUInt32LE(p) === 0x0a0d0d0a) little = bytes.readUInt32LE(p + 8) === 0x1a2b3c4d;
    const type = little ? bytes.readUInt32LE(p) : bytes.readUInt32BE(p);
    const len = little ? bytes.readUInt32LE(p + 4) : bytes.readUInt32BE(p + 4);
    if (len < 12) throw new Error("pcapng: a block shorter than 12 bytes");
    if (type === 6 || type === 3 || type === 2) records++;
    p += (len + 3) & ~3;
  }
  return records;
}

/** V8's perf map: [start, size, name] of each piece of generated code, sorted by start. */
function readPerfMap(path) {
  const ranges = readFileSync(path, "utf8").split("\n").filter(Boolean).map((line) => {
    const [start, size, ...name] = line.split(" ");
    return [BigInt(`0x${start}`), BigInt(`0x${size}`), name.join(" ")];
  });
  return ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Instructions (or, with `misses`, last-level data misses, read and write) per core function from
 * callgrind's output (--dump-instr=yes: an address per cost line; its events line names the
 * columns).
 */
function coreCosts(callgrindOut, ranges, misses, byAddress = undefined) {
  const starts = ranges.map((r) => r[0]);
  const find = (addr) => {
    let lo = 0, hi = starts.length - 1, at = -1;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (starts[mid] <= addr) { at = mid; lo = mid + 1; } else hi = mid - 1; }
    return at >= 0 && addr < ranges[at][0] + ranges[at][1] ? ranges[at][2] : undefined;
  };
  const byFunction = new Map();
  let addr = 0n;
  let callLine = false;
  let columns = [0];
  for (const line of readFileSync(callgrindOut, "utf8").split("\n")) {
    if (line.startsWith("events:")) {
      const events = line.slice(7).trim().split(/\s+/);
      columns = misses ? [events.indexOf("DLmr"), events.indexOf("DLmw")] : [events.indexOf("Ir")];
      if (columns.some((i) => i < 0)) throw new Error(`callgrind's events lack what is counted: ${line}`);
      continue;
    }
    const c = line.charCodeAt(0);
    const isCost = (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42; // digit + - *
    if (!isCost) { if (line.startsWith("calls=")) callLine = true; continue; }
    const [position, , ...costs] = line.split(" ");
    if (position.startsWith("0x")) addr = BigInt(position);
    else if (position[0] === "+") addr += BigInt(position.slice(1));
    else if (position[0] === "-") addr -= BigInt(position.slice(1));
    // The line after calls= is the call's inclusive cost, not the instruction's own.
    if (callLine) { callLine = false; continue; }
    // A cost line leaves out its trailing zero columns.
    const cost = columns.reduce((sum, i) => sum + Number(costs[i] ?? 0), 0);
    if (cost === 0) continue;
    const name = find(addr);
    if (name && (name.includes("wasm-function") || name.includes("assembly/"))) {
      byFunction.set(name, (byFunction.get(name) ?? 0) + cost);
      byAddress?.set(addr, (byAddress.get(addr) ?? 0) + cost);
    }
  }
  return byFunction;
}

const records = captureRecords(file);
console.log(`${file}: ${records.toLocaleString("en-US")} records`);
for (const build of builds) {
  const dir = mkdtempSync(join(tmpdir(), "synfin-instructions-"));
  try {
    const out = join(dir, "callgrind.out");
    const run = spawnSync("valgrind", ["--tool=callgrind", "--dump-instr=yes", ...(values.misses ? ["--cache-sim=yes", ...(ll ? [`--LL=${ll},16,64`] : [])] : []), `--callgrind-out-file=${out}`,
      process.execPath, "--predictable", "--random-seed=1", "--hash-seed=1", "--no-liftoff", "--perf-basic-prof",
      ...(values.annotate !== undefined ? ["--print-wasm-code"] : []),
      join(root, "bench/ab-core.mjs"), file, "1", build], { encoding: "utf8", maxBuffer: 1 << 28 });
    const map = `/tmp/perf-${run.pid}.map`;
    if (run.status !== 0 || !existsSync(map)) {
      console.error(`instructions: the run of ${build} failed:\n${run.stderr.split("\n").slice(-20).join("\n")}`);
      process.exit(1);
    }
    const byAddress = values.annotate !== undefined ? new Map() : undefined;
    const byFunction = coreCosts(out, readPerfMap(map), values.misses, byAddress);
    rmSync(map, { force: true });
    const total = [...byFunction.values()].reduce((a, b) => a + b, 0);
    const what = values.misses ? "last-level data misses" : "instructions";
    console.log(`${build}: ${(total / records).toFixed(values.misses ? 3 : 1)} ${what} per record in the core (${total.toLocaleString("en-US")} in all)`);
    for (const [name, n] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`  ${(n / records).toFixed(values.misses ? 3 : 1).padStart(8)}  ${name.replace(/^JS:/, "").replace(/-turbofan$/, "")}`);
    }
    if (byAddress) annotate(run.stdout, byAddress, values.annotate, records);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * --annotate: the TurboFan code of the function named like `name` in V8's --print-wasm-code
 * listing (`code`), each instruction run at least minCount times per record with that count, then
 * the stretches of consecutive instructions run equally often, costliest first.
 */
function annotate(code, byAddress, name, records) {
  const lines = code.split("\n");
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith("name: ") || !lines[i].includes(name)) continue;
    const block = { name: lines[i].slice(6), turbofan: false, instructions: [] };
    for (i++; i < lines.length && !lines[i].startsWith("--- End code ---"); i++) {
      if (lines[i].startsWith("compiler: ")) block.turbofan = lines[i].includes("TurboFan");
      const m = /^(0x[0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s+(.*)$/.exec(lines[i]);
      if (m) block.instructions.push([BigInt(m[1]), m[2]]);
    }
    if (block.turbofan) blocks.push(block);
  }
  if (blocks.length === 0) {
    console.log(`  --annotate: no function's name contains '${name}' (a build without names calls them wasm-function[N])`);
    return;
  }
  for (const block of blocks) {
    const counts = block.instructions.map(([addr, text]) => [addr, text, (byAddress.get(addr) ?? 0) / records]);
    const total = counts.reduce((sum, c) => sum + c[2], 0);
    console.log(`\n  ${block.name}: ${total.toFixed(1)} instructions per record, ${block.instructions.length} in its code`);
    for (const [addr, text, n] of counts) if (n >= minCount) console.log(`  ${n.toFixed(3).padStart(9)}  ${addr.toString(16).slice(-6)}  ${text}`);
    const stretches = [];
    for (let i = 0; i < counts.length;) {
      let j = i;
      while (j < counts.length && counts[j][2] === counts[i][2]) j++;
      if (counts[i][2] >= minCount) stretches.push({ from: counts[i][0], length: j - i, each: counts[i][2], first: counts[i][1] });
      i = j;
    }
    stretches.sort((a, b) => b.each * b.length - a.each * a.length);
    console.log("\n  stretches run equally often (per record: instructions × times), costliest first:");
    for (const s of stretches.slice(0, top)) {
      console.log(`  ${(s.each * s.length).toFixed(1).padStart(8)}  ${s.length} × ${s.each.toFixed(3)} from ${s.from.toString(16).slice(-6)}: ${s.first}`);
    }
  }
}
