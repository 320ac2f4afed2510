// Community ID flow hash v1 (https://github.com/corelight/community-id-spec), seed 0, for TCP:
// SHA-1 over seed, ordered addresses, protocol, pad and ordered ports. The host base64-encodes it.

import { copyAddress } from "../capture/bytes";

const SHA1_BLOCK: usize = memory.data(64, 8);
const SHA1_W: usize = memory.data(80 * 4, 8);
const IPPROTO_TCP: u8 = 6;

/** Writes the 20-byte digest for the flow (addresses of `addrLen` bytes) to `out`. */
export function communityId(src: usize, sport: u32, dst: usize, dport: u32, addrLen: u32, out: usize): void {
  const order = compareAddresses(src, dst, addrLen);
  const swap = order > 0 || (order == 0 && sport > dport);
  const a = swap ? dst : src;
  const b = swap ? src : dst;
  const ap = swap ? dport : sport;
  const bp = swap ? sport : dport;
  // The block word by word (no engine calls): seed (u16, 0), addresses, protocol, pad, ports; all
  // big endian; zeros after.
  const m = SHA1_BLOCK;
  for (let i: usize = 0; i < 64; i += 8) store<u64>(m + i, 0);
  let n: usize = 2;
  copyAddress(m + n, a, addrLen); n += addrLen;
  copyAddress(m + n, b, addrLen); n += addrLen;
  store<u8>(m + n, IPPROTO_TCP); n += 2;
  store<u16>(m + n, bswap<u16>(<u16>ap)); n += 2;
  store<u16>(m + n, bswap<u16>(<u16>bp)); n += 2;
  sha1OneBlock(m, n, out);
}

/** memcmp's sign for two addresses of `addrLen` bytes (network order: byte by byte is big endian). */
function compareAddresses(x: usize, y: usize, addrLen: u32): i32 {
  for (let i: usize = 0; i < <usize>addrLen; i += 4) {
    const p = bswap<u32>(load<u32>(x + i)), q = bswap<u32>(load<u32>(y + i));
    if (p != q) return p < q ? -1 : 1;
  }
  return 0;
}

/** SHA-1 (FIPS 180-4) of a message of `len` < 56 bytes held in the 64-byte block `m`. */
function sha1OneBlock(m: usize, len: usize, out: usize): void {
  store<u8>(m + len, 0x80);
  const w = SHA1_W;
  // The words that hold message bytes or the 0x80 pad, in big endian; the zeros after them, and
  // the bit length (under 448: the last word alone).
  const used = (len + 4) & ~3;
  for (let i: usize = 0; i < used; i += 4) store<u32>(w + i, bswap<u32>(load<u32>(m + i)));
  for (let i = used; i < 60; i += 4) store<u32>(w + i, 0);
  store<u32>(w + 60, <u32>len * 8);
  // W[t] = ROTL1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]), from p = &W[t-16] (offsets stay positive);
  // four words per pass (each loop pass pays the engine's interrupt check).
  for (let p = w; p < w + 64 * 4; p += 16) {
    store<u32>(p, rotl<u32>(load<u32>(p, 52) ^ load<u32>(p, 32) ^ load<u32>(p, 8) ^ load<u32>(p), 1), 64);
    store<u32>(p, rotl<u32>(load<u32>(p, 56) ^ load<u32>(p, 36) ^ load<u32>(p, 12) ^ load<u32>(p, 4), 1), 68);
    store<u32>(p, rotl<u32>(load<u32>(p, 60) ^ load<u32>(p, 40) ^ load<u32>(p, 16) ^ load<u32>(p, 8), 1), 72);
    store<u32>(p, rotl<u32>(load<u32>(p, 64) ^ load<u32>(p, 44) ^ load<u32>(p, 20) ^ load<u32>(p, 12), 1), 76);
  }
  let a: u32 = 0x67452301, b: u32 = 0xefcdab89, c: u32 = 0x98badcfe, d: u32 = 0x10325476, e: u32 = 0xc3d2e1f0;
  // Five rounds per step, the working variables renamed in turn rather than moved (FIPS 180-4
  // §6.1.2 step 3 with T's assignments folded); one loop per stage of 20 rounds. Ch and Maj in
  // their forms with fewer operations: Ch(x,y,z) = z ^ (x & (y ^ z)), Maj = (x & y) | (z & (x | y)).
  for (let p = w; p < w + 20 * 4; p += 20) {
    e += rotl<u32>(a, 5) + (d ^ (b & (c ^ d))) + 0x5a827999 + load<u32>(p); b = rotl<u32>(b, 30);
    d += rotl<u32>(e, 5) + (c ^ (a & (b ^ c))) + 0x5a827999 + load<u32>(p, 4); a = rotl<u32>(a, 30);
    c += rotl<u32>(d, 5) + (b ^ (e & (a ^ b))) + 0x5a827999 + load<u32>(p, 8); e = rotl<u32>(e, 30);
    b += rotl<u32>(c, 5) + (a ^ (d & (e ^ a))) + 0x5a827999 + load<u32>(p, 12); d = rotl<u32>(d, 30);
    a += rotl<u32>(b, 5) + (e ^ (c & (d ^ e))) + 0x5a827999 + load<u32>(p, 16); c = rotl<u32>(c, 30);
  }
  for (let p = w + 20 * 4; p < w + 40 * 4; p += 20) {
    e += rotl<u32>(a, 5) + (b ^ c ^ d) + 0x6ed9eba1 + load<u32>(p); b = rotl<u32>(b, 30);
    d += rotl<u32>(e, 5) + (a ^ b ^ c) + 0x6ed9eba1 + load<u32>(p, 4); a = rotl<u32>(a, 30);
    c += rotl<u32>(d, 5) + (e ^ a ^ b) + 0x6ed9eba1 + load<u32>(p, 8); e = rotl<u32>(e, 30);
    b += rotl<u32>(c, 5) + (d ^ e ^ a) + 0x6ed9eba1 + load<u32>(p, 12); d = rotl<u32>(d, 30);
    a += rotl<u32>(b, 5) + (c ^ d ^ e) + 0x6ed9eba1 + load<u32>(p, 16); c = rotl<u32>(c, 30);
  }
  for (let p = w + 40 * 4; p < w + 60 * 4; p += 20) {
    e += rotl<u32>(a, 5) + ((b & c) | (d & (b | c))) + 0x8f1bbcdc + load<u32>(p); b = rotl<u32>(b, 30);
    d += rotl<u32>(e, 5) + ((a & b) | (c & (a | b))) + 0x8f1bbcdc + load<u32>(p, 4); a = rotl<u32>(a, 30);
    c += rotl<u32>(d, 5) + ((e & a) | (b & (e | a))) + 0x8f1bbcdc + load<u32>(p, 8); e = rotl<u32>(e, 30);
    b += rotl<u32>(c, 5) + ((d & e) | (a & (d | e))) + 0x8f1bbcdc + load<u32>(p, 12); d = rotl<u32>(d, 30);
    a += rotl<u32>(b, 5) + ((c & d) | (e & (c | d))) + 0x8f1bbcdc + load<u32>(p, 16); c = rotl<u32>(c, 30);
  }
  for (let p = w + 60 * 4; p < w + 80 * 4; p += 20) {
    e += rotl<u32>(a, 5) + (b ^ c ^ d) + 0xca62c1d6 + load<u32>(p); b = rotl<u32>(b, 30);
    d += rotl<u32>(e, 5) + (a ^ b ^ c) + 0xca62c1d6 + load<u32>(p, 4); a = rotl<u32>(a, 30);
    c += rotl<u32>(d, 5) + (e ^ a ^ b) + 0xca62c1d6 + load<u32>(p, 8); e = rotl<u32>(e, 30);
    b += rotl<u32>(c, 5) + (d ^ e ^ a) + 0xca62c1d6 + load<u32>(p, 12); d = rotl<u32>(d, 30);
    a += rotl<u32>(b, 5) + (c ^ d ^ e) + 0xca62c1d6 + load<u32>(p, 16); c = rotl<u32>(c, 30);
  }
  store<u32>(out, bswap<u32>(0x67452301 + a));
  store<u32>(out + 4, bswap<u32>(0xefcdab89 + b));
  store<u32>(out + 8, bswap<u32>(0x98badcfe + c));
  store<u32>(out + 12, bswap<u32>(0x10325476 + d));
  store<u32>(out + 16, bswap<u32>(0xc3d2e1f0 + e));
}
