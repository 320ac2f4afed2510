// The host's handle on one instance of the wasm core: the exports it calls, the input buffer it
// fills, and the output batch and accounting it reads back. Views into wasm memory are made fresh
// after every call, since any call may grow (and so detach) the memory.

import { Abi, ErrorCode, Flag, Group, Stat, Status } from "./abi.js";
import { SynfinError } from "../errors.js";
import { compileFilter } from "../filter/compile.js";
import type { CompiledFilter } from "../filter/compile.js";
import type { BufferPool, Bytes } from "../input/pool.js";
import type { Stats } from "../public.js";

/** The exports that return an address in wasm memory. */
const ADDRESS_EXPORTS = [
  "inputBuffer", "timesAddress", "descAddress", "deferredAddress", "partitionAddress", "reduceInput",
  "createdAddress", "columnAddress", "statsAddress", "eventColumnAddress", "packetColumnAddress", "filterBuffer",
] as const satisfies ReadonlyArray<keyof CoreExports>;

/**
 * The core's exports, with addresses read as unsigned: wasm returns an i32, which JS reads as a
 * negative number above 2 GiB (a large maxFlows puts the heap there).
 */
function unsignedAddresses(x: CoreExports): CoreExports {
  const wrapped: Record<string, unknown> = { ...x };
  for (const name of ADDRESS_EXPORTS) {
    const f = x[name] as (...args: number[]) => number;
    wrapped[name] = (...args: number[]) => f(...args) >>> 0;
  }
  return wrapped as unknown as CoreExports;
}

interface CoreExports {
  abiVersion(): number;
  reset(flags: number, maxFlows: number): Status;
  inputBuffer(capacity: number): number;
  beginFile(): void;
  feedFrom(at: number, len: number, atEof: number): Status;
  consumedBytes(): number;
  finish(): Status;
  outputRows(): number;
  clearOutput(): void;
  shiftOutput(n: number): void;
  setParallel(part: number, partitions: number): void;
  ownHashes(lo: number, hi: number): void;
  clearFrames(): void;
  clearPartitions(): void;
  timesAddress(): number;
  timesCount(): number;
  descAddress(): number;
  descCount(): number;
  mapFrames(desc: number, n: number, chunk: number, defer: number, indexes: number): void;
  deferredAddress(): number;
  deferredCount(): number;
  partitionAddress(j: number): number;
  partitionBytes(j: number): number;
  reduceInput(capacity: number): number;
  beginReduce(times: number, recBytes: number, firstIndex: bigint): void;
  reduce(): Status;
  createdAddress(): number;
  createdCount(): number;
  oldestFirstPacket(): bigint;
  clearCreated(): void;
  columnAddress(group: number, col: number): number;
  statsAddress(): number;
  eventCount(): number;
  clearEvents(): void;
  eventColumnAddress(group: number, col: number): number;
  packetCount(): number;
  clearPackets(): void;
  packetColumnAddress(group: number, col: number): number;
  errorCode(): ErrorCode;
  errorOffset(): bigint;
  flowRecordBytes(): number;
  oneStepSegments(model: number): bigint;
  filterBuffer(len: number): number;
  setFilter(len: number): number;
  filterRefusedLinkType(): number;
  beginRange(start: bigint, stop: bigint, sync: number): void;
  rangeFirstRecord(): bigint;
  rangeEndOffset(): bigint;
  fileGoodRecords(): bigint;
  fileFirstDamage(): ErrorCode;
  fileFirstDamageOffset(): bigint;
  beginRecords(bytes: number, firstIndex: bigint, clockFloor: bigint): void;
  dueDeadline(): bigint;
  reduceRecords(): number;
  fireAt(index: bigint, clockNs: bigint): number;
  nextFrame(): bigint;
  setStamping(on: number, base: number): void;
}

/** Core.reduceRecords' answers (assembly/parallel/reduce.ts SPARSE_*). */
export enum Sparse { Done = 0, OutputFull = 1, NeedClock = 2 }

/** An instance's part in a parallel run (assembly/parallel/parts.ts). */
export enum Part { Single = 0, Framer = 1, Mapper = 2, Reducer = 3, Replica = 4 }

/** Bytes of one frame descriptor (assembly/parallel/parts.ts DESC_SIZE). */
export const DESC_SIZE = 40;

/** Frames the framer read: their times, descriptors, and the bytes they point into. */
export interface FramedChunk {
  count: number;
  times: Bytes;
  desc: Bytes;
  bytes: Bytes;
}


/**
 * Live connections by default: flow records of 1,152 bytes each, so at most ~580 MB of them,
 * reserved at the start and resident only as connections use them.
 */
export const DEFAULT_MAX_FLOWS = 500_000;
/** Above this, wasm's 4 GB would not hold the flow table. */
export const MAX_MAX_FLOWS = 2_500_000;
const PAGE = 65536;
/** What asconfig.json declares as the initial memory (static data, the output batch, the input). */
const INITIAL_PAGES = 64;
export const MIN_MEMORY_LIMIT = INITIAL_PAGES * PAGE;
export const MAX_MEMORY_LIMIT = 65536 * PAGE;
/** A read-only look at the core's current output batch. */
export interface OutputView {
  /** The wasm memory's current buffer (re-read after every call that may grow memory). */
  buffer: ArrayBuffer;
  rows: number;
  address(group: Group, col: number): number;
}

/** wasm32's whole address space: the bound that binds by default is maxFlows. */
export const DEFAULT_MEMORY_LIMIT = MAX_MEMORY_LIMIT;

export interface CoreOptions {
  verifyChecksums?: boolean;
  events?: boolean;
  packets?: boolean;
  /** Per-direction packet size and inter-arrival statistics in the rows (Flag.PacketStats). */
  packetStats?: boolean;
  maxFlows?: number;
  memoryLimit?: number;
  /** Tests only: every segment takes the exact step-by-step path (Flag.ExactPathOnly). */
  exactPathOnly?: boolean;
  /** "vlan": Zeek's VLAN-aware connection key (Flag.VlanKey). */
  connKey?: "five-tuple" | "vlan";
  /** A capture filter (src/filter/), compiled by each instance. */
  filter?: string;
  /**
   * The module is a shared-memory build (build/synfin.*.shared.wasm): its memory is a
   * SharedArrayBuffer, which never moves when it grows, so reads in flight may fill it.
   */
  sharedMemory?: boolean;
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
  ["filtered", Stat.Filtered],
];


export class Core {
  private readonly x: CoreExports;
  private inputPtr = 0;
  private inputCap = 0;

  private constructor(instance: WebAssembly.Instance, private readonly memory: WebAssembly.Memory, private readonly memoryLimit: number, private readonly shared: boolean) {
    this.x = unsignedAddresses(instance.exports as unknown as CoreExports);
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
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: Math.floor(memoryLimit / PAGE), shared: options.sharedMemory === true });
    const env = {
      memory,
      abort(msg: number, file: number, line: number, column: number): never {
        throw new Error(`synfin core assertion failed: ${readAsString(memory, msg)} (${readAsString(memory, file)}:${line}:${column})`);
      },
    };
    const instance = await WebAssembly.instantiate(module, { ...imports, env });
    const core = new Core(instance, memory, memoryLimit, options.sharedMemory === true);
    core.flags = (options.verifyChecksums ? Flag.VerifyChecksums : 0) | (options.events ? Flag.Events : 0) | (options.packets ? Flag.Packets : 0) | (options.packetStats ? Flag.PacketStats : 0) | (options.exactPathOnly ? Flag.ExactPathOnly : 0) |
      (options.connKey === "vlan" ? Flag.VlanKey : 0);
    core.maxFlows = maxFlows;
    core.reset();
    if (options.filter !== undefined) core.setFilter(compileFilter(options.filter));
    return core;
  }

  private flags = 0;
  private maxFlows = DEFAULT_MAX_FLOWS;

  /** Whether the rows hold the packet statistics columns (PACKET_STATS_COLUMNS). */
  get packetStats(): boolean { return (this.flags & Flag.PacketStats) !== 0; }

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

  /** Whether the memory is shared (CoreOptions.sharedMemory): a read may then fill it while the core runs. */
  get sharedMemory(): boolean { return this.shared; }

  beginFile(): void { this.x.beginFile(); }

  /** Frames the first `len` input bytes; returns the status and how many bytes were consumed. */
  feed(len: number, atEof: boolean): { status: Status; consumed: number } {
    return this.feedAt(0, len, atEof);
  }

  /** Frames `len` bytes at `offset` in the input buffer, as `feed` frames those at its start. */
  feedAt(offset: number, len: number, atEof: boolean): { status: Status; consumed: number } {
    const status = this.call(() => this.x.feedFrom(this.inputPtr + offset, len, atEof ? 1 : 0));
    return { status, consumed: this.x.consumedBytes() };
  }

  /** Moves the unconsumed tail [consumed, len) to the start of the input buffer. */
  carryOver(consumed: number, len: number): void {
    const bytes = new Uint8Array(this.memory.buffer);
    bytes.copyWithin(this.inputPtr, this.inputPtr + consumed, this.inputPtr + len);
  }

  finish(): Status { return this.call(() => this.x.finish()); }

  /** The output batch as it stands (a view into wasm memory, valid until the next call). */
  outputView(): OutputView {
    const x = this.x;
    return { buffer: this.memory.buffer, rows: x.outputRows(), address: (group: Group, col: number) => x.columnAddress(group, col) };
  }

  /** Forgets the first `n` rows of the output batch (the caller has copied them). */
  shiftOutput(n: number): void { this.x.shiftOutput(n); }

  // --- parallel runs (src/run/parallel.ts) ---

  /** Sets this instance's part in a parallel run, and how many partitions it maps into. */
  setParallel(part: Part, partitions = 0): void {
    this.x.setParallel(part, partitions);
  }

  /** Replica: keeps the flows whose hash lies in [lo, hi] (32-bit, inclusive). */
  ownHashes(lo: number, hi: number): void {
    this.x.ownHashes(lo, hi);
  }

  /** Framer: frames framed since the last takeFrames. */
  framedCount(): number { return this.x.timesCount(); }

  private copyOut(at: number, bytes: number, pool: BufferPool): Bytes {
    return pool.copy(new Uint8Array(this.memory.buffer, at, bytes));
  }

  /**
   * Framer: what the last feed framed, copied out (into pooled buffers) and cleared: the time
   * track, the descriptors, and the chunk of input they point into (the first `consumed` bytes).
   */
  takeFrames(consumed: number, pool: BufferPool): FramedChunk {
    const x = this.x;
    const count = x.timesCount();
    const framed = {
      count,
      times: this.copyOut(x.timesAddress(), count * 8, pool),
      desc: this.copyOut(x.descAddress(), count * DESC_SIZE, pool),
      bytes: this.copyOut(this.inputPtr, consumed, pool),
    };
    x.clearFrames();
    return framed;
  }

  /**
   * Mapper (and the framer, for fragments): decodes framed frames into the partitions. With
   * `defer`, fragments are listed instead (takePartitions' `deferred`). `indexes` gives each frame's
   * index within its chunk when the frames are not the whole chunk.
   */
  mapFrames(chunk: Omit<FramedChunk, "times">, defer: boolean, indexes?: Uint32Array): void {
    const descBytes = chunk.count * DESC_SIZE;
    const indexBytes = indexes ? chunk.count * 4 : 0;
    const at = this.call(() => this.x.reduceInput(descBytes + indexBytes + chunk.bytes.length));
    const memory = new Uint8Array(this.memory.buffer);
    memory.set(new Uint8Array(chunk.desc.buffer, 0, descBytes), at);
    if (indexes) memory.set(new Uint8Array(indexes.buffer, indexes.byteOffset, indexBytes), at + descBytes);
    memory.set(new Uint8Array(chunk.bytes.buffer, 0, chunk.bytes.length), at + descBytes + indexBytes);
    this.call(() => this.x.mapFrames(at, chunk.count, at + descBytes + indexBytes, defer ? 1 : 0, indexes ? at + descBytes : 0));
  }

  /** Mapper: each partition's records, and the frames (by index) left to the framer; cleared. */
  takePartitions(partitions: number, pool: BufferPool): { records: Bytes[]; deferred: Uint32Array } {
    const x = this.x;
    const records: Bytes[] = [];
    for (let j = 0; j < partitions; j++) records.push(this.copyOut(x.partitionAddress(j), x.partitionBytes(j), pool));
    const deferred = new Uint32Array(x.deferredCount());
    deferred.set(new Uint32Array(this.memory.buffer, x.deferredAddress(), deferred.length));
    x.clearPartitions();
    return { records, deferred };
  }

  /** Reducer: loads a mapped batch (times, then this partition's records) from frame `firstIndex` on. */
  beginReduce(times: Bytes, count: number, records: Bytes, firstIndex: number): void {
    const at = this.call(() => this.x.reduceInput(times.length + records.length));
    const bytes = new Uint8Array(this.memory.buffer);
    bytes.set(new Uint8Array(times.buffer, 0, times.length), at);
    bytes.set(new Uint8Array(records.buffer, 0, records.length), at + times.length);
    this.x.beginReduce(count, records.length, BigInt(firstIndex));
  }

  /** Reducer: runs the loaded batch on; OutputFull means drain the output and call again. */
  reduce(): Status { return this.call(() => this.x.reduce()); }

  // --- a cluster's tasks (src/cluster/) ---

  /**
   * Reads only the byte range [start, stop) of the pcap file just begun (beginFile): the input
   * holds the file header, then the file's bytes from `start` on. With `sync`, `start` is not known
   * to be a record boundary and the first record is looked for (assembly/capture/reader.ts).
   */
  beginRange(start: number, stop: number, sync: boolean): void {
    this.x.beginRange(BigInt(start), BigInt(stop), sync ? 1 : 0);
  }

  /** The range's first record and where its reading stopped (-1 while not known). */
  range(): { first: number; end: number } {
    return { first: Number(this.x.rangeFirstRecord()), end: Number(this.x.rangeEndOffset()) };
  }

  /** Whole records read in the current file, and its first damage (the file's error if it has none). */
  fileHealth(): { goodRecords: number; firstDamage: ErrorCode; firstDamageOffset: number } {
    return { goodRecords: Number(this.x.fileGoodRecords()), firstDamage: this.x.fileFirstDamage(), firstDamageOffset: Number(this.x.fileFirstDamageOffset()) };
  }

  /** Cluster mapper: writes each record after its frame's time and clock, numbering frames from `base` (assembly/parallel/parts.ts). */
  stampRecords(on: boolean, base = 0): void { this.x.setStamping(on ? 1 : 0, base); }

  /** Cluster reducer: loads stamped records of a task whose frames start at `firstIndex`, clocks raised to `clockFloor`. */
  beginRecords(records: Uint8Array, firstIndex: number, clockFloor: bigint): void {
    const at = this.call(() => this.x.reduceInput(records.length));
    new Uint8Array(this.memory.buffer).set(records, at);
    this.x.beginRecords(records.length, BigInt(firstIndex), clockFloor);
  }

  /** Cluster reducer: runs the loaded records on (see Sparse). */
  reduceRecords(): Sparse { return this.call(() => this.x.reduceRecords()); }

  /** Cluster reducer: the earliest timer deadline (ns; 2^63 - 1 when none). */
  dueDeadline(): bigint { return this.x.dueDeadline(); }

  /** Cluster reducer: the first frame at which a due timer can fire (after the last record, or at the last firing). */
  nextFrame(): number { return Number(this.x.nextFrame()); }

  /** Cluster reducer: the clock reaches `clockNs` at frame `index`; false: drain the output, call again. */
  fireAt(index: number, clockNs: bigint): boolean { return this.call(() => this.x.fireAt(BigInt(index), clockNs)) !== 0; }

  /** Reducer: the first packet of the oldest live flow, or Infinity when none is live. */
  oldestLive(): number {
    const p = this.x.oldestFirstPacket();
    return p === 2n ** 63n - 1n ? Infinity : Number(p);
  }

  /** Reducer: the first packets of the flows created since the last call, in creation order. */
  takeCreated(): Float64Array {
    const x = this.x;
    const n = x.createdCount();
    const values = new BigInt64Array(this.memory.buffer, x.createdAddress(), n);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Number(values[i]);
    x.clearCreated();
    return out;
  }

  /** The events written since the last call, as they stand (a view into wasm memory). */
  eventsView(): OutputView {
    const x = this.x;
    return { buffer: this.memory.buffer, rows: x.eventCount(), address: (group: Group, col: number) => x.eventColumnAddress(group === 0 ? 0 : 1, col) };
  }

  /** Forgets the events the caller has read. */
  clearEvents(): void { this.x.clearEvents(); }

  /** The packets table's rows written since the last call, as they stand (a view into wasm memory). */
  packetsView(): OutputView {
    const x = this.x;
    return { buffer: this.memory.buffer, rows: x.packetCount(), address: (group: Group, col: number) => x.packetColumnAddress(group, col) };
  }

  /** Forgets the packets rows the caller has read. */
  clearPackets(): void { this.x.clearPackets(); }

  stats(): Stats {
    const values = new BigUint64Array(this.memory.buffer, this.x.statsAddress(), Stat.Count);
    const stats = {} as Stats;
    for (const [key, stat] of STAT_KEYS) stats[key] = Number(values[stat]);
    return stats;
  }

  /**
   * Segments of this run that took the core's one-step path, per model, frames decoded in one
   * step, and pcapng blocks framed in one step (tests and benchmarks).
   */
  oneStepSegments(): { zeek: number; analysis: number; decode: number; blocks: number } {
    const x = this.x;
    return { zeek: Number(x.oneStepSegments(0)), analysis: Number(x.oneStepSegments(1)), decode: Number(x.oneStepSegments(2)), blocks: Number(x.oneStepSegments(3)) };
  }

  error(): { code: ErrorCode; offset: number; detail?: string } {
    const code = this.x.errorCode();
    let detail: string | undefined;
    if (code === ErrorCode.FilterRefused && this.filter) {
      const linkType = this.x.filterRefusedLinkType();
      detail = `the filter '${this.filter.text}' cannot be applied to link type ${linkType}: ${this.filter.refusals.get(linkType) ?? "refused"} (tcpdump refuses it too)`;
    }
    return { code, offset: Number(this.x.errorOffset()), detail };
  }

  private filter: CompiledFilter | undefined;

  /** Installs a compiled capture filter, or none; it holds for every later run of this instance. */
  setFilter(filter: CompiledFilter | undefined): void {
    const len = filter?.bytes.length ?? 0;
    if (filter) {
      const at = this.call(() => this.x.filterBuffer(len));
      new Uint8Array(this.memory.buffer, at, len).set(filter.bytes);
    }
    if (!this.x.setFilter(len)) throw new Error("synfin: the core refused the compiled filter (a bug; please report it with the expression)");
    this.filter = filter;
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
