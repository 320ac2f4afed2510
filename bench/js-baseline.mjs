// The benchmark's plain-JS peer: a Map-based TCP flow tracker over a libpcap file, written the
// way a competent JS programmer would (one reused read buffer, DataView-free byte reads, one
// string key per packet, one object per flow). Prints one JSON line: flows, packets, TCP packets.
//
//   node bench/js-baseline.mjs FILE

import { closeSync, openSync, readSync } from "node:fs";

const CHUNK_BYTES = 8 << 20;
const PCAP_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const IPPROTO_TCP = 6;
const IPV6_EXTENSIONS = new Set([0, 43, 60]); // hop-by-hop, routing, destination options
const IPPROTO_FRAGMENT = 44;
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;

/** Counts of one flow, `a` being the endpoint that sorts first. */
class Flow {
  packetsAtoB = 0;
  packetsBtoA = 0;
  bytesAtoB = 0;
  bytesBtoA = 0;
  syn = 0;
  fin = 0;
  rst = 0;
}

const flows = new Map();
let packets = 0;
let tcpPackets = 0;

/** Reads IPv4/IPv6 + TCP at `ip` in `buf` (captured bytes end at `end`) and counts the packet. */
function countPacket(buf, ip, end) {
  let src, dst, tcp, ipLen;
  const version = buf[ip] >> 4;
  if (version === 4) {
    const ihl = (buf[ip] & 0x0f) * 4;
    if (buf[ip + 9] !== IPPROTO_TCP || ((buf[ip + 6] & 0x1f) | buf[ip + 7]) !== 0) return; // not TCP, or a later fragment
    ipLen = (buf[ip + 2] << 8) | buf[ip + 3];
    src = `${buf[ip + 12]}.${buf[ip + 13]}.${buf[ip + 14]}.${buf[ip + 15]}`;
    dst = `${buf[ip + 16]}.${buf[ip + 17]}.${buf[ip + 18]}.${buf[ip + 19]}`;
    tcp = ip + ihl;
  } else if (version === 6) {
    let next = buf[ip + 6];
    tcp = ip + 40;
    while (IPV6_EXTENSIONS.has(next) && tcp + 8 <= end) {
      next = buf[tcp];
      tcp += (buf[tcp + 1] + 1) * 8;
    }
    if (next !== IPPROTO_TCP) return; // not TCP, or a fragment
    ipLen = 40 + ((buf[ip + 4] << 8) | buf[ip + 5]);
    src = buf.toString("hex", ip + 8, ip + 24);
    dst = buf.toString("hex", ip + 24, ip + 40);
  } else {
    return;
  }
  if (tcp + 14 > end) return; // ports and flags not captured
  const sport = (buf[tcp] << 8) | buf[tcp + 1];
  const dport = (buf[tcp + 2] << 8) | buf[tcp + 3];
  const flags = buf[tcp + 13];
  tcpPackets++;
  const forward = src < dst || (src === dst && sport <= dport);
  const key = forward ? `${src} ${sport} ${dst} ${dport}` : `${dst} ${dport} ${src} ${sport}`;
  let flow = flows.get(key);
  if (flow === undefined) {
    flow = new Flow();
    flows.set(key, flow);
  }
  if (forward) { flow.packetsAtoB++; flow.bytesAtoB += ipLen; } else { flow.packetsBtoA++; flow.bytesBtoA += ipLen; }
  if (flags & SYN) flow.syn++;
  if (flags & FIN) flow.fin++;
  if (flags & RST) flow.rst++;
}

/** Ethernet with any number of VLAN tags, then IP. */
function countFrame(buf, at, capLen) {
  const end = at + capLen;
  let type = (buf[at + 12] << 8) | buf[at + 13];
  let ip = at + 14;
  while ((type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ) && ip + 4 <= end) {
    type = (buf[ip + 2] << 8) | buf[ip + 3];
    ip += 4;
  }
  if ((type === ETHERTYPE_IPV4 && ip + 20 <= end) || (type === ETHERTYPE_IPV6 && ip + 40 <= end)) countPacket(buf, ip, end);
}

const path = process.argv[2];
if (!path) {
  process.stderr.write("usage: node bench/js-baseline.mjs FILE.pcap\n");
  process.exit(2);
}
const fd = openSync(path, "r");
let buf = Buffer.allocUnsafe(CHUNK_BYTES);
let filled = readSync(fd, buf, 0, buf.length, 0);
let position = filled;
const magic = buf.readUInt32LE(0);
const littleEndian = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
if (!littleEndian && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) {
  process.stderr.write(`${path}: not a libpcap file\n`);
  process.exit(2);
}
const u32 = littleEndian ? (at) => buf.readUInt32LE(at) : (at) => buf.readUInt32BE(at);
if (u32(20) !== LINKTYPE_ETHERNET) {
  process.stderr.write(`${path}: link type ${u32(20)}, only Ethernet (1) is read\n`);
  process.exit(2);
}
let at = PCAP_HEADER_LEN;
for (;;) {
  if (at + RECORD_HEADER_LEN <= filled) {
    const capLen = u32(at + 8);
    if (at + RECORD_HEADER_LEN + capLen <= filled) {
      packets++;
      countFrame(buf, at + RECORD_HEADER_LEN, capLen);
      at += RECORD_HEADER_LEN + capLen;
      continue;
    }
    if (RECORD_HEADER_LEN + capLen > buf.length) { // a record larger than the buffer
      const grown = Buffer.allocUnsafe(2 * (RECORD_HEADER_LEN + capLen));
      buf.copy(grown, 0, at, filled);
      buf = grown;
      filled -= at;
      at = 0;
    }
  }
  // Carry the partial record over to the front and refill behind it.
  buf.copy(buf, 0, at, filled);
  filled -= at;
  at = 0;
  const n = readSync(fd, buf, filled, buf.length - filled, position);
  if (n === 0) break;
  filled += n;
  position += n;
}
closeSync(fd);
let syn = 0, fin = 0, rst = 0;
for (const flow of flows.values()) { syn += flow.syn; fin += flow.fin; rst += flow.rst; }
process.stdout.write(JSON.stringify({ flows: flows.size, packets, tcpPackets, syn, fin, rst }) + "\n");
