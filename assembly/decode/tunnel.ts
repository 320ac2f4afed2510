// Tunnels inside IP, decapsulated as Zeek does so that the inner TCP connection is tracked: IP in
// IP (RFC 2003, 4in4/6in4/4in6/6in6), GRE (RFC 2784/2890, PPTP's enhanced GRE, ERSPAN I/II/III,
// Aruba's 802.11 in GRE), and over UDP: VXLAN (RFC 7348, port 4789), Geneve (RFC 8926, 6081),
// GTP-U (3GPP TS 29.281, 2152; and 2123, where Zeek's GTPv1 analyzer also listens), Teredo (RFC 4380, 3544), AYIYA (5072), GRE-in-UDP (RFC 8086, 4754).

import { Tunnel } from "../../src/core/abi";
import { be16 } from "../capture/bytes";
import { NET_IPV4, NET_IPV6, NET_OTHER, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "./link";

/** decapsulate() result for an inner Ethernet frame. */
export const NET_ETHERNET: i32 = 2;
/** decapsulate() result for an inner IEEE 802.11 frame (Aruba). */
export const NET_WIFI: i32 = 3;

const IPPROTO_IPIP: u32 = 4;
const IPPROTO_IPV6: u32 = 41;
export const IPPROTO_UDP: u32 = 17;
const IPPROTO_GRE: u32 = 47;

export const UDP_HEADER_LEN: u32 = 8;
export const PORT_VXLAN: u32 = 4789;
const PORT_GENEVE: u32 = 6081;
const PORT_GTP_U: u32 = 2152;
const PORT_GTP_C: u32 = 2123;
const PORT_TEREDO: u32 = 3544;
const PORT_AYIYA: u32 = 5072;
const PORT_GRE_UDP: u32 = 4754;

const GRE_CHECKSUM: u32 = 0x8000;
const GRE_ROUTING: u32 = 0x4000;
const GRE_KEY: u32 = 0x2000;
const GRE_SEQUENCE: u32 = 0x1000;
const GRE_ACK: u32 = 0x0080;
const GRE_PROTO_ETHERNET: u32 = 0x6558;
const GRE_PROTO_ERSPAN_2: u32 = 0x88be;
const GRE_PROTO_ERSPAN_3: u32 = 0x22eb;
const GRE_PROTO_PPP: u32 = 0x880b;
const GRE_PROTO_ARUBA_FIRST: u32 = 0x8200;
const GRE_PROTO_ARUBA_LAST: u32 = 0x8300;
const ERSPAN_2_HEADER_LEN: u32 = 8;
const ERSPAN_3_HEADER_LEN: u32 = 12;
const ERSPAN_3_SUBHEADER_LEN: u32 = 8;
const PPP_IPV4: u32 = 0x0021;
const PPP_IPV6: u32 = 0x0057;

const VXLAN_HEADER_LEN: u32 = 8;
const GENEVE_HEADER_LEN: u32 = 8;
const GTP_HEADER_LEN: u32 = 8;
const GTP_OPTIONAL_LEN: u32 = 4;
const GTP_T_PDU: u32 = 0xff;
const TEREDO_AUTH: u32 = 0x0001;
const TEREDO_ORIGIN: u32 = 0x0000;
const TEREDO_ORIGIN_LEN: u32 = 8;
const TEREDO_AUTH_FIXED_LEN: u32 = 13;
const AYIYA_FIXED_LEN: u32 = 8;
const AYIYA_OPCODE_FORWARD: u32 = 1;
const IPV6_HEADER_LEN: u32 = 40;

/** Where the inner frame starts (from the transport payload), and the kind of tunnel. */
export let innerOffset: u32 = 0;
export let innerTunnel: Tunnel = Tunnel.None;

/**
 * The IP payload of protocol `proto` at `p` (`capLen` bytes captured): NET_IPV4, NET_IPV6,
 * NET_ETHERNET or NET_WIFI with innerOffset and innerTunnel set, or NET_OTHER for no tunnel.
 */
export function decapsulate(proto: u32, p: usize, capLen: u32): i32 {
  if (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6) return inner(Tunnel.IpInIp, 0, proto == IPPROTO_IPIP ? NET_IPV4 : NET_IPV6);
  if (proto == IPPROTO_GRE) return afterGre(p, capLen, 0, Tunnel.Gre);
  if (proto != IPPROTO_UDP || capLen < UDP_HEADER_LEN) return NET_OTHER;
  const sport = be16(p), dport = be16(p + 2);
  const q = p + UDP_HEADER_LEN;
  const n = capLen - UDP_HEADER_LEN;
  if (either(sport, dport, PORT_VXLAN)) return n >= VXLAN_HEADER_LEN ? inner(Tunnel.Vxlan, UDP_HEADER_LEN + VXLAN_HEADER_LEN, NET_ETHERNET) : NET_OTHER;
  if (either(sport, dport, PORT_GENEVE)) return afterGeneve(q, n);
  if (either(sport, dport, PORT_GTP_U) || either(sport, dport, PORT_GTP_C)) return afterGtp(q, n);
  if (either(sport, dport, PORT_TEREDO)) return afterTeredo(q, n);
  if (either(sport, dport, PORT_AYIYA)) return afterAyiya(q, n);
  if (either(sport, dport, PORT_GRE_UDP)) return afterGre(q, n, UDP_HEADER_LEN, Tunnel.Gre);
  // Teredo relays use other ports: Zeek's protocol detection takes any UDP payload that is
  // exactly one well-formed IPv6 packet (after the optional Teredo headers).
  const udpLen = be16(p + 4);
  if (udpLen > UDP_HEADER_LEN && afterTeredo(q, n) == NET_IPV6) {
    const ipv6 = q + innerOffset - UDP_HEADER_LEN;
    const rest = udpLen - innerOffset;
    if (innerOffset + IPV6_HEADER_LEN <= capLen && be16(ipv6 + 4) + IPV6_HEADER_LEN == rest) return NET_IPV6;
  }
  return NET_OTHER;
}

@inline function either(a: u32, b: u32, port: u32): bool { return a == port || b == port; }

/** Whether a UDP datagram with these ports goes to a tunnel's analyzer by its port (see decapsulate). */
export function onTunnelPort(sport: u32, dport: u32): bool {
  return isTunnelPort(sport) || isTunnelPort(dport);
}

@inline function isTunnelPort(port: u32): bool {
  return port == PORT_VXLAN || port == PORT_GENEVE || port == PORT_GTP_U || port == PORT_GTP_C ||
    port == PORT_TEREDO || port == PORT_AYIYA || port == PORT_GRE_UDP;
}

@inline function inner(tunnel: Tunnel, offset: u32, kind: i32): i32 {
  innerTunnel = tunnel;
  innerOffset = offset;
  return kind;
}

/** GRE header (`base` is its offset in the IP payload). */
function afterGre(p: usize, capLen: u32, base: u32, tunnel: Tunnel): i32 {
  if (capLen < 4) return NET_OTHER;
  const flags = be16(p);
  const version = flags & 7;
  if ((flags & GRE_ROUTING) != 0 || version > 1) return NET_OTHER;
  let off: u32 = 4;
  if ((flags & GRE_CHECKSUM) != 0) off += 4;
  if ((flags & GRE_KEY) != 0) off += 4;
  if ((flags & GRE_SEQUENCE) != 0) off += 4;
  if (version == 1 && (flags & GRE_ACK) != 0) off += 4;
  if (off > capLen) return NET_OTHER;
  const proto = be16(p + 2);
  if (proto == ETHERTYPE_IPV4) return inner(tunnel, base + off, NET_IPV4);
  if (proto == ETHERTYPE_IPV6) return inner(tunnel, base + off, NET_IPV6);
  if (proto == GRE_PROTO_ETHERNET) return inner(tunnel, base + off, NET_ETHERNET);
  // ERSPAN type I has no header of its own (no sequence number); type II has 8 bytes.
  if (proto == GRE_PROTO_ERSPAN_2) return inner(Tunnel.Erspan, base + off + ((flags & GRE_SEQUENCE) != 0 ? ERSPAN_2_HEADER_LEN : 0), NET_ETHERNET);
  if (proto == GRE_PROTO_ERSPAN_3) {
    if (off + ERSPAN_3_HEADER_LEN > capLen) return NET_OTHER;
    const hasSubheader = (load<u8>(p + off + ERSPAN_3_HEADER_LEN - 1) & 1) != 0;
    return inner(Tunnel.Erspan, base + off + ERSPAN_3_HEADER_LEN + (hasSubheader ? ERSPAN_3_SUBHEADER_LEN : 0), NET_ETHERNET);
  }
  if (proto == GRE_PROTO_PPP) return afterPpp(p + off, capLen - off, base + off, tunnel);
  if (proto >= GRE_PROTO_ARUBA_FIRST && proto <= GRE_PROTO_ARUBA_LAST) return inner(tunnel, base + off, NET_WIFI);
  return NET_OTHER;
}

/** PPP inside PPTP's GRE: optional address/control 0xff03, then the protocol (1 or 2 bytes). */
function afterPpp(p: usize, capLen: u32, base: u32, tunnel: Tunnel): i32 {
  let off: u32 = 0;
  if (capLen >= 2 && be16(p) == 0xff03) off = 2;
  if (off + 1 > capLen) return NET_OTHER;
  let proto = <u32>load<u8>(p + off);
  // Protocol-field compression: an odd first byte is a one-byte protocol.
  if ((proto & 1) == 0) {
    if (off + 2 > capLen) return NET_OTHER;
    proto = be16(p + off);
    off += 2;
  } else {
    off += 1;
  }
  if (proto == PPP_IPV4) return inner(tunnel, base + off, NET_IPV4);
  if (proto == PPP_IPV6) return inner(tunnel, base + off, NET_IPV6);
  return NET_OTHER;
}

/** Geneve: version 0, option length in 4-byte words, then the protocol type. */
function afterGeneve(p: usize, capLen: u32): i32 {
  if (capLen < GENEVE_HEADER_LEN) return NET_OTHER;
  const b0 = <u32>load<u8>(p);
  if (b0 >> 6 != 0) return NET_OTHER;
  const off = UDP_HEADER_LEN + GENEVE_HEADER_LEN + ((b0 & 0x3f) << 2);
  const proto = be16(p + 2);
  if (proto == GRE_PROTO_ETHERNET) return inner(Tunnel.Geneve, off, NET_ETHERNET);
  if (proto == ETHERTYPE_IPV4) return inner(Tunnel.Geneve, off, NET_IPV4);
  if (proto == ETHERTYPE_IPV6) return inner(Tunnel.Geneve, off, NET_IPV6);
  return NET_OTHER;
}

/** GTP-U version 1 T-PDU: optional sequence/N-PDU/extension fields, extension header chain. */
function afterGtp(p: usize, capLen: u32): i32 {
  if (capLen < GTP_HEADER_LEN) return NET_OTHER;
  const flags = <u32>load<u8>(p);
  if (flags >> 5 != 1 || (flags & 0x10) == 0 || <u32>load<u8>(p + 1) != GTP_T_PDU) return NET_OTHER;
  let off = GTP_HEADER_LEN;
  if ((flags & 0x07) != 0) {
    off += GTP_OPTIONAL_LEN;
    if (off > capLen) return NET_OTHER;
    // Extension headers (E flag): each has a length in 4-byte units and names the next type last.
    let next = (flags & 0x04) != 0 ? <u32>load<u8>(p + off - 1) : 0;
    for (let i = 0; next != 0 && i < 16; i++) {
      if (off >= capLen) return NET_OTHER;
      const len = <u32>load<u8>(p + off) << 2;
      if (len == 0 || off + len > capLen) return NET_OTHER;
      next = <u32>load<u8>(p + off + len - 1);
      off += len;
    }
  }
  return byVersion(p, capLen, off, Tunnel.GtpU);
}

/** Teredo: optional authentication and origin-indication headers, then IPv6. */
function afterTeredo(p: usize, capLen: u32): i32 {
  let off: u32 = 0;
  if (capLen >= 2 && be16(p) == TEREDO_AUTH) {
    if (capLen < 4) return NET_OTHER;
    off += TEREDO_AUTH_FIXED_LEN + <u32>load<u8>(p + 2) + <u32>load<u8>(p + 3);
  }
  if (off + 2 <= capLen && be16(p + off) == TEREDO_ORIGIN) off += TEREDO_ORIGIN_LEN;
  if (off >= capLen || <u32>load<u8>(p + off) >> 4 != 6) return NET_OTHER;
  return inner(Tunnel.Teredo, UDP_HEADER_LEN + off, NET_IPV6);
}

/** AYIYA: identity (2^idlen bytes) and signature (siglen words) after 8 fixed bytes. */
function afterAyiya(p: usize, capLen: u32): i32 {
  if (capLen < AYIYA_FIXED_LEN) return NET_OTHER;
  if ((<u32>load<u8>(p + 2) & 0x0f) != AYIYA_OPCODE_FORWARD) return NET_OTHER;
  const idLen = <u32>1 << (<u32>load<u8>(p) >> 4);
  const sigLen = (<u32>load<u8>(p + 1) >> 4) << 2;
  const off = AYIYA_FIXED_LEN + idLen + sigLen;
  const next = <u32>load<u8>(p + 3);
  if (next == IPPROTO_IPV6) return inner(Tunnel.Ayiya, UDP_HEADER_LEN + off, NET_IPV6);
  if (next == IPPROTO_IPIP) return inner(Tunnel.Ayiya, UDP_HEADER_LEN + off, NET_IPV4);
  return NET_OTHER;
}

function byVersion(p: usize, capLen: u32, off: u32, tunnel: Tunnel): i32 {
  if (off >= capLen) return NET_OTHER;
  const version = <u32>load<u8>(p + off) >> 4;
  if (version == 4) return inner(tunnel, UDP_HEADER_LEN + off, NET_IPV4);
  if (version == 6) return inner(tunnel, UDP_HEADER_LEN + off, NET_IPV6);
  return NET_OTHER;
}
