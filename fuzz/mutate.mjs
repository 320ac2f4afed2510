// Mutations of capture bytes: AFL-style havoc on the raw bytes (which mostly exercises framing and
// damage recovery), and structure-aware changes that keep the framing consistent so that decoding
// gets past it (capture.mjs): a packet changed in place with its lengths fixed up, header fields
// of IP and TCP set to telling values, records dropped, repeated or taken from another input,
// timestamps moved, link types changed, packets put inside tunnels, pcapng blocks added.

import { BLOCK, concat, copyTime, linkTypeOf, packets, parseCapture, setLinkType, shiftTime, writeCapture } from "./capture.mjs";
import { ETHERNET_FRAMES, IP_TUNNELS, LINKS, findIp } from "./wrap.mjs";

/** mulberry32: small, fast and seedable. */
export class Rng {
  constructor(seed) { this.state = seed >>> 0; }
  u32() {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n) { return n <= 0 ? 0 : this.u32() % n; }
  chance(p) { return this.u32() < p * 0x1_0000_0000; }
  pick(list) { return list[this.int(list.length)]; }
}

const INTERESTING_8 = [0, 1, 2, 4, 5, 6, 8, 15, 16, 17, 0x3f, 0x40, 0x45, 0x4f, 0x60, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_16 = [
  0, 1, 8, 20, 40, 60, 64, 576, 1460, 1500, 1501, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x2000, 0x1fff, 0x4000,
  0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x9100, 0x8847, 0x8848, 0x8864, 0x88e7, 0x8903, 0x8926, // ethertypes
  0x6558, 0x88be, 0x22eb, 0x880b, 0x8200, 0x0021, 0x0057, 0xff03, 0xb000, 0x3081, // GRE and PPP
  4789, 6081, 2152, 3544, 5072, 4754, 80, 443, // tunnel ports
];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 65535, 65536, 262144, 1 << 20, 999999, 1000000, 999999999,
  0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, BLOCK.SHB, BLOCK.BYTE_ORDER_MAGIC, 0x4d3c2b1a, 3600, 86400];
/** Byte strings worth dropping in: IP protocols, TCP options, block types, magic numbers. */
const TOKENS = [
  [4], [6], [17], [41], [47], [0], [43], [44], [50], [51], [58], [59], [60], [132],
  [2, 4, 5, 0xb4], [1, 3, 3, 14], [4, 2], [8, 10, 0, 0, 0, 1, 0, 0, 0, 0], [5, 10, 0, 0, 0, 1, 0, 0, 0, 9], [5, 2], [8, 255], [2, 0], [0, 0], [1, 1],
  [0x0a, 0x0d, 0x0d, 0x0a], [0x4d, 0x3c, 0x2b, 0x1a], [0x1a, 0x2b, 0x3c, 0x4d], [6, 0, 0, 0], [0, 0, 0, 6], [1, 0, 0, 0], [3, 0, 0, 0], [0xad, 0x0b, 0, 0],
  [0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0x45, 0], [0x60, 0, 0, 0], [0x86, 0xdd], [0x08, 0x00], [0x81, 0x00],
];
const LINK_TYPES = [0, 1, 10, 12, 14, 101, 108, 113, 228, 229, 239, 276, 105, 127, 147, 0xffff];
/** Offsets of IPv4 / IPv6 / TCP header fields (from the header start) and their widths in bytes. */
const IPV4_FIELDS = [[0, 1], [1, 1], [2, 2], [4, 2], [6, 2], [8, 1], [9, 1], [10, 2], [12, 4], [16, 4], [20, 1], [21, 1]];
const IPV6_FIELDS = [[0, 1], [4, 2], [6, 1], [7, 1], [8, 4], [24, 4], [40, 1], [41, 1], [42, 1], [43, 1], [46, 2]];
const TCP_FIELDS = [[0, 2], [2, 2], [4, 4], [8, 4], [12, 1], [13, 1], [14, 2], [16, 2], [18, 2], [20, 1], [21, 1], [22, 2], [24, 4]];
const MAX_INPUT = 1 << 20;

const stretch = (b, from, n) => b.slice(from, from + n);

export class Mutator {
  constructor(rng) { this.rng = rng; }

  /** A mutant of `bytes`; `other` is another corpus input to splice from. */
  mutate(bytes, other) {
    const r = this.rng;
    let out = bytes;
    const roll = r.int(100);
    if (roll < 80) out = this.structured(bytes, other) ?? bytes;
    if (roll >= 55 || out === bytes) {
      const n = 1 << r.int(4);
      for (let i = 0; i < n; i++) out = this.havoc(out, other, false);
    }
    return out.length > MAX_INPUT ? out.subarray(0, MAX_INPUT) : out;
  }

  /** 1 to 4 changes to the records of a parsed capture, or null when it does not parse. */
  structured(bytes, other) {
    const c = parseCapture(bytes);
    if (!c) return null;
    const r = this.rng;
    const n = 1 + r.int(4);
    for (let i = 0; i < n; i++) this.recordChange(c, other);
    return writeCapture(c);
  }

  recordChange(c, other) {
    const r = this.rng;
    const list = packets(c);
    if (list.length === 0) return c.format === "pcapng" ? this.addBlock(c) : c.items.push({ ts: new Uint8Array(8), origLen: 60, data: new Uint8Array(r.int(80)) });
    const p = r.pick(list);
    switch (r.int(16)) {
      case 0: case 1: case 2: case 3: { // bytes of one packet, mostly its headers
        const k = 1 + r.int(4);
        for (let i = 0; i < k; i++) p.data = this.havoc(p.data, null, true);
        return;
      }
      case 4: case 5: case 6: return this.headerField(p);
      case 7: p.data = p.data.slice(0, r.int(p.data.length + 1)); return; // cut by a snap length
      case 8: p.origLen = r.pick([0, p.data.length, Math.max(0, p.data.length - 1 - r.int(40)), p.data.length + r.int(1 << 16), 0xffffffff]); return;
      case 9: return this.reorder(c, p);
      case 10: return this.repeat(c, p);
      case 11: return this.splicePacket(c, p, other);
      case 12: return this.moveTime(c, p, list);
      case 13: return setLinkType(c, r.chance(0.8) ? r.pick(LINK_TYPES) : r.int(0x10000), (l) => r.pick(l));
      case 14: return this.encapsulate(c, p);
      case 15: return c.format === "pcapng" ? this.addBlock(c) : this.repeat(c, p);
    }
  }

  /** Sets one IPv4/IPv6 or TCP header field to a telling value (keeps every length as it is). */
  headerField(p) {
    const r = this.rng;
    const ip = findIp(p.data);
    if (ip < 0) { p.data = this.havoc(p.data, null, true); return; }
    const v4 = p.data[ip] >> 4 === 4;
    const l4 = ip + (v4 ? (p.data[ip] & 15) * 4 : 40);
    if (r.chance(0.1)) { // one address (or port) copied onto the other: a flow with itself
      const [src, n] = r.chance(0.5) ? (v4 ? [ip + 12, 4] : [ip + 8, 16]) : [l4, 2];
      if (src + 2 * n <= p.data.length) { p.data = p.data.slice(); p.data.copyWithin(r.chance(0.5) ? src + n : src, r.chance(0.5) ? src : src + n, (r.chance(0.5) ? src : src + n) + n); }
      return;
    }
    const [base, [offset, width]] = r.chance(0.5) ? [ip, r.pick(v4 ? IPV4_FIELDS : IPV6_FIELDS)] : [l4, r.pick(TCP_FIELDS)];
    const at = base + offset;
    if (at + width > p.data.length) return;
    const data = p.data.slice();
    const value = width === 1 ? r.pick(INTERESTING_8) : width === 2 ? r.pick(INTERESTING_16) : r.pick(INTERESTING_32);
    const random = r.chance(0.3) ? r.u32() : value;
    for (let i = 0; i < width; i++) data[at + i] = random >>> (8 * (width - 1 - i));
    p.data = data;
  }

  reorder(c, p) {
    const r = this.rng;
    const from = c.items.indexOf(p);
    const op = r.int(3);
    if (op === 0 && c.items.length > 1) c.items.splice(from, 1); // drop
    else if (op === 1) c.items.splice(r.int(c.items.length + 1), 0, { ...p }); // duplicate elsewhere
    else { const to = r.int(c.items.length); [c.items[from], c.items[to]] = [c.items[to], c.items[from]]; } // swap
  }

  /** The packet again, several times; sometimes from a new source port each time (new flows). */
  repeat(c, p) {
    const r = this.rng;
    const times = 2 + r.int(r.chance(0.2) ? 200 : 16);
    const newFlows = r.chance(0.5);
    const ip = findIp(p.data);
    const port = ip < 0 ? -1 : ip + (p.data[ip] >> 4 === 4 ? (p.data[ip] & 15) * 4 : 40);
    const copies = [];
    for (let i = 0; i < times; i++) {
      const copy = { ...p, data: p.data.slice() };
      if (newFlows && port >= 0 && port + 2 <= copy.data.length) { copy.data[port] = r.int(256); copy.data[port + 1] = i & 0xff; }
      copies.push(copy);
    }
    c.items.splice(c.items.indexOf(p) + 1, 0, ...copies);
  }

  /** A packet of another input, inserted (or replacing this one's bytes). */
  splicePacket(c, p, other) {
    const r = this.rng;
    const oc = other && parseCapture(other);
    const donors = oc ? packets(oc) : [];
    if (donors.length === 0) { p.data = this.havoc(p.data, other, true); return; }
    const d = r.pick(donors);
    if (r.chance(0.5)) p.data = d.data.slice();
    else c.items.splice(r.int(c.items.length + 1), 0, { ...p, data: d.data.slice(), origLen: d.origLen });
  }

  moveTime(c, p, list) {
    const r = this.rng;
    if (r.chance(0.3)) return copyTime(c, r.pick(list), p);
    shiftTime(c, p, r.pick([-1, 1, 59, 61, 299, 301, 3600, 7200, 86400 * 30, -3600, -86400, 0x7fffffff, r.int(1 << 20)]));
  }

  /** Puts the packet's IP part inside a tunnel or a layer-2 encapsulation. */
  encapsulate(c, p) {
    const r = this.rng;
    const at = findIp(p.data);
    if (at < 0) return;
    const ip = p.data.subarray(at);
    const link = linkTypeOf(c, p);
    const frame = LINKS[link] ?? LINKS[1];
    if (link === 1 && r.chance(0.3)) p.data = r.pick(Object.values(ETHERNET_FRAMES))(ip);
    else p.data = frame(r.pick(Object.values(IP_TUNNELS))(ip));
  }

  /** A pcapng block: an interface, a section header, a statistics or unknown block. */
  addBlock(c) {
    const r = this.rng;
    const le = c.items.find((b) => b.le !== undefined)?.le ?? true;
    const body = (n) => Uint8Array.from({ length: n }, () => (r.chance(0.7) ? 0 : r.int(256)));
    const u32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, le); return b; };
    let block;
    switch (r.int(5)) {
      case 0: { // IDB, sometimes with if_tsresol
        const idb = body(r.chance(0.5) ? 8 : 16);
        const v = new DataView(idb.buffer);
        v.setUint16(0, r.pick(LINK_TYPES), le);
        if (idb.length === 16) { v.setUint16(8, 9, le); v.setUint16(10, 1, le); idb[12] = r.pick([0, 3, 6, 9, 12, 19, 0x80, 0x8a, 0xff]); }
        block = { type: BLOCK.IDB, le, body: idb };
        break;
      }
      case 1: block = { type: BLOCK.SHB, le, body: concat([u32(BLOCK.BYTE_ORDER_MAGIC), Uint8Array.of(le ? 1 : 0, le ? 0 : 1, 0, 0), body(8).fill(0xff)]) }; break;
      case 2: block = { type: BLOCK.EPB, le, body: concat([u32(r.int(5)), body(16), Uint8Array.of(0x45, 0, 0, 20)]) }; break;
      default: block = { type: r.pick([4, 5, 7, 8, 9, 10, 0xbad, 0x40000bad, r.u32()]), le, body: body(r.int(40) & ~3) };
    }
    c.items.splice(r.int(c.items.length + 1), 0, block);
  }

  /** One AFL havoc step; `head` aims at the first bytes (where headers are). */
  havoc(b, other, head) {
    const r = this.rng;
    const len = b.length;
    const pos = (width = 1) => {
      const room = Math.max(0, len - width + 1);
      return head && r.chance(0.7) ? r.int(Math.min(room, 96)) : r.int(room);
    };
    const out = () => b.slice();
    switch (r.int(len === 0 ? 1 : 12)) {
      case 0: { // insert bytes: random, a repeated byte, a token, or a copy of a stretch
        const at = len ? pos() : 0;
        const ins = r.chance(0.3) ? Uint8Array.from(r.pick(TOKENS)) : r.chance(0.5) ? new Uint8Array(1 + r.int(32)).fill(r.int(256)) : stretch(b, r.int(len), 1 + r.int(64));
        return concat([b.subarray(0, at), ins, b.subarray(at)]);
      }
      case 1: { const o = out(); const at = pos(); o[at] ^= 1 << r.int(8); return o; }
      case 2: { const o = out(); o[pos()] = r.int(256); return o; }
      case 3: { const o = out(); o[pos()] = r.pick(INTERESTING_8); return o; }
      case 4: case 5: return len < 2 ? b : this.put(out(), pos(2), 2, r.pick(INTERESTING_16));
      case 6: return len < 4 ? b : this.put(out(), pos(4), 4, r.pick(INTERESTING_32));
      case 7: { // add or subtract a little (lengths, counters)
        const width = r.pick([1, 2, 4]);
        if (len < width) return b;
        const o = out(), at = pos(width), be = r.chance(0.5);
        let v = 0;
        for (let i = 0; i < width; i++) v = v * 256 + o[at + (be ? i : width - 1 - i)];
        return this.put(o, at, width, v + r.int(70) - 35, be);
      }
      case 8: { const at = pos(); return concat([b.subarray(0, at), b.subarray(Math.min(len, at + 1 + r.int(r.chance(0.8) ? 16 : 512)))]); } // delete
      case 9: { const o = out(); const t = r.pick(TOKENS); const at = pos(t.length); o.set(t.slice(0, len - at), at); return o; }
      case 10: { // overwrite with a stretch of itself
        const o = out(), from = r.int(len), n = Math.min(1 + r.int(32), len - from), at = pos(n);
        o.copyWithin(at, from, from + n);
        return o;
      }
      case 11: { // splice: this input's head, the other's tail; or cut short
        if (other && other.length > 0 && !head) return concat([b.subarray(0, pos()), other.subarray(r.int(other.length))]);
        return b.subarray(0, r.int(len + 1));
      }
    }
    return b;
  }

  /** Writes `value` into `width` bytes at `at`, big or little endian. */
  put(o, at, width, value, be = this.rng.chance(0.5)) {
    for (let i = 0; i < width; i++) o[at + (be ? width - 1 - i : i)] = (value >>> (8 * i)) & 0xff;
    return o;
  }
}
