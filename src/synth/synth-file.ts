// Node-only: streams the synthesizer into a libpcap (draft-ietf-opsawg-pcap) or pcapng (draft-ietf-opsawg-pcapng) file of a target size, in buffered chunks.

import { closeSync, openSync, writeSync } from "node:fs";
import { DEFAULT_SNAPLEN, PCAP_RECORD_HEADER_LEN, PCAPNG_BLOCK_EPB, PcapStreamWriter, writePcapng } from "./capture.js";
import { LINKTYPE } from "./packet.js";
import { SynthStream } from "./synth.js";
import type { SynthOptions } from "./synth.js";

const CHUNK_BYTES = 8 * 1024 * 1024;
const NS_PER_SECOND = 1e9;
const U32_RANGE = 0x1_0000_0000;
const EPB_FIXED_LEN = 32; // type, length, interface, timestamp (2 words), caplen, origlen, trailing length
const TSRESOL_NANOS = 9;

export type SynthFileFormat = "pcap" | "pcapng";

/**
 * Streams the synthesizer (the same sequence as synthPackets) and writes records until the next
 * one would push the file past `bytes`, so the file ends on a record boundary (connections in
 * flight stay open, and `onConnection` gets them with `finished: false`). Connections default to
 * unlimited here. pcapng is one little-endian section with one Ethernet interface and an EPB per
 * packet (`if_tsresol` 9 when `nanos`).
 */
export async function writeSynthFile(
  path: string,
  opts: SynthOptions & { bytes: number; format?: SynthFileFormat },
): Promise<{ packets: number; bytes: number }> {
  const framer = (opts.format ?? "pcap") === "pcapng" ? new PcapngFramer(opts) : new PcapFramer(opts);
  if (opts.bytes < framer.header.length) throw new Error(`bytes must be at least the ${framer.header.length}-byte file header`);
  const chunk = new Uint8Array(CHUNK_BYTES);
  const fd = openSync(path, "w");
  let fileBytes = 0;
  let used = 0;
  let packets = 0;
  try {
    chunk.set(framer.header, 0);
    used = framer.header.length;
    const synth = new SynthStream({ ...opts, connections: opts.connections ?? Infinity, reuseBuffers: true });
    const startSecond = Number(synth.startNs / 1_000_000_000n);
    const startFracNs = Number(synth.startNs % 1_000_000_000n);
    let keptAll = true;
    while (synth.nextFrame()) {
      const recordLen = framer.recordLen(synth.data.length);
      if (fileBytes + used + recordLen > opts.bytes) { keptAll = false; break; }
      if (used + recordLen > chunk.length) {
        writeFully(fd, chunk, used);
        fileBytes += used;
        used = 0;
      }
      // SAFE in doubles: relNs stays far below 2^53 ns (104 days) and the split is corrected below.
      const sinceStartSecondNs = startFracNs + synth.relNs;
      let second = Math.floor(sinceStartSecondNs / NS_PER_SECOND);
      let fracNs = sinceStartSecondNs - second * NS_PER_SECOND;
      if (fracNs < 0) { second--; fracNs += NS_PER_SECOND; } else if (fracNs >= NS_PER_SECOND) { second++; fracNs -= NS_PER_SECOND; }
      used = framer.write(chunk, used, startSecond + second, fracNs, synth.data, synth.origLen);
      packets++;
    }
    synth.finish(keptAll);
    writeFully(fd, chunk, used);
    fileBytes += used;
  } finally {
    closeSync(fd);
  }
  return { packets, bytes: fileBytes };
}

/** A container's file header and records, written from a whole second and the nanoseconds within it (no BigInt per packet). */
interface Framer {
  readonly header: Uint8Array;
  recordLen(capLen: number): number;
  write(buf: Uint8Array, at: number, second: number, fracNs: number, data: Uint8Array, origLen: number): number;
}

/** libpcap, little-endian, as PcapStreamWriter writes it. */
class PcapFramer implements Framer {
  readonly header: Uint8Array;
  private readonly nanos: boolean;
  private readonly snaplen: number;

  constructor(opts: { nanos?: boolean; snaplen?: number }) {
    this.nanos = opts.nanos ?? false;
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    this.header = new PcapStreamWriter({ linkType: LINKTYPE.ETHERNET, nanos: this.nanos, snaplen: this.snaplen }).header();
  }

  recordLen(capLen: number): number { return PCAP_RECORD_HEADER_LEN + capLen; }

  write(buf: Uint8Array, at: number, second: number, fracNs: number, data: Uint8Array, origLen: number): number {
    putU32LE(buf, at, second % U32_RANGE);
    putU32LE(buf, at + 4, this.nanos ? fracNs : Math.floor(fracNs / 1000));
    putU32LE(buf, at + 8, data.length);
    putU32LE(buf, at + 12, origLen);
    buf.set(data, at + PCAP_RECORD_HEADER_LEN);
    return at + PCAP_RECORD_HEADER_LEN + data.length;
  }
}

/** pcapng: a section header and one Ethernet interface, then an Enhanced Packet Block per packet. */
class PcapngFramer implements Framer {
  readonly header: Uint8Array;
  private readonly ticksPerSecond: number;
  private readonly nsPerTick: number;
  private cachedSecond = -1; // the timestamp of that second in ticks, split in 32-bit halves
  private secondHigh = 0;
  private secondLow = 0;

  constructor(opts: { nanos?: boolean; snaplen?: number }) {
    const nanos = opts.nanos ?? false;
    this.ticksPerSecond = nanos ? 1e9 : 1e6;
    this.nsPerTick = nanos ? 1 : 1000;
    const iface = { linkType: LINKTYPE.ETHERNET, snaplen: opts.snaplen ?? DEFAULT_SNAPLEN, tsresol: nanos ? TSRESOL_NANOS : undefined };
    this.header = writePcapng([{ interfaces: [iface], packets: [] }]);
  }

  recordLen(capLen: number): number { return EPB_FIXED_LEN + ((capLen + 3) & ~3); }

  write(buf: Uint8Array, at: number, second: number, fracNs: number, data: Uint8Array, origLen: number): number {
    const blockLen = this.recordLen(data.length);
    if (second !== this.cachedSecond) this.cacheSecond(second);
    let low = this.secondLow + Math.floor(fracNs / this.nsPerTick);
    let high = this.secondHigh;
    if (low >= U32_RANGE) { low -= U32_RANGE; high++; }
    putU32LE(buf, at, PCAPNG_BLOCK_EPB);
    putU32LE(buf, at + 4, blockLen);
    putU32LE(buf, at + 8, 0); // interface 0
    putU32LE(buf, at + 12, high);
    putU32LE(buf, at + 16, low);
    putU32LE(buf, at + 20, data.length);
    putU32LE(buf, at + 24, origLen);
    buf.set(data, at + 28);
    const padEnd = at + blockLen - 4;
    for (let i = at + 28 + data.length; i < padEnd; i++) buf[i] = 0; // at most 3 bytes
    putU32LE(buf, padEnd, blockLen);
    return at + blockLen;
  }

  private cacheSecond(second: number): void {
    const ticks = BigInt(second) * BigInt(this.ticksPerSecond);
    this.cachedSecond = second;
    this.secondHigh = Number(ticks >> 32n);
    this.secondLow = Number(ticks & 0xffffffffn);
  }
}

function putU32LE(buf: Uint8Array, at: number, value: number): void {
  buf[at] = value;
  buf[at + 1] = value >>> 8;
  buf[at + 2] = value >>> 16;
  buf[at + 3] = value >>> 24;
}

function writeFully(fd: number, buf: Uint8Array, len: number): void {
  for (let written = 0; written < len; ) written += writeSync(fd, buf, written, len - written);
}
