// The fuzz target: one capture through the wasm core with the engine's read / feed / carry-over
// loop (src/run/engine.ts, but with any chunk size), and what makes a run a finding. A run is fine
// when it returns with its accounting adding up and its rows as documented (oracle.mjs), or
// throws a SynfinError (input rejected); anything else is a finding.

import { Core } from "../dist/core/core.js";
import { RECORD_BUCKETS } from "../dist/public.js";
import { CoreBatches } from "../dist/core/batch.js";
import { SynfinError } from "../dist/errors.js";
import { Flag, Status } from "../dist/core/abi.js";
import { compileFilter } from "../dist/filter/compile.js";
import { Digest, Finding, RowCheck } from "./oracle.mjs";

export { Finding };

export const DEFAULT_CONFIG = Object.freeze({ events: false, verifyChecksums: false, maxFlows: 500_000, chunkSize: 0, split: 0, exactPath: false, filter: 0, packets: false, stats: false });

/**
 * Capture filters a run may use (config.filter: 1 + index; 0 none): loads through X, arithmetic
 * with a divisor that is 0 at run time, VLAN offsets, IPv6 words, every link type's programs.
 */
export const FILTERS = [
  "tcp port 80 or vlan and udp or vlan 5 and tcp[13] & 2 != 0",
  "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0 and len / (ip[8] & 1) > 3",
  "ip6 net 2001:db8::/32 or host 10.0.0.1 or arp or ip6 proto 6",
  "ether[12:2] + tcp[0:4] << 3 > ip[2:2] % 7 ^ 5 or udp[tcp[12] >> 4] = 0",
  "not (portrange 1000-2000 or src net 10.0.0.0/8) and greater 60",
];
const compiledFilters = FILTERS.map((f) => compileFilter(f));
/** The engine's bound on the input buffer (src/run/engine.ts). */
const MAX_INPUT_CAPACITY = 128 << 20;
/** Bytes after the input that runs fill with a known byte; a core that reads them is caught by `compare`. */
const SLACK = 4096;
/** Loop iterations per `cov.refuel` call. */
const FUEL = 1 << 20;
/** OutputFull answers in a row with nothing drained and nothing consumed before it is a hang. */
const MAX_STALLS = 4;
/** Runs before the instance is replaced, so that no state builds up across runs. */
const RUNS_PER_INSTANCE = 20_000;

/** The options part of a regression file name: "events.verify.flows3.chunk37.split100" (defaults left out). */
export function configName(config) {
  const parts = [];
  if (config.events) parts.push("events");
  if (config.verifyChecksums) parts.push("verify");
  if (config.maxFlows !== DEFAULT_CONFIG.maxFlows) parts.push(`flows${config.maxFlows}`);
  if (config.chunkSize > 0) parts.push(`chunk${config.chunkSize}`);
  if (config.split > 0) parts.push(`split${config.split}`);
  if (config.exactPath) parts.push("exact");
  if (config.filter > 0) parts.push(`filter${config.filter}`);
  if (config.packets) parts.push("packets");
  if (config.stats) parts.push("stats");
  return parts.join(".");
}

/** The config a regression file name records (see configName). */
export function configFromName(name) {
  const config = { ...DEFAULT_CONFIG };
  for (const part of name.split(".")) {
    if (part === "events") config.events = true;
    else if (part === "verify") config.verifyChecksums = true;
    else if (/^flows\d+$/.test(part)) config.maxFlows = Number(part.slice(5));
    else if (/^chunk\d+$/.test(part)) config.chunkSize = Number(part.slice(5));
    else if (/^split\d+$/.test(part)) config.split = Number(part.slice(5));
    else if (part === "exact") config.exactPath = true;
    else if (/^filter\d+$/.test(part)) config.filter = Number(part.slice(6));
    else if (part === "packets") config.packets = true;
    else if (part === "stats") config.stats = true;
  }
  return config;
}

/** Thrown from the loop-fuel hook: ends a run that takes too long. */
class Timeout extends Error {}

/**
 * Runs captures through one reused instance of `module` (instrumented or not). With `map`
 * (from instrument.mjs), `coverage()` gives the hit counters of the last run.
 */
export class Target {
  constructor(module, { map = null, timeoutMs = 2000 } = {}) {
    this.module = module;
    this.map = map;
    this.timeoutMs = timeoutMs;
    this.core = null;
    this.runs = 0;
    this.deadline = Infinity;
  }

  async fresh() {
    const imports = {
      cov: {
        refuel: () => {
          if (performance.now() > this.deadline) throw new Timeout(`no result after ${this.timeoutMs} ms`);
          return FUEL;
        },
      },
    };
    this.core = await Core.create(this.module, {}, imports);
    this.runs = 0;
  }

  /** The counters of the last run (a view into wasm memory: read it before the next run). */
  coverage() {
    return new Uint32Array(this.core.memory.buffer, this.map.mapBase, this.map.points.length);
  }

  /**
   * Runs `bytes` with `config`; resolves to { stats, rows, events, rejected, digest } or throws a
   * Finding. `build` turns batches into Arrow RecordBatches and checks them (slower); `slackByte`
   * fills the bytes after the input.
   */
  async run(bytes, config = DEFAULT_CONFIG, options = {}) {
    try {
      return await this.runOnce(bytes, config, options);
    } catch (e) {
      if (e instanceof Finding) e.config ??= { ...config }; // the run that failed, which `compare` varies
      throw e;
    }
  }

  async runOnce(bytes, config, { build = false, slackByte = 0 }) {
    if (!this.core || this.runs >= RUNS_PER_INSTANCE) await this.fresh();
    const core = this.core;
    if (this.map) this.coverage().fill(0);
    // Core.reset keeps the options of Core.create; each run sets its own (private fields: a fuzzer's liberty).
    core.flags = (config.verifyChecksums ? Flag.VerifyChecksums : 0) | (config.events ? Flag.Events : 0) | (config.exactPath ? Flag.ExactPathOnly : 0) | (config.packets ? Flag.Packets : 0) | (config.stats ? Flag.PacketStats : 0);
    core.maxFlows = config.maxFlows;
    core.setFilter(config.filter > 0 ? compiledFilters[config.filter - 1] : undefined);
    this.out = new CoreBatches(core);
    this.runs++;
    const out = { rows: 0, events: 0, packets: 0, digest: build ? new Digest() : null, table: build ? new RowCheck() : null };
    this.deadline = performance.now() + this.timeoutMs;
    let stats, rejected = null;
    try {
      core.reset();
      stats = engine(core, bytes, config, slackByte, () => drain(core, this.out, out));
    } catch (e) {
      if (e instanceof SynfinError && e.code !== "OUT_OF_MEMORY") {
        rejected = e.code;
        stats = core.stats();
      } else {
        this.core = null; // the instance stopped mid-call: never use it again
        throw classify(e);
      }
    } finally {
      this.deadline = Infinity;
    }
    check(stats, out, rejected, config);
    if (out.table && rejected === null) out.table.finish(stats, out.rows, config.events, config.packets);
    return { stats, rows: out.rows, events: out.events, rejected, digest: out.digest?.value() ?? null };
  }

  /**
   * The same input read in other chunks, with the other events and packets settings, the other
   * path through the connection models (assembly/flow/path.ts) and other bytes after the input
   * must give the same stats and rows (chunk boundaries never change the result: see
   * test/framing.test.ts). Throws a Finding "chunking", "events", "packets", "fastpath" or
   * "overread" when it does not.
   */
  async compare(bytes, config) {
    const run = (c, slackByte) => this.run(bytes, c, { build: true, slackByte });
    const chunkSize = config.chunkSize > 0 ? 0 : 1 + (fnv(bytes) % 509);
    const a = await run(config, 0x00);
    const b = await run({ ...config, events: !config.events, packets: !config.packets, chunkSize, exactPath: !config.exactPath }, 0xa5);
    if (differences(a, b).length === 0) return;
    const suspects = [
      ["chunking", `reading ${chunkSize || "the whole input"} bytes at a time changes`, { ...config, chunkSize }, 0x00],
      ["events", `turning events ${config.events ? "off" : "on"} changes`, { ...config, events: !config.events }, 0x00],
      ["packets", `turning the packets table ${config.packets ? "off" : "on"} changes`, { ...config, packets: !config.packets }, 0x00],
      ["fastpath", `turning the one-step path ${config.exactPath ? "on" : "off"} changes`, { ...config, exactPath: !config.exactPath }, 0x00],
      ["overread", "the bytes after the input change", config, 0xa5],
    ];
    for (const [kind, what, variant, slackByte] of suspects) {
      const diff = differences(a, await run(variant, slackByte));
      if (diff.length > 0) throw new Finding(kind, `${what} ${diff.join(", ")}`, diff[0].split(" ")[0]);
    }
    const diff = differences(a, b);
    throw new Finding("differential", `chunks, events, packets, the path and slack together change ${diff.join(", ")}`, diff[0].split(" ")[0]);
  }
}

const fnv = (bytes) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
};

function differences(a, b) {
  const out = [];
  if (a.rejected !== b.rejected) out.push(`rejected ${a.rejected} vs ${b.rejected}`);
  if (a.rejected || b.rejected) return out; // what came before an error is not specified
  for (const key of Object.keys(a.stats)) if (a.stats[key] !== b.stats[key]) out.push(`stats.${key} ${a.stats[key]} vs ${b.stats[key]}`);
  if (a.rows !== b.rows) out.push(`rows ${a.rows} vs ${b.rows}`);
  if (a.digest.rows !== b.digest.rows) out.push("row-values differ");
  return out;
}

/** Findings of `compare` rather than `run`. */
export const DIFFERENTIAL = new Set(["chunking", "events", "packets", "fastpath", "overread", "differential"]);

/** The Finding `bytes` still fails with on `target`, if it has the signature of `finding`; else null. */
export async function reproduces(target, bytes, config, finding) {
  try {
    if (DIFFERENTIAL.has(finding.kind)) await target.compare(bytes, config);
    else await target.run(bytes, config, { build: true });
    return null;
  } catch (e) {
    return e instanceof Finding && e.signature === finding.signature ? e : null;
  }
}

/**
 * The engine loop of src/run/engine.ts, read `chunkSize` bytes at a time; with `split`, bytes from
 * there on are a second file of the same capture (as `analyze([a, b])`).
 */
function engine(core, bytes, config, slackByte, drain) {
  const files = config.split > 0 && config.split < bytes.length ? [bytes.subarray(0, config.split), bytes.subarray(config.split)] : [bytes];
  for (const file of files) engineFile(core, file, config, slackByte, drain);
  let stalls = 0;
  while (core.finish() === Status.OutputFull) {
    stalls = drain() ? 0 : stalls + 1;
    if (stalls > MAX_STALLS) throw new Finding("hang", "finish keeps answering OutputFull with no output", "finish");
  }
  drain();
  return core.stats();
}

function engineFile(core, bytes, config, slackByte, drain) {
  let capacity = config.chunkSize > 0 ? config.chunkSize : Math.max(bytes.length, 1);
  let pos = 0, len = 0, eof = false, stalls = 0;
  core.beginFile();
  while (true) {
    const input = core.input(capacity);
    if (!eof) {
      const n = Math.min(capacity - len, bytes.length - pos);
      input.set(bytes.subarray(pos, pos + n), len);
      if (n === 0) eof = true;
      pos += n;
      len += n;
    }
    let consumed = 0;
    while (true) {
      core.input(capacity).fill(slackByte, len, len + SLACK); // input() may have moved: a fresh view
      const step = core.feed(len, eof);
      consumed = step.consumed;
      if (step.status === Status.Error) {
        const { code, offset } = core.error();
        throw SynfinError.fromCore(code, "input", offset);
      }
      if (step.status !== Status.OutputFull) break;
      stalls = drain() || consumed > 0 ? 0 : stalls + 1;
      if (stalls > MAX_STALLS) throw new Finding("hang", "feed keeps answering OutputFull with no output and no progress", "feed");
      core.carryOver(consumed, len);
      len -= consumed;
    }
    core.carryOver(consumed, len);
    len -= consumed;
    if (eof) return;
    if (len === capacity) {
      if (capacity >= MAX_INPUT_CAPACITY) throw new SynfinError("IMPOSSIBLE_RECORD_LENGTH", "input", pos - len, "a record larger than 128 MiB");
      capacity *= 2;
    }
  }
}

/** Empties the output and events batches; returns whether there was anything in them. */
function drain(core, batches, out) {
  const x = core.x;
  const rows = x.outputRows(), events = x.eventCount(), packets = x.packetCount();
  out.rows += rows;
  out.events += events;
  out.packets += packets;
  if (out.digest) {
    const eventBatch = batches.takeEvents();
    if (eventBatch) { out.digest.events(eventBatch); out.table.events(eventBatch); }
    const packetBatch = batches.takePackets();
    if (packetBatch) out.table.packets(packetBatch);
    for (let batch; (batch = batches.takeBatch(true)); ) { out.digest.rows(batch); out.table.rows(batch); }
  } else {
    x.clearOutput();
    x.clearEvents();
    x.clearPackets();
  }
  return rows + events + packets > 0;
}

/** The accounting every run must keep (docs/library.md, Accounting). */
function check(stats, out, rejected, config) {
  if (stats.peakFlows > config.maxFlows) throw new Finding("accounting", `peakFlows ${stats.peakFlows} above maxFlows ${config.maxFlows}`, "peakFlows");
  const sum = RECORD_BUCKETS.reduce((total, key) => total + stats[key], 0);
  if (sum !== stats.records) {
    const buckets = RECORD_BUCKETS.filter((k) => stats[k] > 0).map((k) => `${k} ${stats[k]}`).join(", ");
    throw new Finding("accounting", `records ${stats.records} but the buckets add up to ${sum} (${buckets})`, "records");
  }
  if (rejected === null && stats.connections !== out.rows) {
    throw new Finding("accounting", `stats.connections ${stats.connections} but ${out.rows} rows were produced`, "connections");
  }
}

/** Turns what a run threw into a Finding, with a signature from where it was thrown. */
export function classify(e) {
  if (e instanceof Finding) return e;
  const message = e?.message ?? String(e);
  if (e instanceof Timeout) return new Finding("hang", message, wasmFrames(e.stack, 3), e);
  if (e instanceof SynfinError) return new Finding("oom", `${message} (the fuzzer's inputs are far too small to need it)`, wasmFrames(e.stack, 3), e);
  if (/^synfin core assertion failed/.test(message)) return new Finding("assert", message, message.replace(/^.*\(/, "("), e);
  const cause = e?.cause?.stack ?? "";
  if (/^synfin core trapped/.test(message)) return new Finding("trap", message, `${message.replace(/^.*: /, "")} ${wasmFrames(cause, 3)}`, e);
  return new Finding("host", `${e?.name ?? "Error"}: ${message}`, `${e?.name} ${jsFrames(e?.stack ?? "", 2)}`, e);
}

/** The innermost wasm function names of a stack ("a < b < c"). */
function wasmFrames(stack, n) {
  const names = [...(stack ?? "").matchAll(/at (\S+) \(wasm:/g)].map((m) => m[1]);
  return names.slice(0, n).join(" < ") || "(no wasm frames)";
}

function jsFrames(stack, n) {
  return stack.split("\n").filter((l) => /^\s+at /.test(l)).slice(0, n).map((l) => l.trim().replace(/^at /, "").replace(/file:\/\/\S*\/(\w)/, "$1")).join(" < ");
}
