// Encapsulations the core decodes, as functions of an IP packet: tunnels inside IP (IP in IP,
// GRE with its ERSPAN, PPTP and Aruba payloads, and VXLAN, Geneve, GTP-U, Teredo, AYIYA,
// GRE-in-UDP over UDP), layer-2 encapsulations inside Ethernet, and the link-layer headers of
// every link type (assembly/decode/link.ts, assembly/decode/tunnel.ts). For seeds and mutations;
// outer checksums are valid, UDP checksums are zero (allowed over IPv4).

import { checksumSum, finishChecksum } from "../dist/synth/packet.js";

const OUTER_SRC4 = [192, 0, 2, 1], OUTER_DST4 = [192, 0, 2, 2];
const OUTER_SRC6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
const OUTER_DST6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2];
const MAC_PAIR = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];

/** Concatenates numbers (one byte each), arrays and Uint8Arrays. */
const bytes = (...parts) => {
  let n = 0;
  for (const p of parts) n += typeof p === "number" ? 1 : p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    if (typeof p === "number") out[at++] = p;
    else { out.set(p, at); at += p.length; }
  }
  return out;
};
const be16 = (v) => [(v >>> 8) & 0xff, v & 0xff];
const be32 = (v) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const le16 = (v) => [v & 0xff, (v >>> 8) & 0xff];
const le32 = (v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

export const isIpv6 = (ip) => ip.length > 0 && ip[0] >> 4 === 6;
export const ethertypeOf = (ip) => (isIpv6(ip) ? 0x86dd : 0x0800);

export function ipv4(protocol, payload) {
  const p = bytes(0x45, 0, be16(20 + payload.length), 0, 1, 0x40, 0, 64, protocol, 0, 0, OUTER_SRC4, OUTER_DST4, payload);
  const sum = finishChecksum(checksumSum(p, 0, 20));
  p[10] = sum >>> 8;
  p[11] = sum & 0xff;
  return p;
}

export const ipv6 = (nextHeader, payload) => bytes(0x60, 0, 0, 0, be16(payload.length), nextHeader, 64, OUTER_SRC6, OUTER_DST6, payload);
export const udp = (sport, dport, payload) => bytes(be16(sport), be16(dport), be16(8 + payload.length), 0, 0, payload);
export const ethernet = (type, payload, tags = []) => bytes(MAC_PAIR, ...tags.map(([tpid, id]) => bytes(be16(tpid), be16(id))), be16(type), payload);
const etherOf = (ip) => ethernet(ethertypeOf(ip), ip);
const llcSnap = (type) => bytes(0xaa, 0xaa, 0x03, 0, 0, 0, be16(type));
const gre = (flags, proto, extra = []) => bytes(be16(flags), be16(proto), extra);

/** Tunnels over IP: inner IP packet → outer IP packet. */
export const IP_TUNNELS = {
  ipip: (ip) => ipv4(isIpv6(ip) ? 41 : 4, ip),
  "ip-in-ipv6": (ip) => ipv6(isIpv6(ip) ? 41 : 4, ip),
  gre: (ip) => ipv4(47, bytes(gre(0, ethertypeOf(ip)), ip)),
  "gre-key-seq-checksum": (ip) => ipv4(47, bytes(gre(0xb000, ethertypeOf(ip), [...be32(0), ...be32(7), ...be32(1)]), ip)),
  "gre-ethernet": (ip) => ipv4(47, bytes(gre(0, 0x6558), etherOf(ip))),
  "gre-pptp-ppp": (ip) => ipv4(47, bytes(gre(0x3081, 0x880b, [...be16(ip.length + 4), ...be16(1), ...be32(1), ...be32(0)]), 0xff, 0x03, be16(isIpv6(ip) ? 0x57 : 0x21), ip)),
  "gre-ppp-compressed": (ip) => ipv4(47, bytes(gre(0x2001, 0x880b, [...be16(ip.length + 1), ...be16(1)]), isIpv6(ip) ? 0x57 : 0x21, ip)),
  "erspan-1": (ip) => ipv4(47, bytes(gre(0, 0x88be), etherOf(ip))),
  "erspan-2": (ip) => ipv4(47, bytes(gre(0x1000, 0x88be, be32(1)), 0x10, 0, 0, 1, 0, 0, 0, 0, etherOf(ip))),
  "erspan-3": (ip) => ipv4(47, bytes(gre(0x1000, 0x22eb, be32(1)), 0x20, 0, 0, 1, be32(0), 0, 0, 0, 0, etherOf(ip))),
  "erspan-3-subheader": (ip) => ipv4(47, bytes(gre(0x1000, 0x22eb, be32(1)), 0x20, 0, 0, 1, be32(0), 0, 0, 0, 1, new Array(8).fill(0), etherOf(ip))),
  "gre-aruba-wifi": (ip) => ipv4(47, bytes(gre(0, 0x8210), wifi(0x0208, []), llcSnap(ethertypeOf(ip)), ip)),
  "gre-aruba-wifi-qos-amsdu": (ip) => ipv4(47, bytes(gre(0, 0x8210), wifi(0x0388, [0x80, 0]), new Array(14).fill(0), llcSnap(ethertypeOf(ip)), ip)),
  vxlan: (ip) => ipv4(17, udp(40001, 4789, bytes(0x08, 0, 0, 0, 0, 0, 1, 0, etherOf(ip)))),
  "geneve-ethernet": (ip) => ipv4(17, udp(40002, 6081, bytes(0x01, 0, be16(0x6558), 0, 0, 1, 0, be32(0x01020304), etherOf(ip)))),
  "geneve-ip": (ip) => ipv4(17, udp(40003, 6081, bytes(0, 0, be16(ethertypeOf(ip)), 0, 0, 1, 0, ip))),
  "gtp-u": (ip) => ipv4(17, udp(2152, 2152, bytes(0x30, 0xff, be16(ip.length), be32(1), ip))),
  "gtp-u-extension": (ip) => ipv4(17, udp(2152, 2152, bytes(0x34, 0xff, be16(ip.length + 8), be32(1), 0, 1, 0, 0x85, 1, 0x10, 0x05, 0, ip))),
  "gre-in-udp": (ip) => ipv4(17, udp(40004, 4754, bytes(gre(0, ethertypeOf(ip)), ip))),
  ayiya: (ip) => ipv4(17, udp(5072, 5072, bytes(0x41, 0x52, 0x11, isIpv6(ip) ? 41 : 4, be32(0), new Array(16).fill(0), new Array(20).fill(0), ip))),
  teredo: (ip) => ipv4(17, udp(3544, 40005, isIpv6(ip) ? ip : IP_TUNNELS["ip-in-ipv6"](ip))),
  "teredo-origin": (ip) => ipv4(17, udp(3544, 40006, bytes(0, 0, 0, 0, 0, 0, 0, 0, isIpv6(ip) ? ip : IP_TUNNELS["ip-in-ipv6"](ip)))),
  "teredo-auth": (ip) => ipv4(17, udp(40007, 3544, bytes(0, 1, 1, 1, 0x41, 0x42, new Array(8).fill(0), 0, isIpv6(ip) ? ip : IP_TUNNELS["ip-in-ipv6"](ip)))),
};

/** IEEE 802.11 data frame header: frame control (little endian), then the optional QoS bytes. */
function wifi(frameControl, qos) {
  const addr4 = (frameControl & 0x0300) === 0x0300 ? new Array(6).fill(0) : [];
  return bytes(le16(frameControl), 0, 0, new Array(18).fill(0), 0, 0, addr4, qos);
}

/** Layer-2 encapsulations: IP packet → Ethernet frame. */
export const ETHERNET_FRAMES = {
  ethernet: (ip) => etherOf(ip),
  vlan: (ip) => ethernet(ethertypeOf(ip), ip, [[0x8100, 42]]),
  qinq: (ip) => ethernet(ethertypeOf(ip), ip, [[0x88a8, 100], [0x8100, 42]]),
  "qinq-9100": (ip) => ethernet(ethertypeOf(ip), ip, [[0x9100, 7]]),
  mpls: (ip) => ethernet(0x8847, bytes(0, 0x01, 0x00, 64, 0, 0x02, 0x01, 64, ip)),
  pppoe: (ip) => ethernet(0x8864, bytes(0x11, 0, be16(1), be16(ip.length + 2), be16(isIpv6(ip) ? 0x57 : 0x21), ip)),
  pbb: (ip) => ethernet(0x88e7, bytes(be32(0x00000100), MAC_PAIR, be16(ethertypeOf(ip)), ip)),
  fabricpath: (ip) => ethernet(0x8903, bytes(0, 1, MAC_PAIR, be16(ethertypeOf(ip)), ip)),
  vntag: (ip) => ethernet(0x8926, bytes(be32(0x80010000), be16(ethertypeOf(ip)), ip)),
  "llc-snap": (ip) => bytes(MAC_PAIR, be16(ip.length + 8), llcSnap(ethertypeOf(ip)), ip),
};

/** Link-layer headers by link type: IP packet → frame of that link type. */
export const LINKS = {
  0: (ip) => bytes(le32(isIpv6(ip) ? 24 : 2), ip),
  1: (ip) => etherOf(ip),
  10: (ip) => bytes(0x50, MAC_PAIR, llcSnap(ethertypeOf(ip)), ip),
  12: (ip) => ip,
  14: (ip) => ip,
  101: (ip) => ip,
  108: (ip) => bytes(be32(isIpv6(ip) ? 30 : 2), ip),
  113: (ip) => bytes(0, 0, 0, 1, 0, 6, MAC_PAIR.slice(0, 6), 0, 0, be16(ethertypeOf(ip)), ip),
  228: (ip) => ip,
  229: (ip) => ip,
  239: (ip) => bytes(isIpv6(ip) ? 10 : 2, 0, 0, 0, le16(8), le16(1), 0x08, 0, 0, 0, le16(4 + ip.length), le16(9), ip, new Array((4 - (ip.length & 3)) & 3).fill(0)),
  276: (ip) => bytes(be16(ethertypeOf(ip)), 0, 0, be32(1), 0, 1, 0, 6, MAC_PAIR.slice(0, 6), 0, 0, ip),
};

/** Where an IP header seems to start in a frame (version nibble and a length that fits), or -1. */
export function findIp(frame, from = 0) {
  for (let at = from; at + 20 <= frame.length && at < from + 96; at++) {
    const version = frame[at] >> 4;
    if (version === 4 && (frame[at] & 15) >= 5) {
      const total = (frame[at + 2] << 8) | frame[at + 3];
      if (total >= 20 && at + Math.min(total, 40) <= frame.length && total <= frame.length - at + 64) return at;
    } else if (version === 6 && at + 40 <= frame.length) {
      const payload = (frame[at + 4] << 8) | frame[at + 5];
      if (at + 40 + payload <= frame.length + 64 && [0, 6, 17, 43, 44, 58, 59, 60, 4, 41, 47].includes(frame[at + 6])) return at;
    }
  }
  return -1;
}
