// Who is the originator: Zeek's choice at connection creation (TCPAnalyzer::WantConnection with
// likely_server_ports), and FlipRoles when later packets prove it wrong.

import { Closer, Event } from "../../src/core/abi";
import { Flow, swapEndpoints, endpointOf } from "./record";
import { putEvent, DIR_NONE } from "../out/events";
import { frameIndex, frameTsNs } from "../capture/frame";
import { appendLetter } from "./history";
import { TH_ACK, TH_SYN } from "../decode/tcp";

const LETTER_CARET: u32 = 0x5e;
const HOUR_NS: i64 = 3_600_000_000_000;

/**
 * TCP entries of Zeek's likely_server_ports with the default scripts (base/protocols/*: ftp, ssh,
 * smtp, dns, finger, http, krb, dce-rpc, smb, imap, ldap, modbus, ssl, socks, rdp, xmpp, irc,
 * dnp3), sorted for binary search.
 */
const LIKELY_SERVER_PORTS: StaticArray<u16> = [
  21, 22, 25, 53, 79, 80, 81, 88, 135, 139, 143, 389, 443, 445, 502, 563, 585, 587, 614, 631,
  636, 989, 990, 992, 993, 995, 1080, 2811, 3128, 3268, 3389, 5222, 5223, 5269, 6666, 6667, 6668,
  6669, 8000, 8080, 8888, 20000,
];

export function isLikelyServerPort(port: u32): bool {
  let lo = 0, hi = LIKELY_SERVER_PORTS.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = <u32>unchecked(LIKELY_SERVER_PORTS[mid]);
    if (v == port) return true;
    if (v < port) lo = mid + 1; else hi = mid - 1;
  }
  return false;
}

/**
 * WantConnection: whether the packet that creates a connection was sent by the responder. A pure
 * SYN never flips; otherwise a likely server source port does, unless both ports are likely, when
 * only a non-SYN from the lower port flips.
 */
export function flipAtCreation(flags: u32, srcPort: u32, dstPort: u32): bool {
  const syn = (flags & TH_SYN) != 0;
  if (syn && (flags & TH_ACK) == 0) return false;
  if (!isLikelyServerPort(srcPort)) return false;
  if (isLikelyServerPort(dstPort)) return !syn && srcPort < dstPort;
  return true;
}

/** Connection::FlipRoles + TCPSessionAdapter::FlipRoles: swap everything, history gets '^'. */
export function flipRoles(f: Flow): void {
  f.origIsA = !f.origIsA;
  swapEndpoints(f);
  const seen = f.firstPacketSeen;
  f.firstPacketSeen = <u8>(((seen & 1) << 1) | ((seen & 2) >> 1));
  f.isPartial = false;
  if (f.closer == Closer.Orig) f.closer = <u8>Closer.Resp;
  else if (f.closer == Closer.Resp) f.closer = <u8>Closer.Orig;
  appendLetter(f, LETTER_CARET);
  putEvent(f.connId, frameTsNs, frameIndex, DIR_NONE, Event.Flip, endpointOf(f, 0).rfcState, endpointOf(f, 1).rfcState);
}

/** Port numbers of the flow as originator and responder. */
export function origPort(f: Flow): u32 { return f.origIsA ? <u32>f.portA : <u32>f.portB; }
export function respPort(f: Flow): u32 { return f.origIsA ? <u32>f.portB : <u32>f.portA; }

/**
 * connection_established in scripts/base/protocols/conn/inactivity.zeek: interactive services
 * (ftp, ssh, telnet, rlogin) get a one-hour inactivity timeout.
 */
export function onConnectionEstablished(f: Flow): void {
  let port = respPort(f);
  const o = origPort(f);
  if (!isLikelyServerPort(port) && isLikelyServerPort(o)) port = o;
  if (port == 21 || port == 22 || port == 23 || port == 513) f.inactivityNs = HOUR_NS;
}
