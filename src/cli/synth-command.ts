// `synfin synth`: writes seeded synthetic TCP traffic to a pcap or pcapng file of a given size, and optionally the expected connections as NDJSON.

import { closeSync, openSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { UsageError, parseArgsMessage, parseSize } from "./usage.js";
import { writeSynthFile, type SynthFileFormat } from "../synth/synth-file.js";
import { DEFAULT_MAX_RESPONSE_BYTES, MIN_RESPONSE_BYTES } from "../synth/synth.js";
import type { ConnTruth } from "../synth/synth-truth.js";

const USAGE = `usage: synfin synth -o FILE --bytes SIZE [--format pcap|pcapng] [--snaplen N]
                    [--seed N] [--connections N] [--concurrency N] [--nanos]
                    [--out-of-order RATE] [--max-response SIZE] [--truth FILE]

Writes seeded synthetic Ethernet traffic: interleaved TCP connections (IPv4 and IPv6, some
VLAN-tagged) with handshakes, data both ways, retransmissions, out-of-order segments, FIN and RST
closes, unanswered SYNs and connections left open, among UDP, ICMP and ARP frames. The same
options and seed always give the same bytes.

  -o, --output FILE     the capture to write
  --bytes SIZE          stop before the file would pass SIZE bytes (K, M, G are powers of 1024:
                        2G, 500M, 1048576); connections still in flight are left open
  --format F            pcap or pcapng (default: pcapng if FILE ends in .pcapng, else pcap)
  --snaplen N           keep at most N bytes of each frame (default 262144: whole frames);
                        96 gives a header-only capture
  --seed N              the random seed, 0 to 4294967295 (default 1)
  --connections N       start at most N connections (default: as many as SIZE holds; without
                        --bytes the file ends when they have all finished)
  --concurrency N       connections alive at once (default 64)
  --nanos               nanosecond timestamps (default: microseconds)
  --out-of-order RATE   share of two-segment bursts sent later segment first (default 0.01)
  --max-response SIZE   the largest response of a round, from 200 bytes (default 400K; sizes as
                        for --bytes): 3K gives many short connections
  --truth FILE          also write one JSON line per connection: endpoints, whether it was
                        answered, how and by whom it was closed, packets and bytes each way,
                        retransmissions and out-of-order segments (in order of completion)
  -h, --help            this text`;

const MAX_SNAPLEN = 262144;
const MIN_BYTES = 1024;
const DEFAULT_CONCURRENCY = 64;
const DEFAULT_OUT_OF_ORDER_RATE = 0.01;
const TRUTH_FLUSH_CHARS = 1 << 20;

interface SynthCommandOptions {
  output: string;
  bytes: number;
  format: SynthFileFormat;
  snaplen: number;
  seed: number;
  connections: number | undefined;
  concurrency: number;
  nanos: boolean;
  outOfOrderRate: number;
  maxResponseBytes: number;
  truth: string | undefined;
}

function parseOptions(argv: string[]): SynthCommandOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        output: { type: "string", short: "o" },
        bytes: { type: "string" },
        format: { type: "string" },
        snaplen: { type: "string" },
        seed: { type: "string" },
        connections: { type: "string" },
        concurrency: { type: "string" },
        nanos: { type: "boolean" },
        "out-of-order": { type: "string" },
        "max-response": { type: "string" },
        truth: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as NodeJS.ErrnoException));
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (!v.output) throw new UsageError("no output file given (-o FILE)");
  if (v.bytes === undefined && v.connections === undefined) throw new UsageError("give --bytes SIZE, --connections N or both");
  const format = v.format ?? (v.output.toLowerCase().endsWith(".pcapng") ? "pcapng" : "pcap");
  if (format !== "pcap" && format !== "pcapng") throw new UsageError(`unknown format '${format}' (pcap or pcapng)`);
  const bytes = v.bytes === undefined ? Infinity : parseSize("--bytes", v.bytes);
  const maxResponseBytes = v["max-response"] === undefined ? DEFAULT_MAX_RESPONSE_BYTES : parseSize("--max-response", v["max-response"]);
  if (maxResponseBytes < MIN_RESPONSE_BYTES) throw new UsageError(`--max-response must be at least ${MIN_RESPONSE_BYTES} bytes, got '${v["max-response"]}'`);
  if (bytes < MIN_BYTES) throw new UsageError(`--bytes must be at least ${MIN_BYTES} (room for the file header), got '${v.bytes}'`);
  return {
    output: v.output,
    bytes,
    format,
    snaplen: wholeNumber("--snaplen", v.snaplen, MAX_SNAPLEN, 1, MAX_SNAPLEN),
    seed: wholeNumber("--seed", v.seed, 1, 0, 0xffff_ffff),
    connections: v.connections === undefined ? undefined : wholeNumber("--connections", v.connections, 0, 1, Number.MAX_SAFE_INTEGER),
    concurrency: wholeNumber("--concurrency", v.concurrency, DEFAULT_CONCURRENCY, 1, 1 << 20),
    nanos: v.nanos ?? false,
    outOfOrderRate: rate("--out-of-order", v["out-of-order"], DEFAULT_OUT_OF_ORDER_RATE),
    maxResponseBytes,
    truth: v.truth,
  };
}

function wholeNumber(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, got '${text}'`);
  return value;
}

function rate(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === "" || !(value >= 0 && value <= 1)) throw new UsageError(`${flag} takes a rate from 0 to 1, got '${text}'`);
  return value;
}

/** Buffered NDJSON lines to a file, written synchronously in ~1 MB pieces. */
class TruthFile {
  private readonly fd: number;
  private pending = "";
  count = 0;

  constructor(path: string) { this.fd = openSync(path, "w"); }

  add(truth: ConnTruth): void {
    this.pending += JSON.stringify(truth) + "\n";
    this.count++;
    if (this.pending.length >= TRUTH_FLUSH_CHARS) this.flush();
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.pending.length > 0) writeSync(this.fd, this.pending);
    this.pending = "";
  }
}

/** Runs `synfin synth ARGS…`; resolves to the exit code (0, or 2 for bad usage or a file that cannot be written). */
export async function synthMain(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`synfin synth: ${e.message} (see synfin synth --help)\n`);
    return 2;
  }
  if (opts === "help") { process.stdout.write(USAGE + "\n"); return 0; }
  const started = performance.now();
  let truth: TruthFile | undefined;
  let written;
  try {
    truth = opts.truth === undefined ? undefined : new TruthFile(opts.truth);
    written = await writeSynthFile(opts.output, {
      bytes: opts.bytes,
      format: opts.format,
      snaplen: opts.snaplen,
      seed: opts.seed,
      connections: opts.connections,
      concurrency: opts.concurrency,
      nanos: opts.nanos,
      outOfOrderRate: opts.outOfOrderRate,
      maxResponseBytes: opts.maxResponseBytes,
      onConnection: truth === undefined ? undefined : (t) => truth!.add(t),
    });
    truth?.close();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === undefined) throw e;
    const reason = err.code === "ENOENT" ? "no such directory" : err.code === "EACCES" ? "permission denied" : err.code === "EISDIR" ? "it is a directory" : err.message;
    process.stderr.write(`synfin synth: cannot write ${err.path ?? opts.output}: ${reason}\n`);
    return 2;
  }
  const seconds = (performance.now() - started) / 1000;
  const connections = truth === undefined ? "" : `, ${truth.count} connections`;
  process.stderr.write(`synfin synth: wrote ${opts.output} (${opts.format}): ${written.packets} packets, ${written.bytes} bytes${connections} in ${seconds.toFixed(2)} s (${(written.bytes / 1e6 / seconds).toFixed(0)} MB/s)\n`);
  return 0;
}
