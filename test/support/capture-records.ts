// The packet records of a pcap or pcapng capture, walked here independently of synfin (libpcap's
// savefile format; pcapng, draft-ietf-opsawg-pcapng): where each record ends and its time in ns,
// the ground truth that tests measure synfin's output against.

/** A capture's framing: its file header, its packet records, and every block boundary. */
export interface CaptureRecords {
  /** Bytes of the file header: pcap's 24, or pcapng's Section Header Block. */
  headerEnd: number;
  /** End offset of each packet record, in file order. */
  recordEnds: number[];
  /** Timestamp of each packet record (ns since the epoch). */
  recordTimesNs: bigint[];
  /** End offsets of the file header, every packet record and every other pcapng block. */
  boundaries: Set<number>;
}

const PCAP_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAPNG_IDB = 1;
const PCAPNG_PB = 2;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;
const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

export function captureRecords(bytes: Uint8Array): CaptureRecords {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(0, true) === PCAPNG_SHB ? pcapngRecords(view) : pcapRecords(view);
}

function pcapRecords(view: DataView): CaptureRecords {
  const magic = view.getUint32(0, true);
  const swapped = view.getUint32(0, false);
  const littleEndian = magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS;
  if (!littleEndian && swapped !== PCAP_MAGIC_US && swapped !== PCAP_MAGIC_NS) throw new Error(`not a pcap file (magic ${magic.toString(16)})`);
  const nsPerFraction = (littleEndian ? magic : swapped) === PCAP_MAGIC_NS ? 1n : 1000n;
  const result: CaptureRecords = { headerEnd: PCAP_HEADER, recordEnds: [], recordTimesNs: [], boundaries: new Set([PCAP_HEADER]) };
  for (let at = PCAP_HEADER; at + PCAP_RECORD_HEADER <= view.byteLength;) {
    const seconds = BigInt(view.getUint32(at, littleEndian));
    const fraction = BigInt(view.getUint32(at + 4, littleEndian));
    at += PCAP_RECORD_HEADER + view.getUint32(at + 8, littleEndian);
    if (at > view.byteLength) break;
    result.recordEnds.push(at);
    result.recordTimesNs.push(seconds * 1_000_000_000n + fraction * nsPerFraction);
    result.boundaries.add(at);
  }
  return result;
}

interface Interface {
  /** Timestamp units per second and the offset in seconds (if_tsresol, if_tsoffset). */
  unitsPerSecond: bigint;
  offsetSeconds: bigint;
}

function pcapngRecords(view: DataView): CaptureRecords {
  const result: CaptureRecords = { headerEnd: 0, recordEnds: [], recordTimesNs: [], boundaries: new Set() };
  let littleEndian = true;
  let interfaces: Interface[] = [];
  for (let at = 0; at + 12 <= view.byteLength;) {
    if (view.getUint32(at, true) === PCAPNG_SHB) {
      littleEndian = view.getUint32(at + 8, true) === PCAPNG_BYTE_ORDER_MAGIC;
      interfaces = [];
    }
    const type = view.getUint32(at, littleEndian);
    const end = at + view.getUint32(at + 4, littleEndian);
    if (end > view.byteLength) break;
    if (type === PCAPNG_SHB && result.headerEnd === 0) result.headerEnd = end;
    if (type === PCAPNG_IDB) interfaces.push(interfaceOptions(view, at + 16, end - 4, littleEndian));
    if (type === PCAPNG_EPB) {
      const iface = interfaces[view.getUint32(at + 8, littleEndian)];
      if (!iface) throw new Error(`enhanced packet block at ${at} names an undeclared interface`);
      const units = (BigInt(view.getUint32(at + 12, littleEndian)) << 32n) | BigInt(view.getUint32(at + 16, littleEndian));
      result.recordEnds.push(end);
      result.recordTimesNs.push(iface.offsetSeconds * 1_000_000_000n + (units * 1_000_000_000n) / iface.unitsPerSecond);
    }
    if (type === PCAPNG_PB || type === PCAPNG_SPB) throw new Error(`block type ${type} at ${at}: this walker reads enhanced packet blocks only`);
    result.boundaries.add(end);
    at = end;
  }
  return result;
}

function interfaceOptions(view: DataView, from: number, to: number, littleEndian: boolean): Interface {
  const iface: Interface = { unitsPerSecond: 1_000_000n, offsetSeconds: 0n };
  for (let at = from; at + 4 <= to;) {
    const code = view.getUint16(at, littleEndian);
    const length = view.getUint16(at + 2, littleEndian);
    if (code === OPT_END) break;
    if (code === OPT_IF_TSRESOL) {
      const resolution = view.getUint8(at + 4);
      const exponent = BigInt(resolution & 0x7f);
      iface.unitsPerSecond = resolution & 0x80 ? 1n << exponent : 10n ** exponent;
    }
    if (code === OPT_IF_TSOFFSET) iface.offsetSeconds = view.getBigInt64(at + 4, littleEndian);
    at += 4 + ((length + 3) & ~3);
  }
  return iface;
}
