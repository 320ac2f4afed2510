// The command's output thread (src/cli/output-thread.ts) writes a table's batches, handed over
// as Arrow IPC, byte for byte as the command's own thread would (src/cli/batch-writer.ts); builds
// the connection table from its rows (connectionRows) as the batches `connections` streams; and
// reports a file it cannot write. Several lanes (TextLanes) write the connection table's CSV and
// NDJSON lines as one thread does. The thread of an Arrow or Zeek connection table runs at a lower
// priority (Linux), and only it.

import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { analyze, connectionRows, connections } from "../src/node.js";
import { synthPackets } from "../src/synth/synth.js";
import { writePcap } from "../src/synth/capture.js";
import { BatchWriter, type OutputFormat } from "../src/cli/batch-writer.js";
import { csvHeader } from "../src/output/format.js";
import { OutputThread, TextLanes, YIELDING_NICE, yieldsToAnalysis } from "../src/cli/output-thread.js";

const dir = mkdtempSync(join(tmpdir(), "synfin-output-thread-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("output thread", async () => {
  const capture = writePcap(synthPackets({ connections: 60, concurrency: 12, maxResponseBytes: 20_000, seed: 5, snaplen: 96 }), { linkType: 1, snaplen: 96 });
  const { table, events } = await analyze(capture, { events: true });

  it.each(["ndjson", "csv", "parquet"] as OutputFormat[])("writes %s as the command's thread does", async (format) => {
    for (const [name, t] of [["conn", table], ["events", events!]] as const) {
      const chunks: Uint8Array[] = [];
      const writer = new BatchWriter(format, { closed: false, async write(c) { chunks.push(typeof c === "string" ? Buffer.from(c) : c.slice()); }, async end() {} }, name);
      for (const batch of t.batches) await writer.write(batch);
      await writer.end();
      const there = join(dir, `${name}-there.${format}`);
      const fd = openSync(there, "w");
      const failures: string[] = [];
      const thread = new OutputThread({ fd, format, table: name, vlanKey: false, withStats: false }, (reason) => failures.push(reason));
      for (const batch of t.batches) await thread.write(batch);
      await thread.end();
      closeSync(fd);
      expect(failures).toEqual([]);
      expect(t.batches.length).toBeGreaterThan(0);
      expect(Buffer.compare(readFileSync(there), Buffer.concat(chunks)), `${name} ${format}`).toBe(0);
    }
  });

  // More connections than a batch holds (Abi.BatchRows, 8,192): the history dictionary grows in deltas across batches.
  const many = writePcap(synthPackets({ connections: 20_000, concurrency: 300, maxResponseBytes: 3_000, seed: 9, snaplen: 96 }), { linkType: 1, snaplen: 96 });
  /** The connection table of `many` as the command's thread writes it, and its batch count. */
  async function commandThreadBytes(format: OutputFormat, packetStats: boolean): Promise<{ bytes: Buffer; batches: number }> {
    const chunks: Uint8Array[] = [];
    const writer = new BatchWriter(format, { closed: false, async write(c) { chunks.push(typeof c === "string" ? Buffer.from(c) : c.slice()); }, async end() {} }, "conn", false, packetStats);
    let batches = 0;
    for await (const batch of connections(many, { packetStats })) {
      await writer.write(batch);
      batches++;
    }
    await writer.end();
    return { bytes: Buffer.concat(chunks), batches };
  }

  /** The rows of `many` handed to `open`'s writer (an output thread or lanes) for the file `name`: its bytes, blocks and failures. */
  async function fromRows(name: string, packetStats: boolean, open: (fd: number, fail: (reason: string) => void, spares: ArrayBuffer[]) => OutputThread | TextLanes) {
    const there = join(dir, name);
    const fd = openSync(there, "w");
    const failures: string[] = [];
    const spares: ArrayBuffer[] = [];
    const writer = open(fd, (reason) => failures.push(reason), spares);
    let blocks = 0;
    for await (const block of connectionRows(many, { packetStats }, spares)) {
      await writer.writeRows(block);
      blocks++;
    }
    await writer.end();
    closeSync(fd);
    return { bytes: readFileSync(there), blocks, failures, spares };
  }

  it.each([
    ["arrow", false], ["arrow-stream", false], ["zeek", false], ["csv", false], ["ndjson", false], ["parquet", false], ["arrow", true], ["csv", true],
  ] as Array<[OutputFormat, boolean]>)("builds the connection table's %s from rows as the command's thread does (packetStats %s)", async (format, packetStats) => {
    const want = await commandThreadBytes(format, packetStats);
    expect(want.batches).toBeGreaterThan(2);
    const got = await fromRows(`rows-${format}-${packetStats}`, packetStats,
      (fd, fail, spares) => new OutputThread({ fd, format, table: "conn", vlanKey: false, withStats: packetStats }, fail, spares));
    expect(got.failures).toEqual([]);
    expect(got.blocks).toBe(want.batches);
    // The blocks' buffers came back for later rows.
    expect(got.spares.length).toBeGreaterThan(0);
    expect(Buffer.compare(got.bytes, want.bytes), `${format}`).toBe(0);
  });

  it.each([
    ["csv", false, 2], ["ndjson", false, 2], ["csv", true, 3], ["ndjson", true, 3], ["csv", false, 4],
  ] as Array<[OutputFormat, boolean, number]>)("writes the connection table's %s from rows in lanes as one thread does (packetStats %s, %i lanes)", async (format, packetStats, count) => {
    const want = await commandThreadBytes(format, packetStats);
    const got = await fromRows(`lanes-${format}-${packetStats}-${count}`, packetStats,
      (fd, fail, spares) => new TextLanes({ fd, format, table: "conn", vlanKey: false, withStats: packetStats }, count, fail, spares));
    expect(got.failures).toEqual([]);
    // Three blocks: with 3 lanes one each, with 4 one lane left idle.
    expect(got.blocks).toBeGreaterThan(2);
    expect(Buffer.compare(got.bytes, want.bytes), `${format}`).toBe(0);
  });

  it.each(["csv", "ndjson"] as OutputFormat[])("writes a connection table of no rows in lanes (%s): the header alone, or nothing", async (format) => {
    const there = join(dir, `lanes-empty.${format}`);
    const fd = openSync(there, "w");
    const failures: string[] = [];
    const lanes = new TextLanes({ fd, format, table: "conn", vlanKey: false, withStats: false }, 2, (reason) => failures.push(reason), []);
    await lanes.end();
    closeSync(fd);
    expect(failures).toEqual([]);
    expect(readFileSync(there, "utf8")).toBe(format === "csv" ? `${csvHeader()}\n` : "");
  });

  it.skipIf(!existsSync("/dev/full"))("reports a file its lanes cannot write (a full disk: /dev/full), once", async () => {
    const fd = openSync("/dev/full", "w");
    const failures: string[] = [];
    const reason = await new Promise<string>((resolve) => {
      const lanes = new TextLanes({ fd, format: "ndjson", table: "conn", vlanKey: false, withStats: false }, 2, (r) => { failures.push(r); lanes.stop(); resolve(r); }, []);
      void (async () => {
        for await (const block of connectionRows(many, {})) await lanes.writeRows(block);
      })();
    });
    closeSync(fd);
    expect(reason).toMatch(/ENOSPC|no space/i);
    expect(failures).toHaveLength(1);
  });

  it.skipIf(!existsSync("/dev/full"))("reports a file it cannot write (a full disk: /dev/full)", async () => {
    const fd = openSync("/dev/full", "w");
    const reason = await new Promise<string>((resolve) => {
      const thread = new OutputThread({ fd, format: "ndjson", table: "conn", vlanKey: false, withStats: false }, (r) => { thread.stop(); resolve(r); });
      void (async () => {
        for (const batch of table.batches) await thread.write(batch);
        await thread.end();
      })();
    });
    closeSync(fd);
    expect(reason).toMatch(/ENOSPC|no space/i);
  });
});

describe("an output thread's priority", async () => {
  const capture = writePcap(synthPackets({ connections: 40, concurrency: 8, maxResponseBytes: 20_000, seed: 7, snaplen: 96 }), { linkType: 1, snaplen: 96 });
  const { table } = await analyze(capture);
  /** The nice value of each thread of this process (a test file runs in a process of its own): /proc/self/task/TID/stat, field 19. */
  const nices = () => readdirSync("/proc/self/task").map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ")[16]));

  it("yields for an Arrow file and a Zeek log, not for Parquet, CSV or NDJSON", () => {
    expect((["arrow", "arrow-stream", "zeek", "parquet", "csv", "ndjson"] as OutputFormat[]).filter(yieldsToAnalysis)).toEqual(["arrow", "arrow-stream", "zeek"]);
  });

  it.skipIf(process.platform !== "linux").each([["zeek", true], ["parquet", false]] as const)("%s (yields: %s): that thread's priority is lowered if it yields, while it runs, and no other's", async (format, yields) => {
    expect(yieldsToAnalysis(format)).toBe(yields);
    const before = nices();
    const fd = openSync(join(dir, `priority.${format}`), "w");
    const failures: string[] = [];
    const thread = new OutputThread({ fd, format, table: "conn", vlanKey: false, withStats: false, yields }, (reason) => failures.push(reason));
    // A third batch is handed over once the thread has written the first (OutputThread's AHEAD
    // is 2): by then it has started, and set its priority first.
    for (let i = 0; i < 3; i++) await thread.write(table.batches[0]!);
    const during = nices();
    await thread.end();
    closeSync(fd);
    expect(failures).toEqual([]);
    expect(during.filter((n) => n === YIELDING_NICE).length).toBe(yields ? 1 : 0);
    expect(during.filter((n) => n !== YIELDING_NICE).every((n) => n === before[0])).toBe(true);
    expect(nices().filter((n) => n === YIELDING_NICE)).toEqual([]);
  });
});
