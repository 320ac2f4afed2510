// The core's one-step paths, for the common frame (assembly/common.ts) and the common segment
// (assembly/flow/path.ts), change no output: every capture of ../shared/captures and random
// synthetic captures (with loss, duplicates and reordering added, and with damaged or cut headers)
// give the same rows, events and accounting, byte for byte as Arrow IPC, with the one-step paths
// on and with every frame and segment on the general, step-by-step path. The one-step paths must
// also be taken, or the comparison would prove nothing.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tableToIPC } from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyze, SynfinError, type AnalyzeOptions } from "../../src/node.js";
import { Core } from "../../src/core/core.js";
import { runEngine } from "../../src/run/engine.js";
import { openInput } from "../../src/input/sources.js";
import { synthPackets } from "../../src/synth/synth.js";
import { Conversation } from "../../src/synth/conversation.js";
import { writePcap, writePcapng, type CapturedPacket, type PcapngSection } from "../../src/synth/capture.js";
import { LINKTYPE } from "../../src/synth/packet.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";

/** Property runs: a quick set by default, more where .ci/run asks for the long runs. */
const PROPERTY_RUNS = process.env.SYNFIN_LONG_TESTS ? 60 : 15;

interface Outcome { table?: Uint8Array; events?: Uint8Array; stats?: unknown; error?: string }

async function outcome(source: string | Uint8Array, exactPathOnly: boolean, more: AnalyzeOptions = {}): Promise<Outcome> {
  const options: AnalyzeOptions = { workers: 0, events: true, ...more, testHooks: { exactPathOnly } };
  try {
    const r = await analyze(source, options);
    return { table: tableToIPC(r.table, "file"), events: tableToIPC(r.events!, "file"), stats: r.stats };
  } catch (e) {
    if (e instanceof SynfinError) return { error: e.code };
    throw e;
  }
}

async function expectSameBothWays(source: string | Uint8Array, label: string, more: AnalyzeOptions = {}): Promise<void> {
  const fast = await outcome(source, false, more);
  const exact = await outcome(source, true, more);
  expect(fast.error, label).toEqual(exact.error);
  if (fast.error) return;
  expect(Buffer.compare(fast.table!, exact.table!), `${label}: rows`).toBe(0);
  expect(Buffer.compare(fast.events!, exact.events!), `${label}: events`).toBe(0);
  expect(fast.stats, `${label}: stats`).toEqual(exact.stats);
}

/** TCP segments of a capture and how many took the one-step path, per model, in decoding and in pcapng framing. */
async function oneStepShare(bytes: Uint8Array): Promise<{ tcp: number; zeek: number; analysis: number; decode: number; blocks: number }> {
  const module = await WebAssembly.compile(readFileSync(new URL("../../build/synfin.release.wasm", import.meta.url)));
  const core = await Core.create(module, {});
  let tcp = 0;
  for await (const batch of runEngine(core, [openInput(bytes, "capture")], {}, (s) => { tcp = s.tcpPackets; }, (out, all) => out.takeBatch(all))) void batch;
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
  });

  it("on a synthetic capture, where most segments take it", async () => {
    const packets = [...synthPackets({ seed: 5, connections: 400, concurrency: 50, snaplen: 96, outOfOrderRate: 0.05 })];
    const capture = writePcap(packets, { linkType: LINKTYPE.ETHERNET, snaplen: 96 });
    await expectSameBothWays(capture, "synthetic");
    const share = await oneStepShare(capture);
    expect(share.zeek / share.tcp).toBeGreaterThan(0.8);
    expect(share.analysis / share.tcp).toBeGreaterThan(0.8);
    expect(share.decode / share.tcp).toBeGreaterThan(0.8);
    // Every frame the one-step decode covers takes it: here, each TCP segment whose header the
    // snap length left whole, over IPv4 and over IPv6 (the capture holds both, some VLAN-tagged).
    const { v4, v6 } = wholeHeaderSegments(packets);
    expect(v4).toBeGreaterThan(0);
    expect(v6).toBeGreaterThan(0);
    expect(share.decode).toBe(v4 + v6);
  });

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
  });

  it("property: pcapng sections of either byte order, any timestamp resolution, any packet block", async () => {
    // The one-step framing of pcapng (commonPacketBlock) takes an Enhanced Packet Block of a
    // little-endian section on an interface with a decimal resolution of at most nanoseconds;
    // every other block, and every such block when it is off, takes the general framing.
    const sectionArb = fc.record({
      bigEndian: fc.boolean(),
      block: fc.constantFrom<PcapngSection["block"]>("epb", "epb", "epb", "spb", "pb"),
      tsresol: fc.constantFrom(undefined, 0, 3, 6, 9, 12, 0x80 | 20, 0x80 | 40),
      tsoffsetSec: fc.constantFrom(undefined, 0, 1_000_000, -5),
      twoInterfaces: fc.boolean(),
      extraBlocks: fc.boolean(),
    });
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.array(sectionArb, { minLength: 1, maxLength: 3 }),
      async (seed, layout) => {
        const packets = [...synthPackets({ seed, connections: 60, concurrency: 20, snaplen: 96 })];
        const per = Math.ceil(packets.length / layout.length);
        const sections: PcapngSection[] = layout.map((l, i) => {
          const iface = { linkType: LINKTYPE.ETHERNET, snaplen: 96, tsresol: l.tsresol, tsoffsetSec: l.tsoffsetSec };
          const interfaces = l.twoInterfaces ? [iface, { ...iface, tsresol: 6 }] : [iface];
          const own = packets.slice(i * per, (i + 1) * per).map((p, j) => ({ ...p, interfaceId: interfaces.length > 1 ? j % 2 : 0 }));
          return { bigEndian: l.bigEndian, block: l.block, interfaces, packets: own, extraBlocks: l.extraBlocks };
        });
        await expectSameBothWays(writePcapng(sections), `seed ${seed}`);
      }), { numRuns: PROPERTY_RUNS, seed: 20261207 });
  });

  it("on a pcapng capture, whose packet blocks take the one-step framing", async () => {
    const packets = [...synthPackets({ seed: 5, connections: 400, concurrency: 50, snaplen: 96 })];
    const capture = writePcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET, snaplen: 96, tsresol: 9 }], packets }]);
    await expectSameBothWays(capture, "synthetic pcapng");
    const share = await oneStepShare(capture);
    expect(share.blocks).toBe(packets.length);
  });

  it("with thousands of rows whose keys come again, past the 1,024 states carried from row to row", async () => {
    // maxFlows 4,096 keeps 1,024 ended rows' analysis states (assembly/flow/carry.ts), so the ring
    // drops one per row; half the keys come from a pool of 1,500, and so come again after fewer or
    // more than 1,024 rows. With the one-step paths on, dropped states leave stale index entries
    // that inserts reuse and sweeps clear; off, each is removed when dropped.
    let seed = 11;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const packets: CapturedPacket[] = [];
    let t = 1_700_000_000n * 1_000_000_000n;
    for (let i = 0; i < 6000; i++) {
      const k = random() < 0.5 ? Math.floor(random() * 1500) : 1500 + i;
      const conv = new Conversation({
        client: `10.${k >> 16}.${(k >> 8) & 255}.${k & 255}`, server: "10.200.0.1", clientPort: 40000 + (k % 11), serverPort: 80,
        clientIsn: random() < 0.5 ? 1000 + k : Math.floor(random() * 1e9), serverIsn: 5000 + k, startNs: t, mss: 1460,
      });
      const kind = random();
      if (kind < 0.4) conv.syn().rst("server", { withAck: true });
      else if (kind < 0.8) conv.handshake().data("client", 100).ack("server").close("client");
      else conv.syn().synAck().data("client", 50).rst("client");
      packets.push(...conv.packets());
      t += BigInt(Math.floor(random() * 20_000_000));
    }
    packets.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
    await expectSameBothWays(writePcap(packets, { linkType: LINKTYPE.ETHERNET }), "keys again", { maxFlows: 4096 });
  });

  it("property: frames with damaged or cut headers decode the same both ways", async () => {
    // The one-step decode (assembly/common.ts) must send every frame it does not fully cover to
    // the general path: bits of the link, IP and TCP headers flipped, 16-bit fields set to values
    // that mean something there (VLAN and other ethertypes, IP flags, lengths), frames cut anywhere.
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 77 }), fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 96 })), { minLength: 100, maxLength: 400 }),
      async (seed, damage) => {
        const packets = [...synthPackets({ seed, connections: 60, concurrency: 20, snaplen: 96 })];
        for (const [at, offset, flip, x, cut] of damage) {
          const i = at % packets.length;
          const data = packets[i]!.data.slice();
          if (flip && offset < data.length) data[offset]! ^= 1 << (x % 8);
          if (!flip && offset + 1 < data.length) new DataView(data.buffer).setUint16(offset, TELLING_VALUES[x % TELLING_VALUES.length]!);
          packets[i] = { ...packets[i]!, data: cut < 14 ? data : data.subarray(0, Math.min(cut, data.length)), origLen: packets[i]!.origLen ?? data.length };
        }
        await expectSameBothWays(writePcap(packets, { linkType: LINKTYPE.ETHERNET, snaplen: 96 }), `seed ${seed}`);
      }), { numRuns: PROPERTY_RUNS, seed: 20261205 });
  });
});

/**
 * Ethernet frames (at most one 802.1Q tag) holding a TCP segment whose header is captured whole,
 * right after an IPv4 header or an IPv6 one without extension headers: what the one-step decode
 * covers in an undamaged synthetic capture.
 */
function wholeHeaderSegments(packets: CapturedPacket[]): { v4: number; v6: number } {
  let v4 = 0, v6 = 0;
  for (const { data } of packets) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let type = view.getUint16(12), ip = 14;
    if (type === 0x8100) { type = view.getUint16(16); ip = 18; }
    const whole = (tcp: number) => tcp + 13 < data.length && tcp + ((data[tcp + 12]! >> 4) << 2) <= data.length;
    if (type === 0x0800 && data[ip + 9] === 6) {
      if (whole(ip + ((data[ip]! & 0x0f) << 2))) v4++;
    } else if (type === 0x86dd && data[ip + 6] === 6) {
      if (whole(ip + 40)) v6++;
    }
  }
  return { v4, v6 };
}

/** 16-bit values that mean something in a header: ethertypes, IP flags, small and odd lengths. */
const TELLING_VALUES = [0x8100, 0x88a8, 0x9100, 0x0800, 0x86dd, 0x8847, 0x0000, 0xffff, 0x2000, 0x4000, 0x0001, 0x0014, 0x0028, 0x4500, 0x4600, 0x5000, 0xf000];

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
