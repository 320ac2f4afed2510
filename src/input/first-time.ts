// The time of a capture file's first packet, read from its first 1 MiB, for `--sort-by-time`.
// pcap: the first record header. pcapng: the first Enhanced or obsolete Packet Block, scaled by
// its interface's if_tsresol and shifted by if_tsoffset. A file with no timed packet there gives
// null (it sorts after the others).

import { open } from "node:fs/promises";

const HEAD_BYTES = 1 << 20;
const PCAP_MAGICS: ReadonlyMap<number, { ns: boolean; little: boolean }> = new Map([
  [0xa1b2c3d4, { ns: false, little: true }], [0xa1b23c4d, { ns: true, little: true }],
  [0xd4c3b2a1, { ns: false, little: false }], [0x4d3cb2a1, { ns: true, little: false }],
]);
const SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const IDB = 1;
const PB = 2;
const EPB = 6;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

export async function firstPacketNs(path: string): Promise<bigint | null> {
  const fh = await open(path, "r");
  try {
    const buf = new Uint8Array(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return firstPacketIn(new DataView(buf.buffer, 0, bytesRead));
  } finally {
    await fh.close();
  }
}

function firstPacketIn(view: DataView): bigint | null {
  if (view.byteLength < 4) return null;
  const pcap = PCAP_MAGICS.get(view.getUint32(0, true));
  if (pcap) {
    if (view.byteLength < 24 + 16) return null;
    const sec = BigInt(view.getUint32(24, pcap.little));
    const frac = BigInt(view.getUint32(28, pcap.little));
    return sec * 1_000_000_000n + (pcap.ns ? frac : frac * 1000n);
  }
  if (view.getUint32(0, true) !== SHB) return null;
  let little = true;
  const interfaces: Array<{ ticksPerSecond: bigint; offsetNs: bigint }> = [];
  for (let at = 0; at + 12 <= view.byteLength; ) {
    const type = view.getUint32(at, little);
    if (type === SHB) {
      little = view.getUint32(at + 8, true) === BYTE_ORDER_MAGIC;
      interfaces.length = 0;
    }
    const len = view.getUint32(at + 4, little);
    if (len < 12 || at + len > view.byteLength) return null;
    if (type === IDB) interfaces.push(interfaceClock(view, at, len, little));
    if ((type === EPB || type === PB) && len >= 32) {
      const iface = interfaces[type === EPB ? view.getUint32(at + 8, little) : view.getUint16(at + 8, little)];
      if (!iface) return null;
      const ticks = (BigInt(view.getUint32(at + 12, little)) << 32n) | BigInt(view.getUint32(at + 16, little));
      return (ticks * 1_000_000_000n) / iface.ticksPerSecond + iface.offsetNs;
    }
    at += (len + 3) & ~3;
  }
  return null;
}

function interfaceClock(view: DataView, at: number, len: number, little: boolean): { ticksPerSecond: bigint; offsetNs: bigint } {
  let ticksPerSecond = 1_000_000n;
  let offsetNs = 0n;
  for (let o = at + 16; o + 4 <= at + len - 4; ) {
    const code = view.getUint16(o, little);
    const optLen = view.getUint16(o + 2, little);
    if (code === 0) break;
    if (code === IF_TSRESOL && optLen >= 1) {
      const r = view.getUint8(o + 4);
      ticksPerSecond = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
    }
    if (code === IF_TSOFFSET && optLen >= 8) offsetNs = view.getBigInt64(o + 4, little) * 1_000_000_000n;
    o += 4 + ((optLen + 3) & ~3);
  }
  return { ticksPerSecond, offsetNs };
}

/** The paths in order of their first packet's time (stable; files without one go last). */
export async function sortByFirstPacket(paths: readonly string[]): Promise<string[]> {
  const times = await Promise.all(paths.map(firstPacketNs));
  return paths
    .map((path, i) => ({ path, i, t: times[i] ?? null }))
    .sort((a, b) => (a.t === null ? (b.t === null ? a.i - b.i : 1) : b.t === null ? -1 : a.t < b.t ? -1 : a.t > b.t ? 1 : a.i - b.i))
    .map((e) => e.path);
}
