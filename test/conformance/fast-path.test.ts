// The core's one-step path for the common segment (assembly/flow/path.ts) changes no output: every
// capture of ../shared/captures and random synthetic captures (with loss, duplicates and
// reordering added) give the same rows, events and accounting, byte for byte as Arrow IPC, with
// the one-step path on and with every segment on the exact step-by-step path. The one-step path
// must also be taken, or the comparison would prove nothing.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tableToIPC } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyze, SynfinError, type AnalyzeOptions } from "../../src/node.js";
import { Core } from "../../src/core.js";
import { runEngine } from "../../src/engine.js";
import { openInput } from "../../src/sources.js";
import { synthPackets } from "../../src/writer/synth.js";
import { writePcap, type CapturedPacket } from "../../src/writer/capture.js";
import { LINKTYPE } from "../../src/writer/packet.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";

/** Property runs: a quick set by default, more where .ci/run asks for the long runs. */
const PROPERTY_RUNS = process.env.SYNFIN_LONG_TESTS ? 60 : 15;

interface Outcome { table?: Uint8Array; events?: Uint8Array; stats?: unknown; error?: string }

async function outcome(source: string | Uint8Array, exactPathOnly: boolean): Promise<Outcome> {
  const options: AnalyzeOptions = { workers: 0, events: true, testHooks: { exactPathOnly } };
  try {
    const r = await analyze(source, options);
    return { table: tableToIPC(r.table, "file"), events: tableToIPC(r.events!, "file"), stats: r.stats };
  } catch (e) {
    if (e instanceof SynfinError) return { error: e.code };
    throw e;
  }
}

async function expectSameBothWays(source: string | Uint8Array, label: string): Promise<void> {
  const fast = await outcome(source, false);
  const exact = await outcome(source, true);
  expect(fast.error, label).toEqual(exact.error);
  if (fast.error) return;
  expect(Buffer.compare(fast.table!, exact.table!), `${label}: rows`).toBe(0);
  expect(Buffer.compare(fast.events!, exact.events!), `${label}: events`).toBe(0);
  expect(fast.stats, `${label}: stats`).toEqual(exact.stats);
}

/** TCP segments of a capture and how many took the one-step path, per model. */
async function oneStepShare(bytes: Uint8Array): Promise<{ tcp: number; zeek: number; analysis: number }> {
  const module = await WebAssembly.compile(readFileSync(new URL("../../build/synfin.release.wasm", import.meta.url)));
  const core = await Core.create(module, {});
  let tcp = 0;
  for await (const batch of runEngine(core, [openInput(bytes, "capture")], {}, (s) => { tcp = s.tcpPackets; })) void batch;
  return { tcp, ...core.oneStepSegments() };
}

function capturesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...capturesUnder(path));
    else if (/\.(pcap|pcapng|cap|ntar)$/.test(name)) out.push(path);
  }
  return out;
}

describe(`the one-step path changes no output${SKIP_NOTE}`, () => {
  it.skipIf(!HAS_CAPTURES)("on every capture of ../shared/captures", async () => {
    const files = capturesUnder(CAPTURES);
    expect(files.length).toBeGreaterThan(300);
    for (const file of files) await expectSameBothWays(file, file);
  }, 600_000);

  it("on a synthetic capture, where most segments take it", async () => {
    const packets = [...synthPackets({ seed: 5, connections: 400, concurrency: 50, snaplen: 96, outOfOrderRate: 0.05 })];
    const capture = writePcap(packets, { linkType: LINKTYPE.ETHERNET, snaplen: 96 });
    await expectSameBothWays(capture, "synthetic");
    const share = await oneStepShare(capture);
    expect(share.zeek / share.tcp).toBeGreaterThan(0.8);
    expect(share.analysis / share.tcp).toBeGreaterThan(0.8);
  }, 60_000);

  it("property: random captures with loss, duplicates and reordering added", async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.constantFrom(80, 96, 262144),
      fc.double({ min: 0, max: 0.3, noNaN: true }),
      fc.integer({ min: 1, max: 120 }),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom("drop", "duplicate", "swap")), { maxLength: 60 }),
      async (seed, snaplen, outOfOrderRate, concurrency, changes) => {
        const packets = [...synthPackets({ seed, connections: 150, concurrency, snaplen, outOfOrderRate })];
        const capture = writePcap(perturbed(packets, changes), { linkType: LINKTYPE.ETHERNET, snaplen });
        await expectSameBothWays(capture, `seed ${seed}`);
      }), { numRuns: PROPERTY_RUNS, seed: 20261204 });
  }, 300_000);
});

/** The packets with some dropped, sent twice or swapped with the next one (at positions modulo the length). */
function perturbed(packets: CapturedPacket[], changes: Array<[number, string]>): CapturedPacket[] {
  const out = packets.slice();
  for (const [at, change] of changes) {
    if (out.length < 2) break;
    const i = at % (out.length - 1);
    if (change === "drop") out.splice(i, 1);
    else if (change === "duplicate") out.splice(i, 0, out[i]!);
    else [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  }
  return out;
}
