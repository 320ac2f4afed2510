// Coverage-guided fuzzing of the wasm core over capture bytes.
//
//   npm run build && npm run fuzz -- --seconds 60 [--seed S] [--timeout MS] [--corpus DIR]
//                                     [--shared DIR | --no-shared] [--every SECONDS] [--uncovered]
//
// The core's debug build is instrumented (instrument.mjs) with a counter per branch arm; inputs
// that reach a new counter, or a counter's new order of magnitude (AFL's buckets), join the corpus.
// Each run also gets a random engine config (events, packets, packet statistics, verifyChecksums, maxFlows, chunk size, filter).
// Findings (target.mjs says what counts) are minimized and written to fuzz/regressions/, named
// <kind>-<sha1>.<config>.bin; the exit status is 1 when a new one was found. Known findings
// (files already in fuzz/regressions/) are replayed first and not reported again.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { instrument } from "./instrument.mjs";
import { Mutator, Rng } from "./mutate.mjs";
import { seedCorpus } from "./seeds.mjs";
import { DEFAULT_CONFIG, DIFFERENTIAL, FILTERS, Finding, Target, configFromName, configName, reproduces } from "./target.mjs";
import { minimize, simplifyConfig } from "./minimize.mjs";
import { concat } from "./capture.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const REGRESSIONS = join(ROOT, "fuzz", "regressions");
const DEBUG_WASM = join(ROOT, "build", "synfin.debug.wasm");
const FUZZ_WASM = join(ROOT, "build", "synfin.fuzz.wasm");
const FUZZ_MAP = join(ROOT, "build", "synfin.fuzz.json");
/** Mutants per pick of a corpus entry. */
const ENERGY = 48;
/** One run in this many also runs the differential check (see `differential`). */
const CHECK_EVERY = 64;
/** One run in this many builds Arrow batches (the host's side of the output). */
const BUILD_EVERY = 32;
const MAX_FLOWS = [1, 2, 3, 8, 64, DEFAULT_CONFIG.maxFlows];

const USAGE = `usage: npm run fuzz -- [--seconds N] [--seed S] [--timeout MS] [--corpus DIR]
                       [--shared DIR | --no-shared] [--every S] [--uncovered]
  --seconds N      how long to fuzz, after the seeds (default 60)
  --seed S         the mutator's random seed (default: from the clock; printed at the start)
  --timeout MS     one run longer than this is a hang (default 2000)
  --corpus DIR     read inputs from DIR at the start and write the corpus there at the end
  --shared DIR     real captures of at most 64 KiB used as extra seeds (default ../shared/captures);
                   --no-shared: none
  --every S        seconds between status lines (default 10)
  --uncovered      list the never-hit counters of assembly/ at the end
fuzz/README.md explains the findings and fuzz/regressions/.`;

/** Exits 2 with `message` and the usage. */
function usage(message) {
  process.stderr.write(`fuzz: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { uncovered: false, seconds: 60, seed: Date.now() % 0x7fffffff, timeout: 2000, corpus: null, shared: join(ROOT, "..", "shared", "captures"), every: 10 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${flag} needs a value`);
      return argv[++i];
    };
    const number = () => {
      const text = value();
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n) || n < 0) usage(`${flag} takes a number of 0 or more, got '${text}'`);
      return n;
    };
    if (flag === "--help" || flag === "-h") { process.stdout.write(`${USAGE}\n`); process.exit(0); }
    else if (flag === "--seconds") args.seconds = number();
    else if (flag === "--seed") args.seed = number();
    else if (flag === "--timeout") args.timeout = number();
    else if (flag === "--corpus") args.corpus = value();
    else if (flag === "--shared") args.shared = value();
    else if (flag === "--no-shared") args.shared = null;
    else if (flag === "--every") args.every = number();
    else if (flag === "--uncovered") args.uncovered = true;
    else usage(`unknown option ${flag}`);
  }
  return args;
}

/** The instrumented core, rebuilt when the debug build or the instrumenter changed. */
function instrumented() {
  if (!existsSync(DEBUG_WASM)) throw new Error("fuzz: no build/synfin.debug.wasm; run npm run build first");
  const wasm = readFileSync(DEBUG_WASM);
  const key = createHash("sha256").update(wasm).update(readFileSync(join(ROOT, "fuzz", "instrument.mjs"))).digest("hex");
  if (existsSync(FUZZ_MAP) && existsSync(FUZZ_WASM)) {
    const map = JSON.parse(readFileSync(FUZZ_MAP, "utf8"));
    if (map.key === key) return { ...map, binary: readFileSync(FUZZ_WASM) };
  }
  const map = instrument(wasm);
  writeFileSync(FUZZ_WASM, map.binary);
  writeFileSync(FUZZ_MAP, JSON.stringify({ key, mapBase: map.mapBase, mapBytes: map.mapBytes, points: map.points }));
  return map;
}

/** AFL's hit-count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+ as one bit each. */
const BUCKET = new Uint8Array(128).map((_, v) => (v === 0 ? 0 : v === 1 ? 1 : v === 2 ? 2 : v === 3 ? 4 : v < 8 ? 8 : v < 16 ? 16 : v < 32 ? 32 : 64));
const bucket = (v) => (v < 128 ? BUCKET[v] : 128);

class Fuzzer {
  constructor(target, map, args) {
    this.target = target;
    this.map = map;
    this.args = args;
    this.rng = new Rng(args.seed);
    this.mutator = new Mutator(this.rng);
    this.seen = new Uint8Array(map.points.length); // bucket bits seen per counter
    this.best = new Array(map.points.length).fill(null); // smallest entry reaching each counter
    this.corpus = [];
    this.favored = [];
    this.favoredDirty = false;
    this.known = new Set(); // signatures found (or already in fuzz/regressions/)
    this.tries = new Map(); // signature → reproduction attempts
    this.findings = [];
    this.execs = 0;
    this.avgMs = 0.1;
    this.started = performance.now();
  }

  /** Runs one input; adds it to the corpus when it reached something new. Returns the new entry or null. */
  async exec(bytes, config, name = null) {
    this.execs++;
    const started = performance.now();
    try {
      await this.target.run(bytes, config, { build: this.execs % BUILD_EVERY === 0 });
    } catch (e) {
      if (!(e instanceof Finding)) throw e;
      await this.found(e, bytes, config);
      return null;
    }
    const ms = performance.now() - started;
    this.avgMs += (ms - this.avgMs) / 1024;
    const entry = this.novel(bytes, config, name, ms);
    if (entry || this.execs % CHECK_EVERY === 0) await this.differential(bytes, config);
    return entry;
  }

  novel(bytes, config, name, ms) {
    const counters = this.target.coverage();
    const seen = this.seen;
    let fresh = false;
    for (let i = 0; i < counters.length; i++) {
      const bit = bucket(counters[i]);
      if ((seen[i] & bit) !== bit) { seen[i] |= bit; fresh = true; }
    }
    if (!fresh) return null;
    const hits = [];
    for (let i = 0; i < counters.length; i++) if (counters[i] !== 0) hits.push(i);
    const entry = { bytes, config, name, ms, hits: Int32Array.from(hits) };
    this.corpus.push(entry);
    for (const i of hits) if (!this.best[i] || this.best[i].bytes.length > bytes.length) this.best[i] = entry;
    this.favoredDirty = true;
    return entry;
  }

  async differential(bytes, config) {
    try {
      await this.target.compare(bytes, config);
    } catch (e) {
      if (!(e instanceof Finding)) throw e;
      await this.found(e, bytes, config);
    }
  }

  async found(finding, bytes, config) {
    if (this.known.has(finding.signature)) return;
    if (!DIFFERENTIAL.has(finding.kind) && finding.config) config = finding.config;
    const tries = (this.tries.get(finding.signature) ?? 0) + 1;
    if (tries > 3) return;
    this.tries.set(finding.signature, tries);
    const probe = new Target(this.target.module, { timeoutMs: this.args.timeout });
    if (!(await reproduces(probe, bytes, config, finding))) {
      log(`fuzz: not reproducible on a fresh instance, ignored: ${finding.message} [${finding.signature}]`);
      return;
    }
    this.known.add(finding.signature);
    const small = await minimize(bytes, (b) => reproduces(probe, b, config, finding), 10_000);
    config = await simplifyConfig(config, DEFAULT_CONFIG, (c) => reproduces(probe, small, c, finding));
    finding = (await reproduces(probe, small, config, finding)) ?? finding;
    const hash = createHash("sha1").update(small).digest("hex").slice(0, 10);
    const file = join(REGRESSIONS, [`${finding.kind}-${hash}`, configName(config), "bin"].filter(Boolean).join("."));
    mkdirSync(REGRESSIONS, { recursive: true });
    writeFileSync(file, small);
    this.findings.push({ finding, file });
    const stack = (finding.cause?.cause?.stack ?? finding.cause?.stack ?? finding.stack).split("\n").slice(0, 8).join("\n    ");
    log(`fuzz: FINDING ${finding.message}\n  signature: ${finding.signature}\n  input: ${file} (${small.length} bytes; ${bytes.length} before minimizing)\n  config: ${JSON.stringify(config)}\n  stack: ${stack}`);
  }

  pick() {
    if (this.favoredDirty) {
      this.favored = [...new Set(this.best.filter(Boolean))];
      this.favoredDirty = false;
    }
    const pool = this.favored.length > 0 && this.rng.chance(0.85) ? this.favored : this.corpus;
    return this.rng.pick(pool);
  }

  mutateConfig(config) {
    const r = this.rng;
    const c = { ...config };
    if (r.chance(0.15)) c.events = !c.events;
    if (r.chance(0.15)) c.packets = !c.packets;
    if (r.chance(0.1)) c.stats = !c.stats;
    if (r.chance(0.15)) c.verifyChecksums = !c.verifyChecksums;
    if (r.chance(0.1)) c.maxFlows = r.pick(MAX_FLOWS);
    if (r.chance(0.2)) c.chunkSize = r.chance(0.5) ? 0 : 1 + r.int(r.chance(0.5) ? 64 : 4096);
    if (r.chance(0.1)) c.filter = r.chance(0.5) ? 0 : 1 + r.int(FILTERS.length);
    return c;
  }

  async loop(seconds) {
    const end = this.started + seconds * 1000;
    let nextReport = performance.now() + this.args.every * 1000;
    while (performance.now() < end) {
      const entry = this.pick();
      // Slow entries get fewer mutants (AFL's performance score).
      const energy = Math.max(1, Math.round(ENERGY * Math.min(2, this.avgMs / entry.ms)));
      for (let i = 0; i < energy; i++) {
        const other = this.rng.pick(this.corpus).bytes;
        const bytes = this.mutator.mutate(entry.bytes, other);
        const config = this.rng.chance(0.9) ? this.mutateConfig(entry.config) : { ...entry.config };
        if (config.split >= bytes.length) config.split = 0;
        if (this.rng.chance(0.02)) { // a capture in two files: this one, then another
          config.split = bytes.length;
          await this.exec(concat([bytes, other]), config);
        } else {
          await this.exec(bytes, config);
        }
      }
      if (performance.now() >= nextReport) {
        this.report();
        nextReport += this.args.every * 1000;
      }
    }
  }

  covered() {
    let all = 0, core = 0, coreTotal = 0;
    this.map.points.forEach((p, i) => {
      const isCore = p.fn.startsWith("assembly/");
      if (isCore) coreTotal++;
      if (this.seen[i]) { all++; if (isCore) core++; }
    });
    return { all, core, coreTotal };
  }

  /** Counters of assembly/ never hit, by function: "fn: then ×2, loop". */
  uncovered() {
    const byFn = new Map();
    this.map.points.forEach((p, i) => {
      if (this.seen[i] || !p.fn.startsWith("assembly/")) return;
      byFn.set(p.fn, [...(byFn.get(p.fn) ?? []), p.kind]);
    });
    for (const [fn, kinds] of byFn) log(`  ${fn}: ${kinds.join(", ")}`);
  }

  report(final = false) {
    const s = (performance.now() - this.started) / 1000;
    const { all, core, coreTotal } = this.covered();
    const pct = (a, b) => ((100 * a) / b).toFixed(1);
    log(`fuzz ${final ? "done" : "    "} ${s.toFixed(0).padStart(5)} s  execs ${this.execs} (${Math.round(this.execs / s)}/s)  corpus ${this.corpus.length}  ` +
      `edges ${all}/${this.map.points.length} (${pct(all, this.map.points.length)}%; assembly/ ${core}/${coreTotal}, ${pct(core, coreTotal)}%)  findings ${this.findings.length}`);
  }
}

const log = (line) => process.stdout.write(`${line}\n`);

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const map = instrumented();
  const module = await WebAssembly.compile(map.binary);
  const fuzzer = new Fuzzer(new Target(module, { map, timeoutMs: args.timeout }), map, args);
  log(`fuzz: seed ${args.seed}, ${args.seconds} s, ${map.points.length} counters in the instrumented core`);

  // Known findings first: replayed so their signatures are not reported again.
  const known = existsSync(REGRESSIONS) ? readdirSync(REGRESSIONS).filter((f) => f.endsWith(".bin")) : [];
  for (const file of known) {
    try {
      await fuzzer.target.compare(new Uint8Array(readFileSync(join(REGRESSIONS, file))), configFromName(file));
    } catch (e) {
      if (!(e instanceof Finding)) throw e;
      fuzzer.known.add(e.signature);
      log(`fuzz: known finding still fails: ${file}: ${e.message}`);
    }
  }

  const seeds = seedCorpus(args.shared);
  if (args.corpus && existsSync(args.corpus)) {
    for (const f of readdirSync(args.corpus)) seeds.push({ name: join(args.corpus, f), bytes: new Uint8Array(readFileSync(join(args.corpus, f))), config: configFromName(f) });
  }
  const variant = { ...DEFAULT_CONFIG, events: true, verifyChecksums: true, maxFlows: 3, chunkSize: 61, packets: true };
  for (const seed of seeds) {
    await fuzzer.exec(seed.bytes, seed.config ?? DEFAULT_CONFIG, seed.name);
    await fuzzer.exec(seed.bytes, variant, seed.name);
  }
  const shared = args.shared ? seeds.filter((s) => s.name.startsWith(args.shared)).length : 0;
  log(`fuzz: ${seeds.length} seeds (${shared} from ${args.shared ?? "no shared folder"}), corpus ${fuzzer.corpus.length}`);
  fuzzer.report();
  if (fuzzer.corpus.length === 0) throw new Error("fuzz: no seed ran cleanly");

  await fuzzer.loop(args.seconds);
  fuzzer.report(true);
  if (args.uncovered) fuzzer.uncovered();
  if (args.corpus) {
    mkdirSync(args.corpus, { recursive: true });
    for (const e of fuzzer.corpus) {
      const hash = createHash("sha1").update(e.bytes).digest("hex").slice(0, 12);
      writeFileSync(join(args.corpus, [hash, configName(e.config), "bin"].filter(Boolean).join(".")), e.bytes);
    }
  }
  for (const { finding, file } of fuzzer.findings) log(`fuzz: finding ${finding.signature} -> ${file}`);
  process.exitCode = fuzzer.findings.length > 0 ? 1 : 0;
}

await main();
