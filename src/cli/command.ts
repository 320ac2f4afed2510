// The synfin command: captures in, connection lifecycles out (summary table, NDJSON, CSV, Arrow
// IPC file or stream, Parquet, Zeek conn.log). Exit 0 on success, 2 when an input is not a readable capture or the usage is wrong.

import { closeSync, createWriteStream, openSync, renameSync, rmSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { UsageError, parseArgsMessage, parseSize } from "./usage.js";
import { packageJsonUrl } from "../assets.js";
import type { RecordBatch } from "apache-arrow";
import { connectionRows, connections, SynfinError, type AnalyzeOptions, type Progress, type Stats } from "../node.js";
import { DEFAULT_MAX_FLOWS, MAX_MAX_FLOWS, MAX_MEMORY_LIMIT, MIN_MEMORY_LIMIT } from "../core/core.js";
import { BatchWriter, streamSink, type OutputFormat } from "./batch-writer.js";
import { BatchBuilder } from "../core/batch.js";
import type { RowBlock } from "../core/rows.js";
import { OutputThread, SINK_BUFFER, TextLanes, THREADED_FORMATS, yieldsToAnalysis } from "./output-thread.js";
import type { ZeekTable } from "../output/zeek.js";
import { Summary, counted, table } from "../output/summary.js";
import { sortByFirstPacket } from "../input/first-time.js";
import { RECORD_BUCKETS } from "../public.js";
import { compileFilter } from "../filter/compile.js";

const USAGE = `usage: synfin <capture...|-> [--format F] [-o FILE] [--events FILE] [--packets FILE] [--filter EXPR]
                      [--packet-stats] [--verify-checksums] [--conn-key KEY] [--max-flows N] [--memory-limit SIZE] [--sort-by-time]
                      [--workers N] [--flush SECONDS] [--stats] [--no-progress]
       synfin synth -o FILE --bytes SIZE [...]   writes a synthetic capture (synfin synth --help)
       synfin plan | map | reduce | merge ...   one capture as cluster tasks (synfin plan --help)

Reads pcap/pcapng captures (several files are read as one capture, in order; - or no file with
a pipe on standard input reads standard input, e.g. tcpdump -w - | synfin - --flush 1) and
writes one row per TCP connection.

  --format F           table (default without -o), ndjson, csv, arrow (IPC file), arrow-stream
                       (IPC stream), parquet, zeek (conn.log TSV); with -o, the default follows
                       its extension (.ndjson .jsonl .csv .arrow .feather .arrows .parquet .log),
                       else ndjson
  -o, --output FILE    write to FILE instead of standard output
  --events FILE        also write the events table (one row per lifecycle transition) to FILE
  --packets FILE       also write the packets table (one row per TCP segment: relative and raw
                       seq/ack, length, window, Wireshark's analysis flags; docs/columns.md) to
                       FILE; with --filter, one conversation out of a large capture
                       (--events and --packets files: in the format their extension names,
                       else in the output's, NDJSON for the summary table)
  --packet-stats       add per-direction packet size and inter-arrival statistics (mean, std,
                       min, max) and the first 10 packets' sizes and directions to each row
                       (not to --format zeek's conn.log fields); one thread
  --filter EXPR        read only the records tcpdump's filter EXPR accepts, e.g. "host 10.0.0.1
                       and tcp port 443" (pcap-filter(7); docs/filters.md lists the part synfin
                       implements); the others are counted as filtered and otherwise ignored
  --verify-checksums   drop packets with a bad IPv4 header, TCP or tunnel's UDP checksum (as
                       Zeek without -C)
  --conn-key KEY       what makes packets one connection: five-tuple (default: addresses and
                       ports, as Zeek and tshark) or vlan (also the outer and inner VLAN tags, as
                       Zeek's conn_key/vlan_fivetuple; --format zeek then writes id.ctx.vlan and
                       id.ctx.inner_vlan)
  --max-flows N        track at most N connections at once (default 500000, at most ~580 MB of
                       flow records); the least recently active is ended as "evicted",
                       unanswered attempts first
  --memory-limit SIZE  most wasm memory the core may use, e.g. 1G (default 4G, wasm's limit);
                       going past it is an OUT_OF_MEMORY error
  --sort-by-time       read the files in order of their first packet's time (default: as given)
  --workers N          worker threads for decoding and connection state (0 or 1: this thread
                       only; default: see docs/workers.md); the output is the same for any N
  --flush SECONDS      write the rows of the connections ended so far at least this often,
                       also while the input waits (a live capture); one thread
  --stats              print the accounting of every record read to standard error
  --no-progress        no progress bar (it is shown only when standard error is a terminal)
  -h, --help           this text
  -v, --version        the version`;

type Format = "table" | "ndjson" | "csv" | "arrow" | "arrow-stream" | "parquet" | "zeek";
const FORMATS: readonly Format[] = ["table", "ndjson", "csv", "arrow", "arrow-stream", "parquet", "zeek"];
const BINARY: ReadonlySet<Format> = new Set(["arrow", "arrow-stream", "parquet"]);
/** The format an output file's extension names, when --format is not given. */
const FORMAT_OF_EXTENSION: Readonly<Record<string, Format>> = {
  ".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".arrow": "arrow", ".feather": "arrow",
  ".arrows": "arrow-stream", ".parquet": "parquet", ".log": "zeek",
};

/** The format a path's extension names, or undefined. */
function extensionFormat(path: string): Format | undefined {
  const dot = path.lastIndexOf(".");
  return dot > path.lastIndexOf("/") ? FORMAT_OF_EXTENSION[path.slice(dot).toLowerCase()] : undefined;
}

function formatOfPath(path: string): Format {
  return extensionFormat(path) ?? "ndjson";
}

/** A side table's (--events, --packets) format: its extension's, else the output's (NDJSON for the table). */
function sideFormat(path: string, output: Format): Exclude<Format, "table"> {
  const format = extensionFormat(path) ?? output;
  return format === "table" ? "ndjson" : format;
}


interface Options {
  files: string[];
  format: Format;
  output: string | undefined;
  events: SideTable | undefined;
  packets: SideTable | undefined;
  packetStats: boolean;
  verifyChecksums: boolean;
  filter: string | undefined;
  connKey: "five-tuple" | "vlan";
  maxFlows: number | undefined;
  memoryLimit: number | undefined;
  workers: number | undefined;
  sortByTime: boolean;
  stats: boolean;
  progress: boolean;
  /** Seconds between flushes of the rows ended so far (--flush), or undefined. */
  flush: number | undefined;
}

/** A side table asked for: where it goes and in which format. */
interface SideTable {
  path: string;
  format: Exclude<Format, "table">;
}

/** Flags that take a value; a value that looks like a negative number is still theirs. */
const VALUE_FLAGS = new Set(["--format", "-o", "--output", "--events", "--packets", "--filter", "--conn-key", "--max-flows", "--memory-limit", "--workers", "--flush"]);

/** `--workers -1` as `--workers=-1`, so that the value is judged (parseArgs would call it ambiguous). */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (VALUE_FLAGS.has(argv[i]!) && next !== undefined && /^-\d/.test(next)) out.push(`${argv[i++]}=${next}`);
    else out.push(argv[i]!);
  }
  return out;
}

function parseOptions(argv: string[]): Options | "help" | "version" {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv),
      allowPositionals: true,
      options: {
        format: { type: "string" },
        output: { type: "string", short: "o" },
        events: { type: "string" },
        packets: { type: "string" },
        "packet-stats": { type: "boolean" },
        "verify-checksums": { type: "boolean" },
        filter: { type: "string" },
        "conn-key": { type: "string" },
        "max-flows": { type: "string" },
        "memory-limit": { type: "string" },
        workers: { type: "string" },
        "sort-by-time": { type: "boolean" },
        stats: { type: "boolean" },
        "no-progress": { type: "boolean" },
        flush: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as NodeJS.ErrnoException));
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (v.version) return "version";
  // No file, and standard input is a pipe or a file: read it, as `-` does.
  const files = parsed.positionals.length > 0 ? parsed.positionals : process.stdin.isTTY ? [] : ["-"];
  if (files.length === 0) throw new UsageError("no capture file given (- reads standard input)");
  if (files.filter((f) => f === "-").length > 1) throw new UsageError("standard input (-) can be read once");
  if (v["sort-by-time"] && files.includes("-")) throw new UsageError("--sort-by-time cannot sort standard input");
  const flush = v.flush === undefined ? undefined : Number(v.flush);
  if (flush !== undefined && !(/^\d*\.?\d+$/.test(v.flush!) && flush > 0)) throw new UsageError(`--flush takes a number of seconds above 0, got '${v.flush}'`);
  const format = (v.format ?? (v.output ? formatOfPath(v.output) : "table")) as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`unknown format '${v.format}' (one of ${FORMATS.join(", ")})`);
  const connKey = v["conn-key"] ?? "five-tuple";
  if (connKey !== "five-tuple" && connKey !== "vlan") throw new UsageError(`--conn-key takes five-tuple or vlan, got '${connKey}'`);
  const maxFlows = v["max-flows"] === undefined ? undefined : Number(v["max-flows"]);
  if (maxFlows !== undefined && !(/^\d+$/.test(v["max-flows"]!) && maxFlows >= 1 && maxFlows <= MAX_MAX_FLOWS)) {
    throw new UsageError(`--max-flows takes a whole number from 1 to ${MAX_MAX_FLOWS}, got '${v["max-flows"]}'`);
  }
  const memoryLimit = v["memory-limit"] === undefined ? undefined : parseSize("--memory-limit", v["memory-limit"]);
  if (memoryLimit !== undefined && (memoryLimit < MIN_MEMORY_LIMIT || memoryLimit > MAX_MEMORY_LIMIT)) {
    throw new UsageError(`--memory-limit takes a size from 4M to 4G, got '${v["memory-limit"]}'`);
  }
  const workers = v.workers === undefined ? undefined : Number(v.workers);
  if (workers !== undefined && !(/^\d+$/.test(v.workers!) && workers <= 256)) throw new UsageError(`--workers takes a whole number from 0 to 256, got '${v.workers}'`);
  if (v.filter !== undefined) {
    // A bad expression is bad usage: one line naming the position, before any file is opened.
    try {
      compileFilter(v.filter);
    } catch (e) {
      if (e instanceof SynfinError && e.code === "BAD_FILTER") throw new UsageError(e.message);
      throw e;
    }
  }
  if (BINARY.has(format) && !v.output && process.stdout.isTTY) throw new UsageError(`--format ${format} writes binary: give -o FILE or redirect standard output`);
  const side = (path: string | undefined): SideTable | undefined =>
    path === undefined ? undefined : { path, format: sideFormat(path, format) };
  return {
    files,
    flush,
    format,
    output: v.output,
    events: side(v.events),
    packets: side(v.packets),
    packetStats: v["packet-stats"] ?? false,
    verifyChecksums: v["verify-checksums"] ?? false,
    filter: v.filter,
    connKey,
    maxFlows,
    memoryLimit,
    workers,
    sortByTime: v["sort-by-time"] ?? false,
    stats: v.stats ?? false,
    progress: !v["no-progress"] && process.stderr.isTTY === true,
  };
}


/** Output files being written, removed if the run fails or is interrupted. */
const unfinished = new Set<{ discard(): void }>();

let signalsHandled = false;

/** On SIGINT or SIGTERM: no partial output is left behind (docs/cli.md). */
function removeUnfinishedOnSignals(): void {
  if (signalsHandled) return;
  signalsHandled = true;
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      for (const sink of unfinished) sink.discard();
      process.exit(code);
    });
  }
}

/**
 * Writes text or bytes to a file or stdout, waiting when the stream is full. A file is written
 * under a temporary name beside it and renamed when the run succeeds (`end`), or removed
 * (`discard`): a failed or interrupted run never leaves a partial file, nor destroys an older one.
 */

class Sink {
  private readonly stream: NodeJS.WritableStream;
  private readonly temp: string | undefined;
  private closedEarly = false;
  constructor(private readonly path: string | undefined) {
    this.temp = path ? tempPath(path) : undefined;
    // Opened here, not when the stream gets round to it: `discard` then always finds the file.
    // A batch's Arrow buffers are many small writes: with the default 16 KiB buffer, waiting for
    // each to drain left the run idle 40% of the time while it wrote the packets table.
    this.stream = this.temp ? createWriteStream("", { fd: openOutput(this.temp, path!), highWaterMark: SINK_BUFFER }) : process.stdout;
    if (this.temp) unfinished.add(this);
    this.stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") { this.closedEarly = true; return; }
      failWriting(path ?? "standard output", e.message);
    });
  }
  get closed(): boolean { return this.closedEarly; }
  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.closedEarly) return;
    if (!this.stream.write(chunk)) await new Promise<void>((resolve) => this.stream.once("drain", () => resolve()));
  }
  /** The output is complete: the file takes its name. */
  async end(): Promise<void> {
    if (!this.temp) return;
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
    publish(this.temp, this.path!);
    unfinished.delete(this);
  }
  /** The run failed: the partial file goes (an older file of that name is left as it was). */
  discard(): void {
    if (!this.temp || !unfinished.delete(this)) return;
    (this.stream as NodeJS.WritableStream & { destroy(): void }).destroy();
    unpublish(this.temp, this.path!);
  }
}

/**
 * An output that cannot be written ends the run: one line, exit 2, and no output file of the run
 * left behind (the others' partial files go too).
 */
function failWriting(what: string, reason: string): never {
  process.stderr.write(`synfin: cannot write ${what}: ${reason}\n`);
  for (const u of unfinished) u.discard();
  process.exit(2);
}

/**
 * Gives the finished temporary file its name. An older file of that name is removed first: ext4
 * writes a file's data out before a rename that replaces another file (its auto_da_alloc
 * heuristic), which held the run 170 ms for a 380 MB table. The name is absent for that moment only.
 */
function publish(temp: string, path: string): void {
  if (temp === path) return; // written in place (tempPath)
  rmSync(path, { force: true });
  renameSync(temp, path);
}

/** A failed run's partial output goes (one written in place stays: it is a pipe or a device). */
function unpublish(temp: string, path: string): void {
  if (temp !== path) rmSync(temp, { force: true });
}

/**
 * Where an output file is written until the run succeeds: beside it, hidden. A path that names
 * something other than a regular file or a directory (a named pipe, /dev/stdout, /dev/null) is
 * written in place: the rename would replace it with a regular file.
 */
function tempPath(path: string): string {
  const target = statSync(path, { throwIfNoEntry: false });
  if (target?.isDirectory()) throw new OutputError(`cannot write ${path}: it is a directory`);
  if (target !== undefined && !target.isFile()) return path;
  return join(dirname(path), `.${basename(path)}.${process.pid}.synfin-tmp`);
}

/** One table's writer: its batches as they come, then the end of the table. */
interface TableWriter {
  /** The reader of standard output went away: nothing more is written. */
  readonly closed: boolean;
  write(batch: RecordBatch): Promise<void>;
  /** The table is complete: the file takes its name. */
  end(): Promise<void>;
}

/**
 * An output file opened under its temporary name (tempPath) for a writer of its descriptor: it
 * takes its name when the writer is done (`published`), or goes if the run fails (`discard`).
 */
abstract class StagedFile {
  protected readonly temp: string;
  protected readonly fd: number;
  constructor(protected readonly path: string) {
    this.temp = tempPath(path);
    this.fd = openOutput(this.temp, path);
    unfinished.add(this);
  }
  /**
   * Everything is written: the file takes its name. Unless the run failed meanwhile (discard):
   * a stopped output thread's end() returns without the file complete.
   */
  protected published(): void {
    if (!unfinished.has(this)) return;
    closeSync(this.fd);
    publish(this.temp, this.path);
    unfinished.delete(this);
  }
  /** The run failed: the writer stops and the partial file goes. */
  discard(): void {
    if (!unfinished.delete(this)) return;
    this.stopWriting();
    unpublish(this.temp, this.path);
  }
  protected abstract stopWriting(): void;
}

/** An output file written by an output thread (src/cli/output-thread.ts), which only writes to it. */
class ThreadedFile extends StagedFile implements TableWriter {
  readonly closed = false;
  private readonly thread: OutputThread;
  constructor(path: string, format: OutputFormat, table: ZeekTable, vlanKey: boolean, withStats: boolean) {
    super(path);
    this.thread = new OutputThread({ fd: this.fd, format, table, vlanKey, withStats }, (reason) => failWriting(path, reason));
  }
  write(batch: RecordBatch): Promise<void> { return this.thread.write(batch); }
  async end(): Promise<void> {
    await this.thread.end();
    this.published();
  }
  protected stopWriting(): void { this.thread.stop(); }
}

/**
 * Batches of the connection table at which its batches are built by an output thread (in Arrow
 * or a Zeek log; Parquet, CSV and NDJSON always are). The thread's start and its code's warm-up
 * cost about 0.1–0.25 s of the other core, and a late start leaves the command waiting for the
 * thread's last batches; each batch it builds saves this thread 6–12 ms (and the first, while its
 * code warms up, about 40 ms). 1 GiB header-only capture, two cores, sixteen alternated runs
 * each: 11 batches 1.215 → 1.17 s median when the thread builds them; 512 and 768 MiB of that
 * capture (6 and 8 batches) 0.71 and 0.96 s either way; the 2 GiB full-payload capture (3
 * batches) 0.565 → 0.69 s, and a capture of a few packets 0.12 → 0.19 s, when they went to it.
 */
const THREAD_BATCHES = 8;

/**
 * Batches of a CSV or NDJSON connection table at which lanes (TextLanes) write it instead of one
 * output thread: each lane is a thread to start and warm up.
 */
const LANE_BATCHES = 32;

/**
 * Output threads (TextLanes) that write the connection table's CSV or NDJSON lines when the run
 * will have LANE_BATCHES batches or more: one per core but the analysis's, at least two and at
 * most four. On two cores the analysis ends long before one thread has formatted its rows, and
 * the second lane takes the core it leaves. 1 GiB with many short connections (740,791 rows),
 * two cores, medians of six alternated runs: NDJSON 9.06 → 7.06 s, CSV 5.44 → 4.38 s.
 */
function textLaneCount(): number {
  return Math.min(4, Math.max(2, availableParallelism() - 1));
}

/**
 * The connection table written to a file from its rows (connectionRows): by an output thread,
 * which builds the batches (by several in CSV and NDJSON, TextLanes, when the run will have many
 * batches), or in this thread when the run will have few of them. Which is decided at the first
 * batch, from how far into the input it came (the output is the same either way).
 */
class ConnectionFile extends StagedFile {
  /** Blocks' buffers handed back, for later rows. */
  readonly spares: ArrayBuffer[] = [];
  private thread: OutputThread | TextLanes | undefined;
  private local: { builder: BatchBuilder; writer: BatchWriter; stream: NodeJS.WritableStream } | undefined;

  /** `batchesExpected`: how many batches the run will have, judged at its first (undefined: not known). */
  constructor(path: string, private readonly format: OutputFormat, private readonly vlanKey: boolean,
    private readonly withStats: boolean, private readonly batchesExpected: () => number | undefined) {
    super(path);
  }

  async writeRows(block: RowBlock): Promise<void> {
    if (!this.thread && !this.local) this.start();
    if (this.thread) return this.thread.writeRows(block);
    const { builder, writer } = this.local!;
    const batch = builder.buildRows(block, this.withStats);
    this.spares.push(block.buffer);
    await writer.write(batch);
  }

  private start(): void {
    const expected = this.batchesExpected();
    const atLeast = (batches: number) => expected === undefined || expected >= batches; // unknown: as many as it takes
    if (THREADED_FORMATS.has(this.format) || atLeast(THREAD_BATCHES)) {
      const data = { fd: this.fd, format: this.format, table: "conn" as const, vlanKey: this.vlanKey, withStats: this.withStats, yields: yieldsToAnalysis(this.format) };
      const fail = (reason: string) => failWriting(this.path, reason);
      if (atLeast(LANE_BATCHES) && (this.format === "csv" || this.format === "ndjson")) {
        this.thread = new TextLanes(data, textLaneCount(), fail, this.spares);
      } else {
        this.thread = new OutputThread(data, fail, this.spares);
      }
      return;
    }
    const stream = createWriteStream("", { fd: this.fd, autoClose: false, highWaterMark: SINK_BUFFER });
    stream.on("error", (e) => failWriting(this.path, e.message));
    this.local = { builder: new BatchBuilder(), writer: new BatchWriter(this.format, streamSink(stream), "conn", this.vlanKey, this.withStats), stream };
  }

  /** The table is complete: the file takes its name. */
  async end(): Promise<void> {
    if (!this.thread && !this.local) this.start(); // no rows: the table's schema alone
    if (this.thread) await this.thread.end();
    else await this.local!.writer.end();
    this.published();
  }

  protected stopWriting(): void {
    this.thread?.stop();
    (this.local?.stream as (NodeJS.WritableStream & { destroy(): void }) | undefined)?.destroy();
  }
}

/**
 * The writer of one table to `path` (standard output when undefined): a file in a format whose
 * writing costs about as much as the analysis is written by an output thread.
 */
function tableWriter(path: string | undefined, format: OutputFormat, table: ZeekTable, vlanKey = false, withStats = false): TableWriter {
  if (path !== undefined && THREADED_FORMATS.has(format)) return new ThreadedFile(path, format, table, vlanKey, withStats);
  const sink = new Sink(path);
  const writer = new BatchWriter(format, sink, table, vlanKey, withStats);
  return { get closed() { return sink.closed; }, write: (batch) => writer.write(batch), end: () => writer.end() };
}

/** A library message in the CLI's words: its options by their flags. */
function cliWords(message: string): string {
  return message.replace(/\bmaxFlows\b/g, "--max-flows").replace(/\bmemoryLimit\b/g, "--memory-limit");
}

/** A user's output path that cannot be written: one line, exit 2. */
class OutputError extends Error {}

function openOutput(temp: string, path: string): number {
  try {
    return openSync(temp, "w");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such directory" : code === "EACCES" ? "permission denied" : (e as Error).message;
    throw new OutputError(`cannot write ${path}: ${reason}`);
  }
}

/** The input an output path would overwrite (the same file, by device and inode), if any. */
function inputAt(output: string, inputs: readonly string[]): string | undefined {
  const target = statSync(output, { throwIfNoEntry: false });
  if (!target) return undefined;
  return inputs.find((input) => {
    const s = statSync(input, { throwIfNoEntry: false });
    return s !== undefined && s.dev === target.dev && s.ino === target.ino;
  });
}

function progressBar(enabled: boolean): { update(p: Progress): void; done(): void } {
  const started = performance.now();
  let last = 0;
  return {
    update(p) {
      const now = performance.now();
      if (!enabled || now - last < 200) return;
      last = now;
      const seconds = (now - started) / 1000;
      const rate = p.bytesRead / Math.max(seconds, 1e-3);
      const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
      let text = `${mb(p.bytesRead)} ${mb(rate)}/s`;
      if (p.totalBytes) {
        const frac = Math.min(1, p.bytesRead / p.totalBytes);
        const eta = frac > 0 ? seconds * (1 / frac - 1) : 0;
        const width = 30;
        const filled = Math.round(frac * width);
        text = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(frac * 100).toFixed(0)}% ${text} ETA ${eta.toFixed(0)} s`;
      }
      process.stderr.write(`\r${text}\x1b[K`);
    },
    done() {
      if (enabled) process.stderr.write("\r\x1b[K");
    },
  };
}

/**
 * The connection table, as the run hands its batches on, to `write` (to a writer or the summary);
 * `sides`: the events and packets tables' writers (the run hands their batches over as they come),
 * ended first. Stops early when the reader of standard output went away (`closed`).
 */
async function writeTable<T>(items: AsyncIterable<T>, write: (item: T) => Promise<void> | void, closed: () => boolean, sides: TableWriter[]): Promise<void> {
  for await (const item of items) {
    await write(item);
    if (closed()) return;
  }
  for (const side of sides) await side.end();
}

/** What was read but not used for lack of a decoder or for damage, in one line; "" if nothing. */
function skippedText(stats: Stats): string {
  const parts: string[] = [];
  const add = (n: number, what: string) => { if (n > 0) parts.push(`${n} ${what}`); };
  add(stats.unsupportedLinkType, "records of a link type synfin does not decode");
  add(stats.unknownInterface, "records naming an undeclared pcapng interface");
  add(stats.badRecords, "malformed pcapng packet blocks");
  add(stats.truncatedRecords, "records cut by the end of a file");
  const regions = stats.damagedLength + stats.damagedTrailer + stats.damagedSection;
  if (regions > 0) parts.push(`${regions} damaged region${regions > 1 ? "s" : ""} (${stats.damagedBytes} bytes) skipped`);
  return parts.join(", ");
}

/**
 * With --verify-checksums, most TCP packets dropped for a bad checksum: the capture was most
 * likely taken on a sending host whose NIC computes checksums (offload), which leaves every
 * outgoing checksum wrong in the capture; Zeek says so with its bad_checksum weird and advises -C.
 */
function checksumOffloadText(stats: Stats, verified: boolean): string {
  const checked = stats.tcpPackets + stats.badChecksums;
  if (!verified || stats.badChecksums * 2 <= checked) return "";
  const share = Math.floor((100 * stats.badChecksums) / checked);
  return `${stats.badChecksums} of ${checked} packets (${share}%) were dropped for a bad checksum: a capture taken on ` +
    "the sending host, whose network card computes checksums (offload), has every outgoing one wrong; without --verify-checksums they are kept (Zeek: -C)";
}

function statsText(stats: Stats): string {
  const rows = RECORD_BUCKETS.map((k) => [k, String(stats[k])]);
  rows.push(["= records", String(stats.records)]);
  for (const k of ["connections", "bytes", "sections", "skippedBlocks", "peakFlows", "evicted"] as const) rows.push([k, String(stats[k])]);
  for (const k of ["damagedLength", "damagedTrailer", "damagedSection", "damagedBytes"] as const) rows.push([k, String(stats[k])]);
  return table(["accounting", "count"], rows);
}

export async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`synfin: ${e.message} (see synfin --help)\n`);
    return 2;
  }
  if (opts === "help") { process.stdout.write(USAGE + "\n"); return 0; }
  if (opts === "version") { process.stdout.write(`synfin ${await version()}\n`); return 0; }
  const started = performance.now();
  const bar = progressBar(opts.progress);
  let eventsWriter: TableWriter | undefined;
  let packetsWriter: TableWriter | undefined;
  if (opts.sortByTime) {
    try {
      opts.files = await sortByFirstPacket(opts.files);
    } catch (e) {
      process.stderr.write(`synfin: cannot read ${(e as NodeJS.ErrnoException).path ?? "an input"}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const cores = availableParallelism();
  if (opts.workers !== undefined && opts.workers > cores) {
    process.stderr.write(`synfin: warning: --workers ${opts.workers} is more than the ${counted(cores, "core")} available: using ${cores}\n`);
    opts.workers = cores;
  }
  const inputs = opts.files.map((f) => (f === "-" ? process.stdin : f));
  let progress: Progress | undefined;
  // At the first batch: the whole input's size over the bytes read for it (an estimate: the reads run a step ahead).
  const batchesExpected = () => (progress?.totalBytes === undefined || progress.bytesRead === 0 ? undefined : progress.totalBytes / progress.bytesRead);
  const runOptions: AnalyzeOptions = {
    flushInterval: opts.flush,
    verifyChecksums: opts.verifyChecksums,
    filter: opts.filter,
    connKey: opts.connKey,
    maxFlows: opts.maxFlows,
    memoryLimit: opts.memoryLimit,
    workers: opts.workers,
    onProgress: (p) => {
      progress = p;
      bar.update(p);
    },
    events: opts.events !== undefined,
    onEvents: (batch) => eventsWriter!.write(batch),
    packets: opts.packets !== undefined,
    packetStats: opts.packetStats,
    onPackets: (batch) => packetsWriter!.write(batch),
  };
  for (const [flag, path] of [["-o", opts.output], ["--events", opts.events?.path], ["--packets", opts.packets?.path]] as const) {
    const input = path === undefined ? undefined : inputAt(path, opts.files);
    if (input !== undefined) {
      process.stderr.write(`synfin: ${flag} ${path} is the input ${input}: writing it would destroy the capture; choose another path\n`);
      return 2;
    }
  }
  removeUnfinishedOnSignals();
  // The summary table is written at the end, in this thread; a file in any other format from the
  // rows (ConnectionFile); standard output as batches come, in this thread.
  let summarySink: Sink | undefined;
  let writer: TableWriter | undefined;
  let rowsFile: ConnectionFile | undefined;
  try {
    if (opts.format === "table") summarySink = new Sink(opts.output);
    else if (opts.output !== undefined) rowsFile = new ConnectionFile(opts.output, opts.format, opts.connKey === "vlan", opts.packetStats, batchesExpected);
    else writer = tableWriter(opts.output, opts.format, "conn", opts.connKey === "vlan", opts.packetStats);
    if (opts.events) eventsWriter = tableWriter(opts.events.path, opts.events.format, "events");
    if (opts.packets) packetsWriter = tableWriter(opts.packets.path, opts.packets.format, "packets");
  } catch (e) {
    if (!(e instanceof OutputError)) throw e;
    for (const s of unfinished) s.discard();
    process.stderr.write(`synfin: ${e.message}\n`);
    return 2;
  }
  const sides = [eventsWriter, packetsWriter].filter((w) => w !== undefined);
  const summary = new Summary();
  let stream: { readonly stats: Stats | undefined };
  try {
    if (rowsFile) {
      const rows = (stream = connectionRows(inputs, runOptions, rowsFile.spares));
      await writeTable(rows, (block) => rowsFile.writeRows(block), () => false, sides);
      await rowsFile.end();
    } else {
      const batches = (stream = connections(inputs, runOptions));
      const to = writer;
      await writeTable(batches, (batch) => (to ? to.write(batch) : summary.add(batch)), () => to?.closed ?? false, sides);
      if (!to?.closed) await to?.end();
    }
  } catch (e) {
    bar.done();
    for (const s of unfinished) s.discard();
    if (e instanceof SynfinError) {
      process.stderr.write(`synfin: ${cliWords(e.message)}\n`);
      return 2;
    }
    throw e;
  }
  bar.done();
  const stats = stream.stats!;
  if (summarySink) {
    await summarySink.write(summary.render(opts.files.map((f) => (f === "-" ? "standard input" : f)).join(", "), stats, (performance.now() - started) / 1000) + "\n");
    await summarySink.end();
  }
  const offload = checksumOffloadText(stats, opts.verifyChecksums);
  if (offload) process.stderr.write(`synfin: warning: ${offload}\n`);
  if (stats.evicted > 0) {
    process.stderr.write(`synfin: warning: ${counted(stats.evicted, "connection")} ended early (end_reason "evicted") to stay within ` +
      `--max-flows ${opts.maxFlows ?? DEFAULT_MAX_FLOWS} live connections; a larger --max-flows keeps them whole\n`);
  }
  if (opts.stats) process.stderr.write(statsText(stats) + "\n");
  else {
    const skipped = skippedText(stats);
    if (skipped) process.stderr.write(`synfin: warning: ${skipped} (--stats shows every count)\n`);
  }
  return 0;
}

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(packageJsonUrl(), "utf8")) as { version: string };
  return pkg.version;
}
