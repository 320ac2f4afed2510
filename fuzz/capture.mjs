// Capture files as lists of records, so that mutations can change a packet and keep the framing
// consistent: libpcap (draft-ietf-opsawg-pcap) records and pcapng (draft-ietf-opsawg-pcapng)
// blocks, written back with every captured length and block length fixed up. Bytes after the last
// whole record or block are kept as an opaque tail.

const PCAP_HEADER_LEN = 24;
const PCAP_RECORD_HEADER_LEN = 16;
const PCAP_LINKTYPE = 20;
const SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const IDB = 1;
const PB = 2;
const SPB = 3;
const EPB = 6;
const BLOCK_OVERHEAD = 12;
/** Larger records are left in the tail (the core refuses them anyway). */
const MAX_RECORD = 1 << 20;

const u32 = (b, at, le) => (le ? (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) : ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3])) >>> 0;
const pad4 = (n) => (n + 3) & ~3;

/** pcap magic → little endian? (undefined: not pcap). */
function pcapByteOrder(b) {
  if (b.length < 4) return undefined;
  const be = u32(b, 0, false);
  if (be === 0xa1b2c3d4 || be === 0xa1b23c4d) return false;
  if (be === 0xd4c3b2a1 || be === 0x4d3cb2a1) return true;
  return undefined;
}

/**
 * Splits a capture into items (views into `bytes`: replace their arrays, never write into them): pcap { ts, origLen, data } records, or pcapng blocks { type, le,
 * body } where packet blocks (EPB, PB, SPB) also have { pre, data, origLen, post }. Null when the
 * bytes start with neither format.
 */
export function parseCapture(bytes) {
  const le = pcapByteOrder(bytes);
  if (le !== undefined && bytes.length >= PCAP_HEADER_LEN) return parsePcap(bytes, le);
  if (bytes.length >= BLOCK_OVERHEAD + 4 && u32(bytes, 0, true) === SHB) return parsePcapng(bytes);
  return null;
}

function parsePcap(bytes, le) {
  const items = [];
  let pos = PCAP_HEADER_LEN;
  while (pos + PCAP_RECORD_HEADER_LEN <= bytes.length) {
    const capLen = u32(bytes, pos + 8, le);
    if (capLen > MAX_RECORD || pos + PCAP_RECORD_HEADER_LEN + capLen > bytes.length) break;
    const start = pos + PCAP_RECORD_HEADER_LEN;
    items.push({ ts: bytes.subarray(pos, pos + 8), origLen: u32(bytes, pos + 12, le), data: bytes.subarray(start, start + capLen) });
    pos = start + capLen;
  }
  return { format: "pcap", le, header: bytes.subarray(0, PCAP_HEADER_LEN), items, tail: bytes.subarray(pos) };
}

function parsePcapng(bytes) {
  const items = [];
  let pos = 0;
  let le = true;
  while (pos + BLOCK_OVERHEAD <= bytes.length) {
    const type = u32(bytes, pos, le);
    if (type === SHB) {
      if (pos + BLOCK_OVERHEAD + 4 > bytes.length) break;
      const magic = u32(bytes, pos + 8, true);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (magic === 0x4d3c2b1a) le = false;
      else break;
    }
    const len = u32(bytes, pos + 4, le);
    if (len < BLOCK_OVERHEAD || len % 4 !== 0 || len > MAX_RECORD || pos + len > bytes.length) break;
    items.push(packetView({ type, le, body: bytes.subarray(pos + 8, pos + len - 4) }));
    pos += len;
  }
  return { format: "pcapng", items, tail: bytes.subarray(pos) };
}

/** Adds pre/data/origLen/post to a packet block whose captured length fits its body. */
function packetView(block) {
  const { type, le, body } = block;
  if (type === EPB || type === PB) {
    if (body.length < 20) return block;
    const capLen = u32(body, 12, le);
    if (20 + capLen > body.length) return block;
    return { ...block, pre: body.subarray(0, 12), origLen: u32(body, 16, le), data: body.subarray(20, 20 + capLen), post: body.subarray(Math.min(body.length, 20 + pad4(capLen))) };
  }
  if (type === SPB && body.length >= 4) {
    return { ...block, pre: new Uint8Array(0), origLen: u32(body, 0, le), data: body.subarray(4), post: new Uint8Array(0) };
  }
  return block;
}

/** Writes items back, with captured lengths from the data and block lengths from the bodies. */
export function writeCapture(capture) {
  const size = capture.items.reduce((n, item) => n + itemSize(capture, item), capture.format === "pcap" ? capture.header.length : 0) + capture.tail.length;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let at = 0;
  if (capture.format === "pcap") {
    out.set(capture.header, 0);
    at = capture.header.length;
    for (const r of capture.items) {
      out.set(r.ts.subarray(0, 8), at);
      v.setUint32(at + 8, r.data.length, capture.le);
      v.setUint32(at + 12, r.origLen >>> 0, capture.le);
      out.set(r.data, at + PCAP_RECORD_HEADER_LEN);
      at += PCAP_RECORD_HEADER_LEN + r.data.length;
    }
  } else {
    for (const b of capture.items) at = writeBlock(out, v, at, b);
  }
  out.set(capture.tail, at);
  return out;
}

function bodySize(b) {
  return b.data ? (b.type === SPB ? 4 : 20) + pad4(b.data.length) + b.post.length : b.body.length;
}

function itemSize(capture, item) {
  return capture.format === "pcap" ? PCAP_RECORD_HEADER_LEN + item.data.length : BLOCK_OVERHEAD + pad4(bodySize(item));
}

/** One pcapng block at `at` (zero padding after the body); returns where the next one goes. */
function writeBlock(out, v, at, b) {
  const len = BLOCK_OVERHEAD + pad4(bodySize(b));
  v.setUint32(at, b.type >>> 0, b.le);
  v.setUint32(at + 4, len, b.le);
  const body = at + 8;
  if (b.data) {
    const fixed = b.type === SPB ? 4 : 20;
    if (b.type === SPB) {
      v.setUint32(body, b.origLen >>> 0, b.le);
    } else {
      out.set(b.pre.subarray(0, 12), body);
      v.setUint32(body + 12, b.data.length, b.le);
      v.setUint32(body + 16, b.origLen >>> 0, b.le);
    }
    out.set(b.data, body + fixed);
    out.set(b.post, body + fixed + pad4(b.data.length));
  } else {
    out.set(b.body, body);
  }
  v.setUint32(at + len - 4, len, b.le);
  return at + len;
}

export function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** The items that carry a packet. */
export function packets(capture) {
  return capture.items.filter((item) => item.data !== undefined);
}

/** The link type a packet item is read with (pcapng: its interface in its section), or -1. */
export function linkTypeOf(capture, item) {
  if (capture.format === "pcap") return u32(capture.header, PCAP_LINKTYPE, capture.le) & 0xffff;
  let links = [];
  for (const b of capture.items) {
    if (b.type === SHB) links = [];
    else if (b.type === IDB && b.body.length >= 2) links.push(new DataView(b.body.buffer, b.body.byteOffset).getUint16(0, b.le));
    if (b === item) {
      const iface = b.type === SPB ? 0 : b.type === PB ? new DataView(b.pre.buffer, b.pre.byteOffset).getUint16(0, b.le) : u32(b.pre, 0, b.le);
      return links[iface] ?? -1;
    }
  }
  return -1;
}

/** Sets the link type of a pcap file, or of one of the interfaces of a pcapng file. */
export function setLinkType(capture, linkType, pick) {
  if (capture.format === "pcap") {
    capture.header = capture.header.slice();
    new DataView(capture.header.buffer).setUint32(PCAP_LINKTYPE, linkType, capture.le);
    return;
  }
  const idbs = capture.items.filter((b) => b.type === IDB && b.body.length >= 2);
  if (idbs.length === 0) return;
  const idb = pick(idbs);
  idb.body = idb.body.slice();
  new DataView(idb.body.buffer).setUint16(0, linkType, idb.le);
}

/** Moves a packet's time by `deltaSec` seconds (pcapng: assuming microsecond ticks). */
export function shiftTime(capture, item, deltaSec) {
  if (capture.format === "pcap") {
    item.ts = item.ts.slice(0, 8);
    const v = new DataView(item.ts.buffer);
    v.setUint32(0, (v.getUint32(0, capture.le) + deltaSec) >>> 0, capture.le);
  } else if (item.pre && item.pre.length >= 12) {
    item.pre = item.pre.slice(0, 12);
    const v = new DataView(item.pre.buffer);
    const ticks = (BigInt(v.getUint32(4, item.le)) << 32n) | BigInt(v.getUint32(8, item.le));
    const moved = BigInt.asUintN(64, ticks + BigInt(deltaSec) * 1_000_000n);
    v.setUint32(4, Number(moved >> 32n), item.le);
    v.setUint32(8, Number(moved & 0xffffffffn), item.le);
  }
}

/** Copies one packet's timestamp to another (same format). */
export function copyTime(capture, from, to) {
  if (capture.format === "pcap") to.ts = from.ts.slice();
  else if (from.pre?.length >= 12 && to.pre?.length >= 12) to.pre = concat([to.pre.subarray(0, 4), from.pre.subarray(4, 12)]);
}

/** The first `n` packet-carrying records (pcapng: with every non-packet block before them). */
export function firstRecords(capture, n) {
  let seen = 0;
  const items = [];
  for (const item of capture.items) {
    if (item.data !== undefined && ++seen > n) continue;
    items.push(item);
  }
  return { ...capture, items, tail: new Uint8Array(0) };
}

export const BLOCK = { SHB, IDB, PB, SPB, EPB, BYTE_ORDER_MAGIC };
