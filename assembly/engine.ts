// From framed record to connection: timers first (on packet time), then link, IP and TCP
// decoding, then the flow layer. Every record lands in exactly one accounting bucket.

import { Stat } from "../src/core/abi";
import { Tunnel } from "../src/core/abi";
import { decodeLink, decodeWifi, netOffset, vlanId, innerVlanId, linkTunnel, linkIpLimit, linkTrailer, LINKTYPE_ETHERNET, NET_IPV4, NET_OTHER, NET_TRUNCATED, NET_UNSUPPORTED } from "./decode/link";
import { decodeIp, ipVersion, ipSrc, ipDst, ipTotalLen, ipProtocol, l4Offset, l4Len, ipFragmentWhole, ipFragmentOffset, ipMoreFragments } from "./decode/ip";
import { addFragment, datagramLen } from "./decode/fragments";
import { decapsulate, innerOffset, innerTunnel, onTunnelPort, IPPROTO_UDP, UDP_HEADER_LEN, NET_ETHERNET, NET_WIFI } from "./decode/tunnel";
import { addIpTunnel, addUdpTunnel, clearEncapsulation, encapsulation } from "./decode/encap";
import { udpChecksumOk, udpInstance } from "./decode/udp";
import { be16 } from "./capture/bytes";
import { NOT_ANALYZED, decodeTcp, tcpChecksumOk, tcpSrcPort, tcpDstPort, tcpSeq, tcpAck, tcpFlags, tcpWindow, tcpHeaderLen, tcpPayloadLen, tcpHeaderCut, setAnalysisLen } from "./decode/tcp";
import { setKey, vlanKeyOf } from "./flow/table";
import { advanceTime, trackSegmentAs, setClockIndex, networkTimeNs, DROP_NONE, DROP_CHECKSUM, DROP_HEADER_CUT } from "./flow/tracker";
import { outFull } from "./out/columns";
import { mode, MODE_FRAME, MODE_MAP, MODE_SINGLE, MODE_REPLICA, frameOut, frameInput, mapSegment, ownsKey, deferFragments, STAT_DEFERRED, FILTERED_TIME, LINKTYPE_FILTERED } from "./parallel/parts";
import { frameIndex } from "./capture/frame";
import { frameRoom } from "./out/side";
import { count } from "./stats";
import { trackCommonFrame } from "./common";
import { fastPath, countGeneralTcp } from "./flow/path";
import { filterFrame, FILTER_REJECT, FILTER_REFUSED } from "./filter";
import { swapped } from "./capture/bytes";
import { setFrame, skipFrame } from "./capture/frame";

export let verifyChecksums: bool = false;

export function setVerifyChecksums(on: bool): void {
  verifyChecksums = on;
}

/** Zeek's network_time at a frame the framer of a parallel run decodes (its descriptor's). */
let framerClockNs: i64 = i64.MIN_VALUE;

/** Sets the clock for a frame decoded away from the flow layer's (a parallel run's framer). */
export function setDecodeClock(clockNs: i64): void {
  framerClockNs = clockNs;
}

/** Set when deliverFrame refused a record because the filter cannot be applied to its link type. */
export let frameRefused: bool = false;

export function resetEngine(): void {
  frameRefused = false;
}

/**
 * Whether deliverFrame tries the common frame (trackCommonFrame): the one-step paths on, no
 * checksums to verify, and a flow layer that takes the segment straight away (a single pass or a
 * replica). One flag, set whenever one of these changes, rather than their four tests per frame.
 */
let commonFrames: bool = false;

export function updateCommonFrames(): void {
  commonFrames = fastPath && !verifyChecksums && (mode == MODE_SINGLE || mode == MODE_REPLICA);
}

/**
 * deliverFrame with a capture filter set (the readers call it when `filterOn`): the filter's
 * verdict first. Returns false, consuming nothing, also when the filter cannot be applied to the
 * record's link type (`frameRefused`: the reader stops).
 */
export function deliverFiltered(tsNs: i64, capLen: u32, origLen: u32, linkType: u32, iface: u32, hasIface: bool, data: usize): bool {
  const verdict = filterFrame(linkType, swapped, data, capLen, origLen);
  if (verdict == FILTER_REFUSED) {
    frameRefused = true;
    return false;
  }
  if (verdict == FILTER_REJECT) return skipRecord();
  return deliverFrame(tsNs, capLen, origLen, linkType, iface, hasIface, data);
}

/**
 * Takes one framed record. Returns false, consuming nothing, when the output batch must be
 * drained first (timers due before this record, or the row a port reuse may write).
 */
@inline export function deliverFrame(tsNs: i64, capLen: u32, origLen: u32, linkType: u32, iface: u32, hasIface: bool, data: usize): bool {
  if (mode == MODE_FRAME) {
    // A parallel run's framer: workers decode the frame; the reducers' clocks take its time.
    count(Stat.Records);
    frameOut(tsNs, capLen, origLen, linkType, iface, hasIface, data, frameInput);
    return true;
  }
  setClockIndex(frameIndex + 1);
  if (!advanceTime(tsNs)) return false;
  // Room for the rows a port reuse and an eviction may write (a batch not full yet has its slack,
  // Abi.BatchSlack, past it), and the side tables' of one segment.
  if (outFull() || !frameRoom()) return false;
  setFrame(tsNs, iface, hasIface);
  count(Stat.Records);
  // The common frame in one step (assembly/common.ts); in a single pass or a replica, whose flow
  // layer takes it straight away. Tried here, before decodeFrame, whose general path makes a
  // call to it dear.
  if (linkType == LINKTYPE_ETHERNET && commonFrames && trackCommonFrame(tsNs, data, capLen, origLen)) count(Stat.TcpPackets);
  else count(decodeFrame(tsNs, capLen, origLen, linkType, data));
  return true;
}

/**
 * A record the filter rejected: counted, and given its index, but otherwise as if the capture did
 * not hold it (as the capture tcpdump writes with the filter does not): it moves no clock and
 * runs no timer, not even one already due (a packet whose time lies behind the clock can arm
 * one). A parallel run's framer puts it in the time track as FILTERED_TIME, which the reducers
 * pass over alike.
 */
function skipRecord(): bool {
  if (mode == MODE_FRAME) {
    count(Stat.Records);
    frameOut(FILTERED_TIME, 0, 0, LINKTYPE_FILTERED, 0, false, frameInput, frameInput);
    return true;
  }
  skipFrame();
  count(Stat.Records);
  count(Stat.Filtered);
  return true;
}

/** Tunnels inside tunnels are followed this deep. */
const MAX_TUNNEL_DEPTH: u32 = 4;

/** A frame's link, network and transport layers decoded by the general path, then the flow layer. */
export function decodeFrame(tsNs: i64, capLen: u32, origLen: u32, linkType: u32, data: usize): Stat {
  let net = decodeLink(linkType, data, capLen);
  if (net == NET_UNSUPPORTED) return Stat.UnsupportedLinkType;
  // The connection's VLAN tags are those of its packet's own link layer: Zeek's inner packet of a
  // tunnel starts without any (Packet::Init), and takes those of an inner Ethernet frame.
  let vlan = vlanId, innerVlan = innerVlanId;
  const trailer = linkTrailer;
  clearEncapsulation();
  let tunnel = linkTunnel;
  let base = data;
  let cap = capLen;
  let wire = origLen > capLen ? origLen : capLen;
  let ip: usize = 0, ipCap: u32 = 0;
  let netOff = netOffset;
  let ipLimit = linkIpLimit;
  let verifyIp = verifyChecksums;
  let inFrame = true; // the packet's bytes are the frame's (not a reassembled datagram)
  for (let depth: u32 = 0; ; depth++) {
    if (net == NET_TRUNCATED) return depth == 0 ? Stat.TruncatedHeader : Stat.NonTcpIp;
    if (net == NET_OTHER) return depth == 0 ? Stat.NonIp : Stat.NonTcpIp;
    ip = base + netOff;
    ipCap = cap - netOff;
    const ipWire = wire > netOff ? wire - netOff : 0;
    const ipStat = decodeIp(net, ip, ipCap, ipWire, verifyIp);
    if (ipStat == Stat.TcpPackets) break;
    if (ipStat == Stat.IpFragment && ipFragmentWhole && net == NET_IPV4 && depth < MAX_TUNNEL_DEPTH) {
      // Fragment state is sequential: a parallel map worker leaves the frame to the framer.
      if (deferFragments) return STAT_DEFERRED;
      // Held until its datagram is whole; the fragment completing it carries on with the datagram.
      const datagram = addFragment(ip, l4Offset, l4Len, ipFragmentOffset, ipMoreFragments, tsNs);
      if (datagram == 0) return Stat.IpFragment;
      base = datagram;
      inFrame = false;
      cap = datagramLen;
      wire = datagramLen;
      netOff = 0;
      ipLimit = u32.MAX_VALUE;
      verifyIp = false; // each fragment's header was checked; the rebuilt one has no checksum
      continue;
    }
    if (ipStat != Stat.NonTcpIp || depth == MAX_TUNNEL_DEPTH || l4Offset > ipCap) return ipStat;
    // A tunnel: carry on with the packet inside it.
    const payload = ip + l4Offset, payloadCap = ipCap - l4Offset;
    const inner = decapsulate(ipProtocol, payload, payloadCap);
    const addrLen: u32 = ipVersion == 4 ? 4 : 16;
    if (ipProtocol == IPPROTO_UDP && payloadCap >= UDP_HEADER_LEN && (inner != NET_OTHER || onTunnelPort(be16(payload), be16(payload + 2)))) {
      // Zeek's UDP connection of the datagram (UDPAnalyzer): looked up or made, then the checksum
      // checked, then its last time moved on, then the tunnel's analyzer called.
      if (deferFragments) return STAT_DEFERRED;
      const datagramLen = l4Len != 0 ? l4Len : payloadCap;
      const checksumOk = !verifyChecksums || wire > cap || payloadCap < datagramLen ||
        udpChecksumOk(payload, datagramLen, ipVersion, ipSrc, ipDst);
      // The UDP connections' timers run on Zeek's network_time at this frame.
      const clockNs = mode == MODE_FRAME ? framerClockNs : networkTimeNs;
      const instance = udpInstance(ipSrc, ipDst, addrLen, payload, vlanKeyOf(vlan, innerVlan), tsNs, clockNs, checksumOk);
      if (!checksumOk) return Stat.BadChecksum;
      if (inner == NET_OTHER) return ipStat;
      if (innerTunnel == Tunnel.Gre) addIpTunnel(innerTunnel, ipProtocol, ipSrc, ipDst, addrLen);
      else addUdpTunnel(innerTunnel, instance);
    } else {
      if (inner == NET_OTHER) return ipStat;
      addIpTunnel(innerTunnel, ipProtocol, ipSrc, ipDst, addrLen);
    }
    const skip = l4Offset + innerOffset;
    if (skip > ipCap) return ipStat;
    if (tunnel == Tunnel.None) tunnel = innerTunnel;
    base = ip + skip;
    cap = ipCap - skip;
    wire = ipWire > skip ? ipWire - skip : 0;
    verifyIp = verifyChecksums;
    if (inner == NET_ETHERNET || inner == NET_WIFI) {
      net = inner == NET_ETHERNET ? decodeLink(LINKTYPE_ETHERNET, base, cap) : decodeWifi(base, cap);
      netOff = netOffset;
      ipLimit = linkIpLimit;
      vlan = vlanId;
      innerVlan = innerVlanId;
    } else {
      net = inner;
      netOff = 0;
      ipLimit = u32.MAX_VALUE;
      vlan = -1;
      innerVlan = -1;
    }
  }
  const tcp = ip + l4Offset;
  const tcpCap = ipCap > l4Offset ? ipCap - l4Offset : 0;
  const tcpStat = decodeTcp(tcp, tcpCap, l4Len);
  if (tcpStat != Stat.TcpPackets) return tcpStat;
  // Zeek checks the TCP checksum only when the whole segment was captured.
  const badChecksum = verifyChecksums && tcpCap >= l4Len && !tcpChecksumOk(tcp, l4Len, ipVersion, ipSrc, ipDst);
  // Zeek looks the connection up (creating it) before it drops a segment for a bad checksum or
  // for options cut by the snap length: so do we.
  const drop = tcpHeaderCut ? DROP_HEADER_CUT : badChecksum ? DROP_CHECKSUM : DROP_NONE;
  const captured = tcpCap > tcpHeaderLen ? tcpCap - tcpHeaderLen : 0;
  const linkBound = ipLimit > l4Offset + tcpHeaderLen ? ipLimit - l4Offset - tcpHeaderLen : 0;
  // Wireshark takes the frame's last `trailer` bytes for the link's: a TCP header reaching into them is a short segment to it.
  const headerEnd = tcp - data + <usize>tcpHeaderLen;
  const shortToWireshark = trailer > 0 && inFrame && headerEnd <= <usize>capLen && headerEnd > <usize>(capLen - trailer);
  setAnalysisLen(shortToWireshark ? NOT_ANALYZED : linkBound < tcpPayloadLen ? linkBound : tcpPayloadLen);
  if (mode == MODE_FRAME || mode == MODE_MAP) {
    mapSegment(ipSrc, ipDst, ipVersion == 4 ? 4 : 16, vlan, innerVlan, tcpFlags, tcpSrcPort, tcpDstPort, tcpSeq, tcpAck, tcpWindow, tcpPayloadLen, captured < tcpPayloadLen ? captured : tcpPayloadLen, ipTotalLen, drop, tunnel, encapsulation);
  } else {
    setKey(ipSrc, tcpSrcPort, ipDst, tcpDstPort, ipVersion == 4 ? 4 : 16, vlan, innerVlan);
    // A replica counts every segment in its bucket, as a single pass does, but tracks only its own.
    if (ownsKey()) trackSegmentAs(tsNs, tcpFlags, tcpSeq, tcpAck, tcpWindow, tcpPayloadLen, captured < tcpPayloadLen ? captured : tcpPayloadLen, ipTotalLen, drop, tunnel, encapsulation);
  }
  if (drop == DROP_HEADER_CUT) return Stat.TruncatedHeader;
  if (drop == DROP_CHECKSUM) return Stat.BadChecksum;
  countGeneralTcp();
  return Stat.TcpPackets;
}
