// The host's handle on one instance of the wasm core: the exports it calls, the input buffer it
// fills, and the output batch and accounting it reads back. Views into wasm memory are made fresh
// after every call, since any call may grow (and so detach) the memory.

import type { RecordBatch } from "apache-arrow";
import { Abi, ErrorCode, Flag, Stat, Status } from "./abi.js";
import { BatchBuilder, type Group } from "./batch.js";
import { SynfinError } from "./errors.js";

interface CoreExports {
  abiVersion(): number;
  reset(flags: number, maxFlows: number): Status;
  inputBuffer(capacity: number): number;
  beginFile(): void;
  feed(len: number, atEof: number): Status;
  consumedBytes(): number;
  finish(): Status;
  outputRows(): number;
  clearOutput(): void;
  columnAddress(group: number, col: number): number;
  statsAddress(): number;
  eventCount(): number;
  clearEvents(): void;
  eventColumnAddress(group: number, col: number): number;
  errorCode(): ErrorCode;
  errorOffset(): bigint;
  flowRecordBytes(): number;
}

/** Accounting for one run: `records` equals the sum of the per-reason counts. */
export interface Stats {
  /** Packet records read from the input. */
  records: number;
  /** TCP segments used for connection state. */
  tcpPackets: number;
  /** IP packets of other protocols (UDP, ICMP, tunnels not decoded, …). */
  nonTcpIp: number;
  /** Frames without an IP packet (ARP, LLDP, …). */
  nonIp: number;
  /** IP fragments other than a first fragment with a whole TCP header. */
  ipFragments: number;
  /** Frames cut by the snap length before the IP or TCP fixed header. */
  truncatedHeaders: number;
  /** Frames with impossible IP or TCP header fields. */
  badHeaders: number;
  /** Frames of a link type synfin does not decode. */
  unsupportedLinkType: number;
  /** Packets dropped for a bad IPv4 or TCP checksum (with verifyChecksums). */
  badChecksums: number;
  /** Records cut short by the end of a file. */
  truncatedRecords: number;
  /** pcapng packet blocks naming an undeclared interface. */
  unknownInterface: number;
  /** Input bytes consumed. */
  bytes: number;
  /** Connection rows produced. */
  connections: number;
  /** Non-packet pcapng blocks skipped. */
  skippedBlocks: number;
  /** pcap files and pcapng sections read. */
  sections: number;
  /** Most connections tracked at once. */
  peakFlows: number;
  /** Connections ended early (end_reason "evicted") to stay within maxFlows. */
  evicted: number;
  /** pcapng packet blocks, well framed, whose fields do not fit inside the block (skipped). */
  badRecords: number;
  /** Damage: pcap records or pcapng blocks with an impossible length (reading resumed after it). */
  damagedLength: number;
  /** Damage: pcapng blocks whose trailing length differs from the leading one. */
  damagedTrailer: number;
  /** Damage: pcapng sections of unknown byte order or version (skipped to the next section). */
  damagedSection: number;
  /** Bytes skipped while looking for the next plausible record after damage. */
  damagedBytes: number;
}

/**
 * Live connections by default: flow records of about 1.2 KB each, so at most ~580 MB of them,
 * reserved at the start and resident only as connections use them.
 */
export const DEFAULT_MAX_FLOWS = 500_000;
/** Above this, wasm's 4 GB would not hold the flow table. */
const MAX_MAX_FLOWS = 2_500_000;
const PAGE = 65536;
/** What asconfig.json declares as the initial memory (static data, the output batch, the input). */
const INITIAL_PAGES = 64;
const MIN_MEMORY_LIMIT = INITIAL_PAGES * PAGE;
const MAX_MEMORY_LIMIT = 65536 * PAGE;
/** wasm32's whole address space: the bound that binds by default is maxFlows. */
export const DEFAULT_MEMORY_LIMIT = MAX_MEMORY_LIMIT;

export interface CoreOptions {
  verifyChecksums?: boolean;
  events?: boolean;
  maxFlows?: number;
  memoryLimit?: number;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MiB`;
}

const STAT_KEYS: Array<[keyof Stats, Stat]> = [
  ["records", Stat.Records], ["tcpPackets", Stat.TcpPackets], ["nonTcpIp", Stat.NonTcpIp],
  ["nonIp", Stat.NonIp], ["ipFragments", Stat.IpFragment], ["truncatedHeaders", Stat.TruncatedHeader],
  ["badHeaders", Stat.BadHeader], ["unsupportedLinkType", Stat.UnsupportedLinkType],
  ["badChecksums", Stat.BadChecksum], ["truncatedRecords", Stat.TruncatedRecord],
  ["unknownInterface", Stat.UnknownInterface], ["bytes", Stat.Bytes], ["connections", Stat.Connections],
  ["skippedBlocks", Stat.SkippedBlocks], ["sections", Stat.Sections], ["peakFlows", Stat.PeakFlows],
  ["evicted", Stat.Evicted], ["badRecords", Stat.BadRecord], ["damagedLength", Stat.DamagedLength],
  ["damagedTrailer", Stat.DamagedTrailer], ["damagedSection", Stat.DamagedSection], ["damagedBytes", Stat.DamagedBytes],
];

/** The per-reason buckets whose sum is `records`. */
export const RECORD_BUCKETS: ReadonlyArray<keyof Stats> = [
  "tcpPackets", "nonTcpIp", "nonIp", "ipFragments", "truncatedHeaders", "badHeaders",
  "unsupportedLinkType", "badChecksums", "truncatedRecords", "unknownInterface", "badRecords",
];

export class Core {
  private readonly x: CoreExports;
  private readonly batches = new BatchBuilder();
  private inputPtr = 0;
  private inputCap = 0;

  private constructor(instance: WebAssembly.Instance, private readonly memory: WebAssembly.Memory, private readonly memoryLimit: number) {
    this.x = instance.exports as unknown as CoreExports;
    const version = this.x.abiVersion();
    if (version !== Abi.Version) throw new Error(`synfin: wasm core ABI ${version}, host expects ${Abi.Version}; rebuild with npm run build`);
  }

  /**
   * Instantiates the core over a fresh wasm memory of at most `memoryLimit` bytes. `imports` adds
   * import modules (the fuzzer's coverage hook); `env` is the core's own.
   */
  static async create(module: WebAssembly.Module, options: CoreOptions, imports: WebAssembly.Imports = {}): Promise<Core> {
    const maxFlows = options.maxFlows ?? DEFAULT_MAX_FLOWS;
    if (!Number.isInteger(maxFlows) || maxFlows < 1 || maxFlows > MAX_MAX_FLOWS) throw new RangeError(`synfin: maxFlows must be an integer from 1 to ${MAX_MAX_FLOWS}, got ${maxFlows}`);
    const memoryLimit = options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
    if (!Number.isInteger(memoryLimit) || memoryLimit < MIN_MEMORY_LIMIT || memoryLimit > MAX_MEMORY_LIMIT) {
      throw new RangeError(`synfin: memoryLimit must be a whole number of bytes from ${MIN_MEMORY_LIMIT} (4 MiB) to ${MAX_MEMORY_LIMIT} (4 GiB), got ${memoryLimit}`);
    }
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: Math.floor(memoryLimit / PAGE) });
    const env = {
      memory,
      abort(msg: number, file: number, line: number, column: number): never {
        throw new Error(`synfin core assertion failed: ${readAsString(memory, msg)} (${readAsString(memory, file)}:${line}:${column})`);
      },
    };
    const instance = await WebAssembly.instantiate(module, { ...imports, env });
    const core = new Core(instance, memory, memoryLimit);
    core.flags = (options.verifyChecksums ? Flag.VerifyChecksums : 0) | (options.events ? Flag.Events : 0);
    core.maxFlows = maxFlows;
    core.reset();
    return core;
  }

  private flags = 0;
  private maxFlows = DEFAULT_MAX_FLOWS;

  /**
   * Starts a new run on this instance with the same options: no flows, no counters, no output
   * (Core.create has done it once). Costs microseconds, where a new Core costs a new memory.
   */
  reset(): void {
    if (this.call(() => this.x.reset(this.flags, this.maxFlows)) === Status.Error) {
      throw new SynfinError("OUT_OF_MEMORY", "", 0,
        `maxFlows ${this.maxFlows} needs ${mib(this.maxFlows * this.x.flowRecordBytes())} of flow records beside the ${mib(this.memory.buffer.byteLength)} already in use, more than the memory limit of ${mib(this.memoryLimit)} allows; lower maxFlows or raise memoryLimit`);
    }
  }

  /**
   * Runs a call into the core. The one trap the core means to hit is a failed `memory.grow` (the
   * allocator's `unreachable`): that becomes OUT_OF_MEMORY, and the instance is not used again.
   * Any other trap is a bug and says so.
   */
  private call<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) throw e;
      if (!/unreachable/.test(e.message)) throw new Error(`synfin core trapped (a bug; please report it with the capture): ${e.message}`, { cause: e });
      const used = this.memory.buffer.byteLength;
      throw new SynfinError("OUT_OF_MEMORY", "", 0,
        `the wasm core needs more than its memory limit of ${mib(this.memoryLimit)} (${mib(used)} in use; ${e.message}); lower maxFlows or raise memoryLimit`);
    }
  }

  /** A view of the input buffer with at least `capacity` bytes; its first bytes are the carry-over. */
  input(capacity: number): Uint8Array {
    if (capacity > this.inputCap) {
      this.inputPtr = this.call(() => this.x.inputBuffer(capacity));
      this.inputCap = capacity;
    }
    return new Uint8Array(this.memory.buffer, this.inputPtr, this.inputCap);
  }

  get inputCapacity(): number { return this.inputCap; }

  beginFile(): void { this.x.beginFile(); }

  /** Frames the first `len` input bytes; returns the status and how many bytes were consumed. */
  feed(len: number, atEof: boolean): { status: Status; consumed: number } {
    const status = this.call(() => this.x.feed(len, atEof ? 1 : 0));
    return { status, consumed: this.x.consumedBytes() };
  }

  /** Moves the unconsumed tail [consumed, len) to the start of the input buffer. */
  carryOver(consumed: number, len: number): void {
    const bytes = new Uint8Array(this.memory.buffer);
    bytes.copyWithin(this.inputPtr, this.inputPtr + consumed, this.inputPtr + len);
  }

  finish(): Status { return this.call(() => this.x.finish()); }

  /** The finished connections of the output batch as a RecordBatch (and clears it), or null. */
  takeBatch(): RecordBatch | null {
    const rows = this.x.outputRows();
    if (rows === 0) return null;
    const x = this.x;
    const batch = this.batches.build({
      buffer: this.memory.buffer,
      rows,
      address: (group: Group, col: number) => x.columnAddress(group, col),
    });
    x.clearOutput();
    return batch;
  }

  /** The events written since the last call, as a RecordBatch (and clears them), or null. */
  takeEvents(): RecordBatch | null {
    const rows = this.x.eventCount();
    if (rows === 0) return null;
    const x = this.x;
    const batch = this.batches.buildEvents({
      buffer: this.memory.buffer,
      rows,
      address: (group: Group, col: number) => x.eventColumnAddress(group === 0 ? 0 : 1, col),
    });
    x.clearEvents();
    return batch;
  }

  stats(): Stats {
    const values = new BigUint64Array(this.memory.buffer, this.x.statsAddress(), Stat.Count);
    const stats = {} as Stats;
    for (const [key, stat] of STAT_KEYS) stats[key] = Number(values[stat]);
    return stats;
  }

  error(): { code: ErrorCode; offset: number } {
    return { code: this.x.errorCode(), offset: Number(this.x.errorOffset()) };
  }
}

/** Reads an AssemblyScript string (UTF-16, byte length at ptr - 4) for abort messages. */
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return "";
  const bytes = new Uint8Array(memory.buffer);
  const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0]! >>> 1;
  let s = "";
  for (let i = 0; i < len; i++) s += String.fromCharCode(bytes[ptr + 2 * i]! | (bytes[ptr + 2 * i + 1]! << 8));
  return s;
}
