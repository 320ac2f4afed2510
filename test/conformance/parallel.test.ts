// Worker fan-out changes nothing (docs/workers.md): for any number of workers and any chunk size,
// the same rows, values and order, byte for byte as Arrow IPC, and the same accounting. Run over
// every kernel and Zeek capture, over synthetic captures of the project's own writer, and as a
// property over random chunk sizes and worker counts, in both designs: replicated decode (files
// and Blobs) and map/shuffle/reduce (bytes and streams). Also: errors in and deaths of workers.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tableToIPC, type Table } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyze, connections, runningWorkers, SynfinError, type AnalyzeOptions, type Stats } from "../../src/node.js";
import { synthPackets } from "../../src/synth/synth.js";
import { writePcap, writePcapng } from "../../src/synth/capture.js";
import { LINKTYPE } from "../../src/synth/packet.js";
import { chunksOf } from "../support/fixtures.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { shares } from "../../src/run/replica.js";

/** The long runs (.ci/run) try more cases. */
const LONG = Boolean(process.env.SYNFIN_LONG_TESTS);
const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Every configuration of acceptance point 1, against the single pass in this thread. A file path
 * takes replicated decode; the last one forces map/shuffle/reduce on it.
 */
const CONFIGS: AnalyzeOptions[] = [
  { workers: 1, chunkSize: 64 * KiB },
  { workers: 2, chunkSize: 64 * KiB },
  { workers: 3, chunkSize: 1 * MiB },
  { workers: 8, chunkSize: 64 * MiB },
  { workers: 3, chunkSize: 64 * KiB, testHooks: { design: "shuffle" } },
];

/** Resolves once no worker thread of synfin's is running (the test's timeout bounds the wait). */
async function allWorkersExited(): Promise<void> {
  while (runningWorkers() > 0) await new Promise((r) => setTimeout(r, 10));
}

/** A Blob of the bytes: a source the workers open themselves (replicated decode). */
function blobOf(bytes: Uint8Array): Blob {
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

function ipc(table: Table): Uint8Array {
  return tableToIPC(table, "file");
}

/** Stats must agree except peakFlows, which is per worker summed (between the single figure and workers times it). */
function sameStats(single: Stats, parallel: Stats, workers: number): void {
  expect({ ...parallel, peakFlows: 0 }).toEqual({ ...single, peakFlows: 0 });
  expect(parallel.peakFlows).toBeGreaterThanOrEqual(single.peakFlows);
  expect(parallel.peakFlows).toBeLessThanOrEqual(single.peakFlows * Math.max(1, workers));
}

async function expectSameForAll(source: Parameters<typeof analyze>[0], configs = CONFIGS, common: AnalyzeOptions = {}): Promise<Stats> {
  const single = await analyze(source, { ...common, workers: 0 });
  const expected = ipc(single.table);
  for (const config of configs) {
    const got = await analyze(source, { ...common, ...config });
    const label = `workers ${config.workers}, chunk ${config.chunkSize}${config.testHooks?.design ? `, ${config.testHooks.design}` : ""}`;
    expect(Buffer.compare(ipc(got.table), expected), label).toBe(0);
    sameStats(single.stats, got.stats, config.workers ?? 1);
  }
  return single.stats;
}

function capturesIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => /\.(pcap|pcapng|cap|ntar)$/.test(f)).sort().map((f) => join(dir, f));
}

describe(`the same output for any number of workers and any chunk size${SKIP_NOTE}`, () => {
  it.skipIf(!HAS_CAPTURES)("on every capture of ../shared/captures/kernel", async () => {
    const files = capturesIn(join(CAPTURES, "kernel"));
    expect(files.length).toBeGreaterThan(30);
    for (const file of files) await expectSameForAll(file);
  });

  it.skipIf(!HAS_CAPTURES)("with a capture filter, on captures whose time runs backwards (a rejected record runs no timer in any design)", async () => {
    const files = capturesIn(join(CAPTURES, "tcpdump")).filter((f) => /kday\d+\.pcap$/.test(f));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) await expectSameForAll(file, CONFIGS, { filter: "ip[8] < 64" });
  });

  it.skipIf(!HAS_CAPTURES)("on every capture of ../shared/captures/zeek", async () => {
    const files = capturesIn(join(CAPTURES, "zeek"));
    expect(files.length).toBeGreaterThan(40);
    for (const file of files) await expectSameForAll(file);
  });

  it.skipIf(!HAS_CAPTURES)("where fragments are put together by the framer (outer IPv4 fragments of GTP)", async () => {
    const file = join(CAPTURES, "zeek", "gtp1_gn_normal_incl_fragmentation.pcap");
    const single = await analyze(file, { workers: 0 });
    expect(single.table.numRows).toBeGreaterThan(0);
    await expectSameForAll(file, [{ workers: 2, chunkSize: 64 * KiB }, { workers: 3, chunkSize: 64 * KiB }]);
  });
});

describe("the same output on synthetic captures", () => {
  // Several output batches (BatchRows 8192), IPv6, VLANs, non-TCP frames, resets, retransmissions,
  // unanswered SYNs and connections left open: every path of the merge and of conn_id numbering.
  const packets = [...synthPackets({ seed: 11, connections: 20_000, concurrency: 300, snaplen: 128, nanos: true })];
  const pcap = writePcap(packets, { linkType: LINKTYPE.ETHERNET, nanos: true, snaplen: 128 });

  it("a pcap of 20,000 connections", async () => {
    await expectSameForAll(pcap, [...CONFIGS, { workers: 5, chunkSize: 256 * KiB }]);
  });

  it("with a capture filter: the framer's rejected records move no reducer's clock; replicas skip them alike", async () => {
    // Resets and the clients' longer segments are left out: rows end otherwise (by timers, or
    // half-open), and timers fall due at other records.
    const filter = "not tcp[tcpflags] & tcp-rst != 0 and not (tcp src portrange 1024-65535 and len > 90)";
    for (const source of [pcap, blobOf(pcap)]) {
      const stats = await expectSameForAll(source, [...CONFIGS, { workers: 2, chunkSize: 256 * KiB, testHooks: { design: "shuffle" } }], { filter });
      expect(stats.filtered).toBeGreaterThan(stats.records / 20);
      expect(stats.filtered).toBeLessThan(stats.records);
    }
  });

  it("a pcapng of the same traffic, read as a non-seekable stream in odd pieces", async () => {
    const pcapng = writePcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET, tsresol: 9 }], packets }]);
    const single = await analyze(pcapng, { workers: 0 });
    const got = await analyze(chunksOf(pcapng, [1, 100_003, 77, 65_536]), { workers: 3, chunkSize: 64 * KiB });
    expect(Buffer.compare(ipc(got.table), ipc(single.table))).toBe(0);
    sameStats(single.stats, got.stats, 3);
  });

  it("property: random captures, chunk sizes and worker counts give the single-pass table", async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.integer({ min: 64 * KiB, max: 1 * MiB }),
      fc.integer({ min: 1, max: 8 }),
      async (seed, chunkSize, workers) => {
        const capture = writePcap([...synthPackets({ seed, connections: 600, concurrency: 40, snaplen: 96 })], { linkType: LINKTYPE.ETHERNET, snaplen: 96 });
        const single = await analyze(capture, { workers: 0 });
        const got = await analyze(capture, { workers, chunkSize });
        expect(Buffer.compare(ipc(got.table), ipc(single.table))).toBe(0);
        sameStats(single.stats, got.stats, workers);
      }), { numRuns: 12, seed: 20261202 });
  });

  it("property: the same as Blobs, which the workers read themselves (replicated decode)", async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.integer({ min: 64 * KiB, max: 1 * MiB }),
      fc.integer({ min: 2, max: 8 }),
      async (seed, chunkSize, workers) => {
        const capture = writePcap([...synthPackets({ seed, connections: 600, concurrency: 40, snaplen: 96 })], { linkType: LINKTYPE.ETHERNET, snaplen: 96 });
        const single = await analyze(capture, { workers: 0 });
        const got = await analyze(blobOf(capture), { workers, chunkSize });
        expect(Buffer.compare(ipc(got.table), ipc(single.table))).toBe(0);
        sameStats(single.stats, got.stats, workers);
      }), { numRuns: 8, seed: 20261204 });
  });
});

describe("the same output, many more cases with the workers' code run in this thread", () => {
  // testHooks.inThreadWorkers: the same protocol, buffers, partitions and merge, minus the threads.
  it("property: 30 random captures (pcap and pcapng), chunk sizes, 2 to 16 workers, either design", async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.integer({ min: 64 * KiB, max: 512 * KiB }),
      fc.integer({ min: 2, max: 16 }),
      fc.boolean(),
      fc.boolean(),
      async (seed, chunkSize, workers, pcapng, replicated) => {
        const packets = [...synthPackets({ seed, connections: 200, concurrency: 60, snaplen: 96, nanos: pcapng })];
        const capture = pcapng
          ? writePcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET, snaplen: 96, tsresol: 9 }], packets }])
          : writePcap(packets, { linkType: LINKTYPE.ETHERNET, snaplen: 96 });
        const single = await analyze(capture, { workers: 0 });
        const got = await analyze(replicated ? blobOf(capture) : capture, { workers, chunkSize, maxFlows: 20_000, testHooks: { inThreadWorkers: true } });
        expect(Buffer.compare(ipc(got.table), ipc(single.table))).toBe(0);
        sameStats(single.stats, got.stats, workers);
      }), { numRuns: LONG ? 120 : 30, seed: 4 });
  });
});

describe("replicated decode's shares of the flow hashes", () => {
  it("cover the 32-bit hash space once, in order, the calling thread's half a share", () => {
    for (let count = 2; count <= 64; count++) {
      const ranges = shares(count);
      expect(ranges).toHaveLength(count);
      expect(ranges[0]![0]).toBe(0);
      expect(ranges[count - 1]![1]).toBe(2 ** 32 - 1);
      for (let j = 1; j < count; j++) expect(ranges[j]![0]).toBe(ranges[j - 1]![1] + 1);
      const size = ([lo, hi]: [number, number]) => hi - lo + 1;
      const others = (2 ** 32 - size(ranges[0]!)) / (count - 1);
      expect(Math.abs(size(ranges[0]!) - others / 2)).toBeLessThan(others * 0.01 + 2);
      for (const r of ranges.slice(1)) expect(Math.abs(size(r) - others)).toBeLessThanOrEqual(2);
    }
  });
});

describe("workers that fail", () => {
  const capture = writePcap([...synthPackets({ seed: 5, connections: 3000, concurrency: 100, snaplen: 96 })], { linkType: LINKTYPE.ETHERNET, snaplen: 96 });

  it("a killed worker is an error, and leaves no worker running", async () => {
    // A death not noticed would hang the run: the test's timeout is the bound, not a wall clock.
    const run = analyze(capture, { workers: 2, chunkSize: 64 * KiB, testHooks: { killWorkerAfterBatches: 3 } });
    const error = await run.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SynfinError);
    expect((error as SynfinError).code).toBe("WORKER_FAILED");
    expect((error as SynfinError).message).toMatch(/worker 1 of 2 stopped/);
    // Every worker thread exits (not only is asked to).
    await allWorkersExited();
  });

  it("an error inside a worker rejects with its code and the file, and stops every worker", async () => {
    // Each worker's core is given a memory limit its flow table cannot fit in.
    const error = await analyze(capture, { workers: 3, maxFlows: 2_000_000, memoryLimit: 64 * MiB }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SynfinError);
    expect((error as SynfinError).code).toBe("OUT_OF_MEMORY");
    expect((error as SynfinError).file).toBe("input");
    await allWorkersExited();
  });

  it("replicated decode: a killed worker is an error, and leaves no worker running", async () => {
    const error = await analyze(blobOf(capture), { workers: 2, chunkSize: 64 * KiB, testHooks: { killWorkerAfterBatches: 3 } }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SynfinError);
    expect((error as SynfinError).code).toBe("WORKER_FAILED");
    expect((error as SynfinError).message).toMatch(/worker 1 of 2 stopped/);
    await allWorkersExited();
  });

  it("replicated decode: an unreadable capture is the single pass's error, to the byte", async () => {
    const damaged = new Uint8Array(capture);
    damaged.fill(0xee, 0, 4); // no magic number
    for (const bytes of [damaged, capture.subarray(0, 20)]) {
      const single = await analyze(blobOf(bytes), { workers: 0 }).then(() => undefined, (e: unknown) => e);
      const replicated = await analyze(blobOf(bytes), { workers: 2, chunkSize: 64 * KiB }).then(() => undefined, (e: unknown) => e);
      expect(single).toBeInstanceOf(SynfinError);
      expect(replicated).toBeInstanceOf(SynfinError);
      const { code, file, offset, message } = single as SynfinError;
      expect(replicated).toMatchObject({ code, file, offset, message });
    }
  });

  it("a consumer that stops early leaves no worker running", async () => {
    for (const source of [capture, blobOf(capture)]) {
      for await (const batch of connections(source, { workers: 2, chunkSize: 64 * KiB })) {
        expect(batch.numRows).toBeGreaterThan(0);
        break;
      }
    }
    await allWorkersExited();
  });
});

describe("back-pressure", () => {
  it("a slow consumer stops the reader: nothing is read while it holds a batch", async () => {
    const capture = writePcap([...synthPackets({ seed: 3, connections: 12_000, concurrency: 50, snaplen: 96 })], { linkType: LINKTYPE.ETHERNET, snaplen: 96 });
    const chunkSize = 64 * KiB;
    let bytesRead = 0;
    const stream = connections(capture, { workers: 2, chunkSize, onProgress: (p) => { bytesRead = p.bytesRead; } });
    let first = true;
    for await (const batch of stream) {
      expect(batch.numRows).toBe(8192);
      if (!first) continue;
      first = false;
      const before = bytesRead;
      await new Promise((r) => setTimeout(r, 300));
      // While the consumer holds a batch, nothing more is read.
      expect(bytesRead).toBe(before);
      expect(bytesRead).toBeLessThan(capture.length - 8 * chunkSize);
      break;
    }
  });
});

describe("reading the capture", () => {
  it.skipIf(!HAS_CAPTURES)("a file path and its bytes give the same table with workers", async () => {
    const file = join(CAPTURES, "kernel", "many.pcapng");
    const a = await analyze(file, { workers: 2 });
    const b = await analyze(readFileSync(file), { workers: 2 });
    expect(Buffer.compare(ipc(a.table), ipc(b.table))).toBe(0);
  });
});
