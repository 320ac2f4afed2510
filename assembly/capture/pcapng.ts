// pcapng framing (draft-ietf-opsawg-pcapng): SHB (byte order per section), IDB (link type,
// snaplen, if_tsresol, if_tsoffset), EPB, SPB, the obsolete PB; every other block is skipped by
// its length. The trailing block length is checked on every block.

import { ErrorCode, Stat, Status } from "../../src/core/abi";
import { rd16, rd32, rd64, setSwapped, swapped } from "./bytes";
import { count, fail } from "../stats";
import { countOneStepBlock } from "../flow/path";

export const BT_SHB: u32 = 0x0a0d0d0a;
const BT_IDB: u32 = 0x00000001;
const BT_PB: u32 = 0x00000002;
const BT_SPB: u32 = 0x00000003;
const BT_EPB: u32 = 0x00000006;
const BT_SJE: u32 = 0x00000009;
const BT_DSB: u32 = 0x0000000a;
const BT_CB: u32 = 0x00000bad;
const BT_CB_NO_COPY: u32 = 0x40000bad;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b3c4d;

const BLOCK_HEADER_LEN: u32 = 8;
const BLOCK_MIN_LEN: u32 = 12;
const SHB_MIN_LEN: u32 = 28;
const IDB_MIN_LEN: u32 = 20;
/** EPB and PB: 28 bytes of header and fields, the trailing length. */
const EPB_MIN_LEN: u32 = 32;
const SPB_MIN_LEN: u32 = 16;
/** Longer blocks are taken as damage rather than waited for. */
export const MAX_BLOCK_LEN: u32 = 64 << 20;
/** After damage, only blocks up to this length are candidates (a 64 MiB wait per guess is too much). */
const RESYNC_MAX_BLOCK_LEN: u32 = 1 << 20;

const OPT_ENDOFOPT: u32 = 0;
const OPT_IF_TSRESOL: u32 = 9;
const OPT_IF_TSOFFSET: u32 = 14;

// One interface record: link type, snaplen, timestamp scaling (see tsToNs), offset in ns.
const IF_LINKTYPE: usize = 0;
const IF_SNAPLEN: usize = 4;
const IF_TS_MODE: usize = 8;   // u32: 0 multiply by factor, 1 divide by factor, 2 binary fraction
const IF_TS_SHIFT: usize = 12; // u32: for mode 2, the power of two
const IF_TS_FACTOR: usize = 16; // u64
const IF_TS_OFFSET_NS: usize = 24; // i64
const IF_SIZE: usize = 32;

const TS_MUL: u32 = 0;
const TS_DIV: u32 = 1;
const TS_BIN: u32 = 2;

let interfaces: usize = 0;
let interfaceCap: u32 = 0;
let interfaceCount: u32 = 0;

/** A parsed packet block, valid after parsePacketBlock returned true. */
export let pktTsNs: i64 = 0;
export let pktCapLen: u32 = 0;
export let pktOrigLen: u32 = 0;
export let pktLinkType: u32 = 0;
export let pktInterface: u32 = 0;
export let pktData: usize = 0;
let lastTsNs: i64 = 0;

export function resetPcapng(): void {
  interfaceCount = 0;
  lastTsNs = 0;
}

/** The length field of the block last measured by `blockLength`. */
let declaredLen: u32 = 0;

/**
 * Bytes the block at `p` spans, given its first 12 bytes. For an SHB this also decides the byte
 * order of the section. Early writers (ntar) put the unpadded length in both length fields of a
 * block whose body is padded to 32 bits, as Wireshark still reads; so the span is the length
 * rounded up to 4. Returns 0 (and sets the error) when the header is impossible.
 */
export function blockLength(p: usize, offset: u64): u32 {
  if (load<u32>(p) == BT_SHB) {
    const bom = load<u32>(p + BLOCK_HEADER_LEN);
    if (bom == BYTE_ORDER_MAGIC) setSwapped(false);
    else if (bom == bswap<u32>(BYTE_ORDER_MAGIC)) setSwapped(true);
    else { fail(ErrorCode.BadSectionHeader, offset); return 0; }
  }
  const len = rd32(p + 4);
  if (len < BLOCK_MIN_LEN || len > MAX_BLOCK_LEN) {
    fail(ErrorCode.BadBlockLength, offset);
    return 0;
  }
  declaredLen = len;
  return (len + 3) & ~3;
}

/** Whether the block at `p` (whole, `len` bytes) is a packet-carrying block. */
export function isPacketBlock(p: usize): bool {
  const type = rd32(p);
  return type == BT_EPB || type == BT_SPB || type == BT_PB;
}

export const CANDIDATE_NO: i32 = 0;
export const CANDIDATE_YES: i32 = 1;
export const CANDIDATE_NEED_MORE: i32 = -1;

/**
 * Whether a block that reading can resume at starts at `p` (`avail` bytes present), after damage:
 * a known block type in the section's byte order (or an SHB, which brings its own), a possible
 * length repeated in the trailer, and for packet blocks a declared interface and fields that fit.
 * With `sectionOnly`, only an SHB will do (the damaged section is skipped whole).
 */
export function resyncCandidate(p: usize, avail: u32, sectionOnly: bool): i32 {
  if (avail < BLOCK_MIN_LEN) return CANDIDATE_NEED_MORE;
  const sectionSwapped = swapped;
  const isSection = load<u32>(p) == BT_SHB;
  if (isSection) {
    const bom = load<u32>(p + BLOCK_HEADER_LEN);
    if (bom == BYTE_ORDER_MAGIC) setSwapped(false);
    else if (bom == bswap<u32>(BYTE_ORDER_MAGIC)) setSwapped(true);
    else return CANDIDATE_NO;
  } else if (sectionOnly || !knownBlockType(rd32(p))) {
    return CANDIDATE_NO;
  }
  const verdict = candidateBody(p, avail, isSection);
  setSwapped(sectionSwapped);
  return verdict;
}

/** IDB, PB, SPB, NRB, ISB, EPB (1 to 6), SJE, DSB and the two custom block types. */
function knownBlockType(type: u32): bool {
  return (type >= BT_IDB && type <= BT_EPB) || type == BT_SJE || type == BT_DSB || type == BT_CB || type == BT_CB_NO_COPY;
}

function candidateBody(p: usize, avail: u32, isSection: bool): i32 {
  const len = rd32(p + 4);
  if (len < BLOCK_MIN_LEN || (len & 3) != 0 || len > RESYNC_MAX_BLOCK_LEN) return CANDIDATE_NO;
  if (avail < len) return CANDIDATE_NEED_MORE;
  if (rd32(p + len - 4) != len) return CANDIDATE_NO;
  if (isSection) return len >= SHB_MIN_LEN && rd16(p + 12) == 1 ? CANDIDATE_YES : CANDIDATE_NO;
  const type = rd32(p);
  if (type == BT_EPB || type == BT_PB) {
    if (len < EPB_MIN_LEN || <u64>rd32(p + 20) + EPB_MIN_LEN > <u64>len) return CANDIDATE_NO;
    if ((type == BT_EPB ? rd32(p + 8) : rd16(p + 8)) >= interfaceCount) return CANDIDATE_NO;
  }
  if (type == BT_SPB && interfaceCount == 0) return CANDIDATE_NO;
  if (type == BT_IDB && len < IDB_MIN_LEN) return CANDIDATE_NO;
  return CANDIDATE_YES;
}

/**
 * Handles a whole non-packet or packet block of `len` bytes at `p`. Returns NeedMore when the
 * block was taken (for packet blocks: pkt* fields set, and `hasPacket` true), Error otherwise.
 */
export let hasPacket: bool = false;

export function parseBlock(p: usize, len: u32, offset: u64): Status {
  hasPacket = false;
  // SAFE: the caller checked that `len` bytes (the span from blockLength) are present, len >= 12.
  if (rd32(p + len - 4) != declaredLen) return fail(ErrorCode.BlockLengthMismatch, offset);
  const type = rd32(p);
  if (type == BT_SHB) return parseSectionHeader(p, len, offset);
  if (type == BT_IDB) return parseInterfaceDescription(p, len);
  if (type == BT_EPB) return parseTimestampedPacketBlock(p, len, false);
  if (type == BT_SPB) return parseSimplePacketBlock(p, len);
  if (type == BT_PB) return parseTimestampedPacketBlock(p, len, true);
  count(Stat.SkippedBlocks);
  return Status.NeedMore;
}

function parseSectionHeader(p: usize, len: u32, offset: u64): Status {
  if (len < SHB_MIN_LEN || rd16(p + 12) != 1) return fail(ErrorCode.BadSectionHeader, offset);
  interfaceCount = 0;
  count(Stat.Sections);
  return Status.NeedMore;
}

/** Link type of an interface whose IDB is too short to say: its packets count as unsupported. */
const UNKNOWN_LINK_TYPE: u32 = 0xffffffff;

function parseInterfaceDescription(p: usize, len: u32): Status {
  const rec = addInterface();
  if (len < IDB_MIN_LEN) {
    // Keep the interface numbering of the blocks that follow.
    store<u32>(rec + IF_LINKTYPE, UNKNOWN_LINK_TYPE);
    store<u32>(rec + IF_SNAPLEN, 0);
    setTsResolution(rec, 6);
    store<i64>(rec + IF_TS_OFFSET_NS, 0);
    return Status.NeedMore;
  }
  store<u32>(rec + IF_LINKTYPE, rd16(p + 8));
  store<u32>(rec + IF_SNAPLEN, rd32(p + 12));
  setTsResolution(rec, 6);
  store<i64>(rec + IF_TS_OFFSET_NS, 0);
  // Options: code, length, value padded to 32 bits, up to the trailing length.
  let o = p + 16;
  const end = p + len - 4;
  while (o + 4 <= end) {
    const code = rd16(o);
    const optLen = rd16(o + 2);
    const value = o + 4;
    if (code == OPT_ENDOFOPT || value + optLen > end) break;
    if (code == OPT_IF_TSRESOL && optLen >= 1) setTsResolution(rec, load<u8>(value));
    // if_tsoffset: one signed 64-bit count of seconds, in the section's byte order.
    if (code == OPT_IF_TSOFFSET && optLen >= 8) store<i64>(rec + IF_TS_OFFSET_NS, <i64>rd64(value) * 1_000_000_000);
    o = value + ((optLen + 3) & ~3);
  }
  return Status.NeedMore;
}

function addInterface(): usize {
  if (interfaceCount == interfaceCap) {
    const cap = interfaceCap == 0 ? 8 : interfaceCap * 2;
    interfaces = interfaces == 0 ? heap.alloc(<usize>cap * IF_SIZE) : heap.realloc(interfaces, <usize>cap * IF_SIZE);
    interfaceCap = cap;
  }
  return interfaces + <usize>(interfaceCount++) * IF_SIZE;
}

/** if_tsresol: MSB clear = 10^-n s, MSB set = 2^-n s. Precomputes the scaling to ns. */
function setTsResolution(rec: usize, resol: u8): void {
  const n = <u32>(resol & 0x7f);
  if ((resol & 0x80) != 0) {
    store<u32>(rec + IF_TS_MODE, TS_BIN);
    store<u32>(rec + IF_TS_SHIFT, n > 63 ? 63 : n);
    store<u64>(rec + IF_TS_FACTOR, 0);
  } else if (n <= 9) {
    store<u32>(rec + IF_TS_MODE, TS_MUL);
    store<u64>(rec + IF_TS_FACTOR, pow10(9 - n));
  } else {
    store<u32>(rec + IF_TS_MODE, TS_DIV);
    store<u64>(rec + IF_TS_FACTOR, pow10(n > 19 ? 10 : n - 9));
  }
}

function pow10(n: u32): u64 {
  let v: u64 = 1;
  for (let i: u32 = 0; i < n; i++) v *= 10;
  return v;
}

function tsToNs(rec: usize, ts: u64): i64 {
  const mode = load<u32>(rec + IF_TS_MODE);
  let ns: u64;
  if (mode == TS_MUL) ns = ts * load<u64>(rec + IF_TS_FACTOR);
  else if (mode == TS_DIV) ns = ts / load<u64>(rec + IF_TS_FACTOR);
  else {
    const shift = <u64>load<u32>(rec + IF_TS_SHIFT);
    const whole = ts >> shift;
    const frac = ts & ((<u64>1 << shift) - 1);
    // frac < 2^shift; scale in f64 when frac * 1e9 could overflow 64 bits.
    const fracNs = shift <= 34 ? (frac * 1_000_000_000) >> shift : <u64>(<f64>frac / Math.pow(2, <f64>shift) * 1e9);
    ns = whole * 1_000_000_000 + fracNs;
  }
  return <i64>ns + load<i64>(rec + IF_TS_OFFSET_NS);
}

function interfaceRecord(id: u32): usize {
  return id < interfaceCount ? interfaces + <usize>id * IF_SIZE : 0;
}

/** A packet block naming an unknown interface: counted, not fatal (the block is well formed). */
export let unknownInterface: bool = false;

function setPacket(rec: usize, tsNs: i64, capLen: u32, origLen: u32, iface: u32, data: usize): void {
  pktTsNs = tsNs;
  pktCapLen = capLen;
  pktOrigLen = origLen;
  pktLinkType = load<u32>(rec + IF_LINKTYPE);
  pktInterface = iface;
  pktData = data;
  lastTsNs = tsNs;
  hasPacket = true;
}

/**
 * EPB and the obsolete PB share a layout after the block header: interface id (EPB 32 bits; PB 16
 * bits and a drop count), timestamp high and low words, captured and original length, data.
 */
function parseTimestampedPacketBlock(p: usize, len: u32, obsolete: bool): Status {
  if (len < EPB_MIN_LEN || <u64>rd32(p + 20) + EPB_MIN_LEN > <u64>len) return badRecord();
  const iface = obsolete ? rd16(p + 8) : rd32(p + 8);
  const ts = (<u64>rd32(p + 12) << 32) | <u64>rd32(p + 16);
  return packetOn(iface, ts, true, rd32(p + 20), rd32(p + 24), p + 28);
}

/**
 * The common block in one step: an Enhanced Packet Block of a little-endian section (wasm's own
 * order) wholly within the `avail` bytes at `p` (at least PCAPNG_BLOCK_PEEK), whose two length
 * fields agree and hold its packet, on a declared interface whose timestamps are in units of
 * 10^-n s, n ≤ 9. Sets pkt* as parseBlock would and returns the block's span; for any other
 * block returns 0 having changed nothing, and the block takes blockLength and parseBlock. Most
 * blocks of most pcapng files are this: the general path reaches them through four calls, a
 * dispatch on the block type and one on the resolution.
 */
@inline export function commonPacketBlock(p: usize, avail: u32): u32 {
  // SAFE: the first 12 bytes are present (the caller's loop), the rest once `span <= avail`.
  if (swapped || load<u32>(p) != BT_EPB) return 0;
  // blockLength's, parseBlock's and parseTimestampedPacketBlock's tests, on the same lengths.
  const len = load<u32>(p + 4);
  // (One test each: these never fail in a sound file, and a chain of || makes and tests booleans.)
  if (len < BLOCK_MIN_LEN) return 0;
  if (len > MAX_BLOCK_LEN) return 0;
  const span = (len + 3) & ~3;
  if (span > avail) return 0;
  if (span < EPB_MIN_LEN) return 0;
  if (load<u32>(p + span - 4) != len) return 0;
  const capLen = load<u32>(p + 20);
  if (<u64>capLen + EPB_MIN_LEN > <u64>span) return 0;
  const iface = load<u32>(p + 8);
  if (iface >= interfaceCount) return 0;
  const rec = interfaces + <usize>iface * IF_SIZE;
  if (load<u32>(rec + IF_TS_MODE) != TS_MUL) return 0;
  const ts = (<u64>load<u32>(p + 12) << 32) | <u64>load<u32>(p + 16);
  // tsToNs's TS_MUL case.
  const tsNs = <i64>(ts * load<u64>(rec + IF_TS_FACTOR)) + load<i64>(rec + IF_TS_OFFSET_NS);
  setPacket(rec, tsNs, capLen, load<u32>(p + 24), iface, p + 28);
  countOneStepBlock();
  return span;
}

/** A well-framed packet block whose fields do not fit inside it: one record, skipped. */
function badRecord(): Status {
  count(Stat.Records);
  count(Stat.BadRecord);
  return Status.NeedMore;
}

/** SPB: interface 0, no timestamp (the previous packet's is kept), caplen from the snaplen. */
function parseSimplePacketBlock(p: usize, len: u32): Status {
  if (len < SPB_MIN_LEN) return badRecord();
  const origLen = rd32(p + 8);
  let capLen = len - SPB_MIN_LEN;
  if (origLen < capLen) capLen = origLen;
  const rec = interfaceRecord(0);
  if (rec != 0) {
    const snaplen = load<u32>(rec + IF_SNAPLEN);
    if (snaplen != 0 && snaplen < capLen) capLen = snaplen;
  }
  return packetOn(0, 0, false, capLen, origLen, p + 12);
}

function packetOn(iface: u32, ts: u64, hasTs: bool, capLen: u32, origLen: u32, data: usize): Status {
  const rec = interfaceRecord(iface);
  unknownInterface = rec == 0;
  if (unknownInterface) { hasPacket = true; return Status.NeedMore; }
  setPacket(rec, hasTs ? tsToNs(rec, ts) : lastTsNs, capLen, origLen, iface, data);
  return Status.NeedMore;
}
