// Link layers: finds where the IP packet starts in a frame. Ethernet (with 802.1Q, 802.1ad and
// 0x9100 tags, stacked; MPLS label stacks; PPPoE sessions; IEEE 802.2 LLC/SNAP; the layer-2
// encapsulations 802.1ah PBB, Cisco FabricPath and VN-Tag), raw IP, BSD null/loopback, Linux
// cooked capture v1 and v2.

import { Tunnel } from "../../src/core/abi";
import { be16 } from "../capture/bytes";

export const LINKTYPE_NULL: u32 = 0;
export const LINKTYPE_ETHERNET: u32 = 1;
export const LINKTYPE_FDDI: u32 = 10;
export const LINKTYPE_RAW_BSD1: u32 = 12;
export const LINKTYPE_RAW_BSD2: u32 = 14;
export const LINKTYPE_RAW: u32 = 101;
export const LINKTYPE_LOOP: u32 = 108;
export const LINKTYPE_LINUX_SLL: u32 = 113;
export const LINKTYPE_IPV4: u32 = 228;
export const LINKTYPE_IPV6: u32 = 229;
export const LINKTYPE_NFLOG: u32 = 239;
export const LINKTYPE_LINUX_SLL2: u32 = 276;

export const ETHERTYPE_IPV4: u32 = 0x0800;
export const ETHERTYPE_IPV6: u32 = 0x86dd;
export const ETHERTYPE_VLAN: u32 = 0x8100;
const ETHERTYPE_QINQ: u32 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u32 = 0x9100;
const ETHERTYPE_MPLS: u32 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u32 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u32 = 0x8864;
const ETHERTYPE_PBB: u32 = 0x88e7;
const ETHERTYPE_FABRICPATH: u32 = 0x8903;
const ETHERTYPE_VNTAG: u32 = 0x8926;
/** Type/length values up to this are IEEE 802.3 lengths, followed by an 802.2 LLC header. */
const MAX_8023_LENGTH: u32 = 1500;

const MPLS_LABEL_LEN: u32 = 4;
const PPPOE_HEADER_LEN: u32 = 6;
const PPP_IPV4: u32 = 0x0021;
const PPP_IPV6: u32 = 0x0057;
const PBB_ITAG_LEN: u32 = 4;
const FABRICPATH_TAG_LEN: u32 = 2;
const VNTAG_LEN: u32 = 4;
const MAC_PAIR_LEN: u32 = 12;
const LLC_SNAP_SAP: u32 = 0xaa;
const LLC_UI: u32 = 0x03;
const LLC_HEADER_LEN: u32 = 3;
const SNAP_HEADER_LEN: u32 = 5;
// Linux NFLOG (https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html): header, then TLVs with
// lengths and types in host byte order, padded to 4 bytes; NFULA_PAYLOAD holds the packet.
const NFLOG_HEADER_LEN: u32 = 4;
const NFLOG_TLV_HEADER_LEN: u32 = 4;
const NFULA_PAYLOAD: u32 = 9;
const NFPROTO_IPV4: u32 = 2;
const NFPROTO_IPV6: u32 = 10;
// IEEE 802.11 data frames (as Aruba tunnels them in GRE).
const WIFI_HEADER_LEN: u32 = 24;
const WIFI_ADDR4_LEN: u32 = 6;
const WIFI_QOS_LEN: u32 = 2;
const WIFI_HT_CONTROL_LEN: u32 = 4;
const WIFI_AMSDU_SUBFRAME_LEN: u32 = 14;
const WIFI_TYPE_DATA: u32 = 2;
/** Bound on nested tags and encapsulations per frame. */
const MAX_LAYERS: u32 = 16;

export const ETH_HEADER_LEN: u32 = 14;
/** FDDI: frame control byte and two MAC addresses, then IEEE 802.2 LLC. */
const FDDI_HEADER_LEN: u32 = 13;
export const ETH_TYPE: u32 = 12;
const NULL_HEADER_LEN: u32 = 4;
const SLL_HEADER_LEN: u32 = 16;
const SLL_PROTOCOL: usize = 14;
const SLL2_HEADER_LEN: u32 = 20;
const SLL2_PROTOCOL: usize = 0;

// BSD address families that mean IPv4 or IPv6 (AF_INET6 differs between systems).
const AF_INET: u32 = 2;
const AF_INET6_BSD: u32 = 24;
const AF_INET6_FREEBSD: u32 = 28;
const AF_INET6_DARWIN: u32 = 30;
const AF_INET6_LINUX: u32 = 10;

/** Result of link decoding. */
export const NET_IPV4: i32 = 4;
export const NET_IPV6: i32 = 6;
export const NET_OTHER: i32 = 0;
export const NET_TRUNCATED: i32 = -1;
export const NET_UNSUPPORTED: i32 = -2;

/** Offset of the network header, valid when decodeLink returned NET_IPV4 or NET_IPV6. */
export let netOffset: u32 = 0;
/** Outermost VLAN id, or -1. */
export let vlanId: i32 = -1;
/**
 * The VLAN id of the second tag, or -1 (Zeek's inner_vlan: with more than two tags, the last one,
 * as Zeek's VLAN analyzer overwrites it, packet_analysis/protocol/vlan/VLAN.cc).
 */
export let innerVlanId: i32 = -1;
/** Most IP bytes the link layer says it carries (PPPoE's length field), or u32.MAX_VALUE. */
export let linkIpLimit: u32 = u32.MAX_VALUE;
/**
 * Bytes at the end of the frame that Wireshark takes for a trailer of the link layer, not data:
 * Cisco FabricPath's frame check sequence (epan/dissectors/packet-cfp.c). Zeek reads them as data.
 */
export let linkTrailer: u32 = 0;
const FABRICPATH_FCS_LEN: u32 = 4;
/** Outermost layer-2 encapsulation (MPLS, PPPoE, PBB, FabricPath, VN-Tag), or Tunnel.None. */
export let linkTunnel: Tunnel = Tunnel.None;

@inline function encapsulation(kind: Tunnel): void {
  if (linkTunnel == Tunnel.None) linkTunnel = kind;
}

export function decodeLink(linkType: u32, p: usize, capLen: u32): i32 {
  vlanId = -1;
  innerVlanId = -1;
  linkTunnel = Tunnel.None;
  linkIpLimit = u32.MAX_VALUE;
  linkTrailer = 0;
  switch (linkType) {
    case LINKTYPE_NFLOG: return decodeNflog(p, capLen);
    case LINKTYPE_ETHERNET: return decodeEthernet(p, capLen);
    case LINKTYPE_FDDI: return afterLlc(p, capLen, FDDI_HEADER_LEN);
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_BSD1:
    case LINKTYPE_RAW_BSD2: return byVersionNibble(p, capLen, 0);
    case LINKTYPE_IPV4: return atOffset(NET_IPV4, capLen, 0);
    case LINKTYPE_IPV6: return atOffset(NET_IPV6, capLen, 0);
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: return decodeNull(p, capLen);
    case LINKTYPE_LINUX_SLL:
      if (capLen < SLL_HEADER_LEN) return NET_TRUNCATED;
      return byEthertype(be16(p + SLL_PROTOCOL), capLen, SLL_HEADER_LEN);
    case LINKTYPE_LINUX_SLL2:
      if (capLen < SLL2_HEADER_LEN) return NET_TRUNCATED;
      return byEthertype(be16(p + SLL2_PROTOCOL), capLen, SLL2_HEADER_LEN);
    default: return NET_UNSUPPORTED;
  }
}

function decodeEthernet(p: usize, capLen: u32): i32 {
  if (capLen < ETH_HEADER_LEN) return NET_TRUNCATED;
  return afterEthertype(p, capLen, ETH_TYPE);
}

/** Follows the type field at `off` through tags and layer-2 encapsulations to the network layer. */
function afterEthertype(p: usize, capLen: u32, typeOffset: u32): i32 {
  let off = typeOffset;
  for (let layer: u32 = 0; layer < MAX_LAYERS; layer++) {
    if (off + 2 > capLen) return NET_TRUNCATED;
    const type = be16(p + off);
    const body = off + 2;
    // Each arm moves `off` to the next type field, after checking the header it skips is captured.
    if (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD) {
      if (body + 2 > capLen) return NET_TRUNCATED;
      const id = <i32>(be16(p + body) & 0x0fff);
      if (vlanId < 0) vlanId = id; else innerVlanId = id;
      off = body + 2;
    } else if (type == ETHERTYPE_PBB) {
      encapsulation(Tunnel.Pbb);
      off = body + PBB_ITAG_LEN + MAC_PAIR_LEN;
    } else if (type == ETHERTYPE_FABRICPATH) {
      encapsulation(Tunnel.FabricPath);
      linkTrailer = FABRICPATH_FCS_LEN;
      off = body + FABRICPATH_TAG_LEN + MAC_PAIR_LEN;
    } else if (type == ETHERTYPE_VNTAG) {
      encapsulation(Tunnel.VnTag);
      off = body + VNTAG_LEN;
    } else if (type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MULTICAST) {
      encapsulation(Tunnel.Mpls);
      return afterMpls(p, capLen, body);
    } else if (type == ETHERTYPE_PPPOE_SESSION) {
      encapsulation(Tunnel.Pppoe);
      return afterPppoe(p, capLen, body);
    } else if (type <= MAX_8023_LENGTH) {
      return afterLlc(p, capLen, body);
    } else {
      return byEthertype(type, capLen, body);
    }
  }
  return NET_OTHER;
}

/** MPLS (RFC 3032): labels up to the bottom of stack, then IP by its version nibble. */
function afterMpls(p: usize, capLen: u32, start: u32): i32 {
  let off = start;
  for (let i: u32 = 0; i < MAX_LAYERS; i++) {
    if (off + MPLS_LABEL_LEN > capLen) return NET_TRUNCATED;
    const bottom = (load<u8>(p + off + 2) & 1) != 0;
    off += MPLS_LABEL_LEN;
    if (bottom) return byVersionNibble(p, capLen, off);
  }
  return NET_OTHER;
}

/** PPPoE session stage (RFC 2516): 6-byte header, then the PPP protocol number. */
function afterPppoe(p: usize, capLen: u32, start: u32): i32 {
  const proto = start + PPPOE_HEADER_LEN;
  if (proto + 2 > capLen) return NET_TRUNCATED;
  // The session payload length covers the PPP protocol field and the packet.
  const payloadLen = be16(p + start + 4);
  linkIpLimit = payloadLen > 2 ? payloadLen - 2 : 0;
  const ppp = be16(p + proto);
  if (ppp == PPP_IPV4) return atOffset(NET_IPV4, capLen, proto + 2);
  if (ppp == PPP_IPV6) return atOffset(NET_IPV6, capLen, proto + 2);
  return NET_OTHER;
}

/** IEEE 802.2 LLC: only SNAP (AA-AA-03) carries an ethertype. */
function afterLlc(p: usize, capLen: u32, start: u32): i32 {
  if (start + LLC_HEADER_LEN > capLen) return NET_TRUNCATED;
  const isSnap = <u32>load<u8>(p + start) == LLC_SNAP_SAP && <u32>load<u8>(p + start + 1) == LLC_SNAP_SAP && <u32>load<u8>(p + start + 2) == LLC_UI;
  if (!isSnap) return NET_OTHER;
  const type = start + LLC_HEADER_LEN + SNAP_HEADER_LEN - 2;
  if (type + 2 > capLen) return NET_TRUNCATED;
  return byEthertype(be16(p + type), capLen, type + 2);
}

function decodeNflog(p: usize, capLen: u32): i32 {
  if (capLen < NFLOG_HEADER_LEN) return NET_TRUNCATED;
  const family = <u32>load<u8>(p);
  let off = NFLOG_HEADER_LEN;
  while (off + NFLOG_TLV_HEADER_LEN <= capLen) {
    const len = <u32>load<u16>(p + off);
    const type = <u32>load<u16>(p + off + 2);
    if (len < NFLOG_TLV_HEADER_LEN) return NET_OTHER;
    if (type == NFULA_PAYLOAD) {
      if (family == NFPROTO_IPV4) return atOffset(NET_IPV4, capLen, off + NFLOG_TLV_HEADER_LEN);
      if (family == NFPROTO_IPV6) return atOffset(NET_IPV6, capLen, off + NFLOG_TLV_HEADER_LEN);
      return NET_OTHER;
    }
    off += (len + 3) & ~3;
  }
  return NET_TRUNCATED;
}

/** An IEEE 802.11 data frame: header (4th address, QoS, HT control), A-MSDU subframe, LLC/SNAP. */
export function decodeWifi(p: usize, capLen: u32): i32 {
  vlanId = -1;
  innerVlanId = -1;
  linkTunnel = Tunnel.None;
  if (capLen < WIFI_HEADER_LEN) return NET_TRUNCATED;
  const fc = <u32>load<u16>(p);
  // Frame control is little endian: type bits 2-3, subtype 4-7, flags in the second byte.
  if (((fc >> 2) & 3) != WIFI_TYPE_DATA || (fc & 0x4000) != 0) return NET_OTHER;
  let off = WIFI_HEADER_LEN;
  if ((fc & 0x0300) == 0x0300) off += WIFI_ADDR4_LEN;
  let amsdu = false;
  if ((fc & 0x0080) != 0) {
    if (off + WIFI_QOS_LEN > capLen) return NET_TRUNCATED;
    amsdu = (load<u8>(p + off) & 0x80) != 0;
    off += WIFI_QOS_LEN;
    if ((fc & 0x8000) != 0) off += WIFI_HT_CONTROL_LEN;
  }
  if (amsdu) off += WIFI_AMSDU_SUBFRAME_LEN;
  return afterLlc(p, capLen, off);
}

function decodeNull(p: usize, capLen: u32): i32 {
  if (capLen < NULL_HEADER_LEN) return NET_TRUNCATED;
  // The family is in the capturing host's byte order (LOOP: network order); accept both.
  let family = load<u32>(p);
  if ((family & 0xffff0000) != 0) family = bswap<u32>(family);
  if (family == AF_INET) return atOffset(NET_IPV4, capLen, NULL_HEADER_LEN);
  if (family == AF_INET6_BSD || family == AF_INET6_FREEBSD || family == AF_INET6_DARWIN || family == AF_INET6_LINUX) {
    return atOffset(NET_IPV6, capLen, NULL_HEADER_LEN);
  }
  return NET_OTHER;
}

function byEthertype(type: u32, capLen: u32, off: u32): i32 {
  if (type == ETHERTYPE_IPV4) return atOffset(NET_IPV4, capLen, off);
  if (type == ETHERTYPE_IPV6) return atOffset(NET_IPV6, capLen, off);
  return NET_OTHER;
}

function byVersionNibble(p: usize, capLen: u32, off: u32): i32 {
  if (capLen <= off) return NET_TRUNCATED;
  const version = load<u8>(p + off) >> 4;
  if (version == 4) return atOffset(NET_IPV4, capLen, off);
  if (version == 6) return atOffset(NET_IPV6, capLen, off);
  return NET_OTHER;
}

@inline function atOffset(kind: i32, capLen: u32, off: u32): i32 {
  netOffset = off;
  return off <= capLen ? kind : NET_TRUNCATED;
}
