// Community ID v1 (https://github.com/corelight/community-id-spec), seed 0, for TCP: the SHA-1 of
// the seed, the ordered addresses, the protocol, a pad byte and the ordered ports. Made from a
// row's address and port columns where its batch is built (src/core/batch.ts), at the edge like
// the other strings: on a long CLI run that is the output thread, not the core's thread, which the
// hash had cost a tenth of its time with many short connections.

const IPPROTO_TCP = 6;
/** Bytes of a digest. */
export const COMMUNITY_DIGEST_BYTES = 20;

/** The one SHA-1 block every message fits in (at most 40 bytes: two IPv6 addresses). */
const block = new Uint8Array(64);
/** The message schedule, W[0..79]. */
const schedule = new Int32Array(80);

/**
 * Writes the digest of the TCP connection between address `a` (`addrLen` bytes at `bytes[aAt]`)
 * port `aPort` and address `b` port `bPort` to `digest` (COMMUNITY_DIGEST_BYTES from 0). The
 * spec orders the endpoints: the lower address first, on equal addresses the lower port.
 */
export function communityDigest(bytes: Uint8Array, aAt: number, aPort: number, bAt: number, bPort: number, addrLen: number, digest: Uint8Array): void {
  let order = 0;
  for (let i = 0; i < addrLen && order === 0; i++) order = bytes[aAt + i]! - bytes[bAt + i]!;
  const swap = order > 0 || (order === 0 && aPort > bPort);
  const firstAt = swap ? bAt : aAt, secondAt = swap ? aAt : bAt;
  const firstPort = swap ? bPort : aPort, secondPort = swap ? aPort : bPort;
  block.fill(0);
  let n = 2; // the seed (u16, 0)
  for (let i = 0; i < addrLen; i++) block[n + i] = bytes[firstAt + i]!;
  n += addrLen;
  for (let i = 0; i < addrLen; i++) block[n + i] = bytes[secondAt + i]!;
  n += addrLen;
  block[n] = IPPROTO_TCP;
  n += 2; // and the pad byte
  block[n] = firstPort >> 8;
  block[n + 1] = firstPort & 0xff;
  block[n + 2] = secondPort >> 8;
  block[n + 3] = secondPort & 0xff;
  n += 4;
  sha1OneBlock(n, digest);
}

/** SHA-1 (FIPS 180-4) of the first `len` < 56 bytes of `block` (zeros after them). */
function sha1OneBlock(len: number, digest: Uint8Array): void {
  block[len] = 0x80;
  const bits = len * 8; // under 448: the length's last two bytes
  block[62] = bits >> 8;
  block[63] = bits & 0xff;
  const w = schedule;
  for (let t = 0; t < 16; t++) {
    const i = 4 * t;
    w[t] = (block[i]! << 24) | (block[i + 1]! << 16) | (block[i + 2]! << 8) | block[i + 3]!;
  }
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = 0x67452301, b = 0xefcdab89 | 0, c = 0x98badcfe | 0, d = 0x10325476, e = 0xc3d2e1f0 | 0;
  // One loop per stage of 20 rounds; Ch and Maj in their forms with fewer operations.
  for (let t = 0; t < 20; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (d ^ (b & (c ^ d))) + e + 0x5a827999 + w[t]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
  }
  for (let t = 20; t < 40; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[t]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
  }
  for (let t = 40; t < 60; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + e + 0x8f1bbcdc + w[t]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
  }
  for (let t = 60; t < 80; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w[t]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
  }
  putWord(digest, 0, 0x67452301 + a);
  putWord(digest, 4, 0xefcdab89 + b);
  putWord(digest, 8, 0x98badcfe + c);
  putWord(digest, 12, 0x10325476 + d);
  putWord(digest, 16, 0xc3d2e1f0 + e);
}

/** The low 32 bits of `v`, big endian, at `at`. */
function putWord(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}
