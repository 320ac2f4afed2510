// A packet's encapsulation as Zeek compares it between the packets of one connection
// (Connection::CheckEncapsulation in Conn.cc; EncapsulatingConn and EncapsulationStack
// operator== in TunnelEncapsulation.h/.cc), folded into one 64-bit value: 0 for no tunnel.
//
// Zeek's layers, outermost first: an IP or GRE tunnel (IPTunnel.cc) is its type, the outer
// header's protocol and its two addresses in either order (its uid stands for the address pair
// while the tunnel is active within Tunnel::ip_tunnel_timeout, 24 h); a tunnel carried by UDP
// (build_inner_packet) is its type and the UDP connection, uid included, which udp.ts numbers.
// GRE in UDP is a GRE tunnel of protocol 17, as Zeek's GRE analyzer makes it.

import { Tunnel } from "../../src/core/abi";
import { orderPair, pairA0, pairA1, pairB0, pairB1 } from "./ip";

/** The current packet's encapsulation (see above); decodeFrame builds it layer by layer. */
export let encapsulation: u64 = 0;

/** Zeek's Tunnel::Type of one of synfin's tunnel kinds. */
function zeekType(tunnel: Tunnel): u64 {
  switch (tunnel) {
    case Tunnel.IpInIp: return 1;
    case Tunnel.Gre: case Tunnel.Erspan: return 2;
    case Tunnel.Vxlan: return 3;
    case Tunnel.Geneve: return 4;
    case Tunnel.GtpU: return 5;
    case Tunnel.Teredo: return 6;
    case Tunnel.Ayiya: return 7;
    default: return 8;
  }
}

export function clearEncapsulation(): void {
  encapsulation = 0;
}

/** Adds an IP or GRE tunnel between `src` and `dst` (`addrLen` bytes each), outer protocol `ipProtocol`. */
export function addIpTunnel(tunnel: Tunnel, ipProtocol: u32, src: usize, dst: usize, addrLen: u32): void {
  // Reversing the endpoints is still the same tunnel.
  orderPair(src, 0, dst, 0, addrLen);
  let h = mix(encapsulation, zeekType(tunnel) | <u64>ipProtocol << 8 | <u64>addrLen << 16);
  h = mix(h, pairA0);
  h = mix(h, pairA1);
  h = mix(h, pairB0);
  set(mix(h, pairB1));
}

/** Adds a tunnel carried by the UDP connection numbered `instance` (udp.ts). */
export function addUdpTunnel(tunnel: Tunnel, instance: u32): void {
  set(mix(encapsulation, zeekType(tunnel) | <u64>instance << 32));
}

/** A tunnel never folds to 0, the value of no tunnel. */
@inline function set(h: u64): void {
  encapsulation = h != 0 ? h : 1;
}

/** One step of a 64-bit hash (SplitMix64's finaliser over the running value and the word). */
@inline function mix(h: u64, word: u64): u64 {
  let x = (h ^ word) + 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}
