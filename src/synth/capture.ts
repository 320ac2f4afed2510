// Capture file writers: libpcap format (draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng), both byte orders.

export interface CapturedPacket { tsNs: bigint; data: Uint8Array; origLen?: number; interfaceId?: number }

export interface PcapOptions { linkType: number; nanos?: boolean; bigEndian?: boolean; snaplen?: number }

export interface PcapngInterface { linkType: number; snaplen?: number; tsresol?: number; tsoffsetSec?: number }

export interface PcapngSection {
  bigEndian?: boolean;
  interfaces: PcapngInterface[];
  packets: Iterable<CapturedPacket>;
  block?: "epb" | "spb" | "pb";
  extraBlocks?: boolean;
}

export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const PCAP_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
export const DEFAULT_SNAPLEN = 262144;

export const PCAPNG_BLOCK_SHB = 0x0a0d0d0a;
export const PCAPNG_BLOCK_IDB = 0x00000001;
export const PCAPNG_BLOCK_PB = 0x00000002;
export const PCAPNG_BLOCK_SPB = 0x00000003;
export const PCAPNG_BLOCK_NRB = 0x00000004;
export const PCAPNG_BLOCK_ISB = 0x00000005;
export const PCAPNG_BLOCK_EPB = 0x00000006;
export const PCAPNG_BLOCK_DSB = 0x0000000a;
export const PCAPNG_BLOCK_CUSTOM = 0x00000bad;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const PCAPNG_VERSION_MAJOR = 1;
const PCAPNG_VERSION_MINOR = 0;
const OPT_ENDOFOPT = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
const ISB_IFRECV = 4;
const ISB_IFDROP = 5;
const NRB_RECORD_END = 0;
const NRB_RECORD_IPV4 = 1;
const TSRESOL_BASE2_FLAG = 0x80;
const TSRESOL_DEFAULT = 6;
const DSB_SECRETS_TLS_KEY_LOG = 0x544c534b;
const CUSTOM_BLOCK_PEN = 32473; // IANA "example" enterprise number (RFC 5612)

const NS_PER_SEC = 1_000_000_000n;
const U32_RANGE = 0x1_0000_0000n;

// ---- pcap -------------------------------------------------------------------------------

/**
 * Writes pcap records one at a time; `writeRecordInto` fills a caller-provided buffer so large
 * files need no per-packet allocation. Packets longer than snaplen are cut (caplen = min(len, snaplen)).
 */
export class PcapStreamWriter {
  readonly snaplen: number;
  private readonly littleEndian: boolean;
  private readonly nanos: boolean;
  private readonly linkType: number;
  private view: DataView | null = null;
  private viewTarget: Uint8Array | null = null;
  private secondStartNs = -1n; // cache: the whole second of the previous timestamp
  private second = 0;

  constructor(opts: PcapOptions) {
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    this.littleEndian = !(opts.bigEndian ?? false);
    this.nanos = opts.nanos ?? false;
    this.linkType = opts.linkType;
  }

  header(): Uint8Array {
    const out = new Uint8Array(PCAP_HEADER_LEN);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.nanos ? PCAP_MAGIC_NANOS : PCAP_MAGIC_MICROS, this.littleEndian);
    view.setUint16(4, PCAP_VERSION_MAJOR, this.littleEndian);
    view.setUint16(6, PCAP_VERSION_MINOR, this.littleEndian);
    view.setUint32(16, this.snaplen, this.littleEndian); // thiszone and sigfigs stay 0
    view.setUint32(20, this.linkType, this.littleEndian);
    return out;
  }

  /** Bytes `writeRecordInto` will use for a packet of dataLen captured bytes. */
  recordLen(dataLen: number): number {
    return PCAP_RECORD_HEADER_LEN + Math.min(dataLen, this.snaplen);
  }

  packet(tsNs: bigint, data: Uint8Array, origLen?: number): Uint8Array {
    const out = new Uint8Array(this.recordLen(data.length));
    this.writeRecordInto(out, 0, tsNs, data, origLen);
    return out;
  }

  /** Writes record header + caplen bytes at offset and returns the offset after it. */
  writeRecordInto(buf: Uint8Array, offset: number, tsNs: bigint, data: Uint8Array, origLen?: number): number {
    const capLen = Math.min(data.length, this.snaplen);
    const view = this.viewOf(buf);
    const fracNs = this.splitTimestamp(tsNs);
    view.setUint32(offset, this.second, this.littleEndian);
    view.setUint32(offset + 4, this.nanos ? fracNs : Math.floor(fracNs / 1000), this.littleEndian);
    view.setUint32(offset + 8, capLen, this.littleEndian);
    view.setUint32(offset + 12, origLen ?? data.length, this.littleEndian);
    buf.set(capLen === data.length ? data : data.subarray(0, capLen), offset + PCAP_RECORD_HEADER_LEN);
    return offset + PCAP_RECORD_HEADER_LEN + capLen;
  }

  /** Sets this.second and returns the nanoseconds within it; avoids BigInt division within the same second. */
  private splitTimestamp(tsNs: bigint): number {
    if (tsNs >= this.secondStartNs && this.secondStartNs >= 0n) {
      const withinNs = Number(tsNs - this.secondStartNs);
      if (withinNs < 1e9) return withinNs;
    }
    const seconds = tsNs / NS_PER_SEC;
    this.secondStartNs = seconds * NS_PER_SEC;
    this.second = Number(seconds % U32_RANGE);
    return Number(tsNs - this.secondStartNs);
  }

  private viewOf(buf: Uint8Array): DataView {
    if (this.view !== null && this.viewTarget === buf) return this.view;
    this.viewTarget = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    return this.view;
  }
}

export function writePcap(packets: Iterable<CapturedPacket>, opts: PcapOptions): Uint8Array {
  const list = Array.isArray(packets) ? (packets as CapturedPacket[]) : Array.from(packets);
  const writer = new PcapStreamWriter(opts);
  const totalLen = list.reduce((sum, p) => sum + writer.recordLen(p.data.length), PCAP_HEADER_LEN);
  const out = new Uint8Array(totalLen);
  out.set(writer.header(), 0);
  let offset = PCAP_HEADER_LEN;
  for (const p of list) offset = writer.writeRecordInto(out, offset, p.tsNs, p.data, p.origLen);
  return out;
}

// ---- pcapng -----------------------------------------------------------------------------

/** A growable output buffer whose integer writes use the current section's byte order. */
class BlockSink {
  private bytes = new Uint8Array(4096);
  private view = new DataView(this.bytes.buffer);
  length = 0;
  littleEndian = true;

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u16(value: number): void { this.reserve(2); this.view.setUint16(this.length, value, this.littleEndian); this.length += 2; }
  u32(value: number): void { this.reserve(4); this.view.setUint32(this.length, value >>> 0, this.littleEndian); this.length += 4; }
  i64(value: bigint): void { this.reserve(8); this.view.setBigInt64(this.length, value, this.littleEndian); this.length += 8; }
  u64(value: bigint): void { this.reserve(8); this.view.setBigUint64(this.length, value, this.littleEndian); this.length += 8; }
  patchU32(at: number, value: number): void { this.view.setUint32(at, value, this.littleEndian); }

  data(bytes: Uint8Array): void {
    this.reserve(bytes.length + 3);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
    this.padTo32();
  }

  padTo32(): void {
    const padding = (4 - (this.length & 3)) & 3;
    this.reserve(padding);
    this.bytes.fill(0, this.length, this.length + padding);
    this.length += padding;
  }

  /** Writes the block type and a placeholder length; returns the block start for `endBlock`. */
  beginBlock(type: number): number {
    const start = this.length;
    this.u32(type);
    this.u32(0);
    return start;
  }

  /** Pads, appends the trailing block total length and patches the leading one. */
  endBlock(start: number): void {
    this.padTo32();
    const totalLen = this.length - start + 4;
    this.u32(totalLen);
    this.patchU32(start + 4, totalLen);
  }

  result(): Uint8Array { return this.bytes.slice(0, this.length); }
}

/** Converts an absolute timestamp to if_tsresol units, relative to if_tsoffset. */
export function pcapngTicks(tsNs: bigint, iface: PcapngInterface): bigint {
  const relNs = tsNs - BigInt(iface.tsoffsetSec ?? 0) * NS_PER_SEC;
  const resol = iface.tsresol ?? TSRESOL_DEFAULT;
  if (resol & TSRESOL_BASE2_FLAG) return (relNs << BigInt(resol & 0x7f)) / NS_PER_SEC;
  if (resol <= 9) return relNs / 10n ** BigInt(9 - resol);
  return relNs * 10n ** BigInt(resol - 9);
}

export function writePcapng(sections: PcapngSection[]): Uint8Array {
  const sink = new BlockSink();
  for (const section of sections) writeSection(sink, section);
  return sink.result();
}

function writeSection(sink: BlockSink, section: PcapngSection): void {
  sink.littleEndian = !(section.bigEndian ?? false);
  writeSectionHeader(sink);
  section.interfaces.forEach((iface) => writeInterfaceDescription(sink, iface));
  const extras = section.extraBlocks ? pendingExtraBlocks(section) : [];
  if (extras.length > 0) extras.shift()!(sink); // name resolution right after the interfaces
  const block = section.block ?? "epb";
  for (const packet of section.packets) {
    const iface = section.interfaces[block === "spb" ? 0 : (packet.interfaceId ?? 0)];
    if (!iface) throw new Error(`packet refers to missing interface ${packet.interfaceId}`);
    if (block === "epb") writeEnhancedPacket(sink, packet, iface);
    else if (block === "spb") writeSimplePacket(sink, packet, iface);
    else writeObsoletePacket(sink, packet, iface);
    if (extras.length > 1) extras.shift()!(sink); // the statistics block waits for the end
  }
  for (const writeExtra of extras) writeExtra(sink);
}

function pendingExtraBlocks(section: PcapngSection): Array<(sink: BlockSink) => void> {
  return [
    writeNameResolution,
    writeCustomBlock,
    writeDecryptionSecrets,
    (sink) => section.interfaces.forEach((_, id) => writeInterfaceStatistics(sink, id)),
  ];
}

function writeSectionHeader(sink: BlockSink): void {
  const start = sink.beginBlock(PCAPNG_BLOCK_SHB);
  sink.u32(PCAPNG_BYTE_ORDER_MAGIC);
  sink.u16(PCAPNG_VERSION_MAJOR);
  sink.u16(PCAPNG_VERSION_MINOR);
  sink.i64(-1n); // section length not specified
  sink.endBlock(start);
}

function writeInterfaceDescription(sink: BlockSink, iface: PcapngInterface): void {
  const start = sink.beginBlock(PCAPNG_BLOCK_IDB);
  sink.u16(iface.linkType);
  sink.u16(0); // reserved
  sink.u32(iface.snaplen ?? DEFAULT_SNAPLEN);
  if (iface.tsresol !== undefined) {
    sink.u16(IF_TSRESOL); sink.u16(1); sink.data(Uint8Array.of(iface.tsresol));
  }
  if (iface.tsoffsetSec !== undefined) {
    sink.u16(IF_TSOFFSET); sink.u16(8); sink.i64(BigInt(iface.tsoffsetSec));
  }
  if (iface.tsresol !== undefined || iface.tsoffsetSec !== undefined) {
    sink.u16(OPT_ENDOFOPT); sink.u16(0);
  }
  sink.endBlock(start);
}

function capturedBytes(packet: CapturedPacket, iface: PcapngInterface): Uint8Array {
  const snaplen = iface.snaplen ?? DEFAULT_SNAPLEN;
  return snaplen > 0 && packet.data.length > snaplen ? packet.data.subarray(0, snaplen) : packet.data;
}

function writeTicks(sink: BlockSink, ticks: bigint): void {
  const unsigned = BigInt.asUintN(64, ticks);
  sink.u32(Number(unsigned >> 32n));
  sink.u32(Number(unsigned & 0xffffffffn));
}

function writeEnhancedPacket(sink: BlockSink, packet: CapturedPacket, iface: PcapngInterface): void {
  const data = capturedBytes(packet, iface);
  const start = sink.beginBlock(PCAPNG_BLOCK_EPB);
  sink.u32(packet.interfaceId ?? 0);
  writeTicks(sink, pcapngTicks(packet.tsNs, iface));
  sink.u32(data.length);
  sink.u32(packet.origLen ?? packet.data.length);
  sink.data(data);
  sink.endBlock(start);
}

/** SPB: interface 0, no timestamp; readers take caplen = min(origLen, snaplen) and the block holds that much. */
function writeSimplePacket(sink: BlockSink, packet: CapturedPacket, iface: PcapngInterface): void {
  const start = sink.beginBlock(PCAPNG_BLOCK_SPB);
  sink.u32(packet.origLen ?? packet.data.length);
  sink.data(capturedBytes(packet, iface));
  sink.endBlock(start);
}

/** The obsolete Packet Block: 16-bit interface id and drops count. */
function writeObsoletePacket(sink: BlockSink, packet: CapturedPacket, iface: PcapngInterface): void {
  const data = capturedBytes(packet, iface);
  const start = sink.beginBlock(PCAPNG_BLOCK_PB);
  sink.u16(packet.interfaceId ?? 0);
  sink.u16(0); // drops count
  writeTicks(sink, pcapngTicks(packet.tsNs, iface));
  sink.u32(data.length);
  sink.u32(packet.origLen ?? packet.data.length);
  sink.data(data);
  sink.endBlock(start);
}

function writeNameResolution(sink: BlockSink): void {
  const start = sink.beginBlock(PCAPNG_BLOCK_NRB);
  const name = new TextEncoder().encode("server.example\0");
  sink.u16(NRB_RECORD_IPV4);
  sink.u16(4 + name.length);
  sink.data(new Uint8Array([10, 0, 0, 2, ...name]));
  sink.u16(NRB_RECORD_END);
  sink.u16(0);
  sink.endBlock(start);
}

function writeInterfaceStatistics(sink: BlockSink, interfaceId: number): void {
  const start = sink.beginBlock(PCAPNG_BLOCK_ISB);
  sink.u32(interfaceId);
  writeTicks(sink, 0n);
  sink.u16(ISB_IFRECV); sink.u16(8); sink.u64(0n);
  sink.u16(ISB_IFDROP); sink.u16(8); sink.u64(0n);
  sink.u16(OPT_ENDOFOPT); sink.u16(0);
  sink.endBlock(start);
}

function writeCustomBlock(sink: BlockSink): void {
  const start = sink.beginBlock(PCAPNG_BLOCK_CUSTOM);
  sink.u32(CUSTOM_BLOCK_PEN);
  sink.data(Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x01));
  sink.endBlock(start);
}

function writeDecryptionSecrets(sink: BlockSink): void {
  const secrets = new TextEncoder().encode("CLIENT_RANDOM 00 00\n");
  const start = sink.beginBlock(PCAPNG_BLOCK_DSB);
  sink.u32(DSB_SECRETS_TLS_KEY_LOG);
  sink.u32(secrets.length);
  sink.data(secrets);
  sink.endBlock(start);
}
