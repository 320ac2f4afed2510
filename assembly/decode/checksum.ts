// The Internet checksum (RFC 1071): one's complement sum over 16-bit big-endian words.

/** Adds the bytes [p, p+len) to `acc` as 16-bit big-endian words (an odd last byte is padded). */
export function onesComplementSum(p: usize, len: u32, acc: u64): u64 {
  let sum = acc;
  let i: u32 = 0;
  // Four bytes at a time: the sum of byte-swapped words equals the byte-swapped sum (RFC 1071 §2B).
  for (; i + 4 <= len; i += 4) sum += <u64>bswap<u32>(load<u32>(p + i));
  if (i + 2 <= len) { sum += <u64>bswap<u16>(load<u16>(p + i)); i += 2; }
  if (i < len) sum += <u64>load<u8>(p + i) << 8;
  return sum;
}

/** Folds a running sum to 16 bits; a correct packet folds to 0xffff. */
export function foldChecksum(sum: u64): u32 {
  let s = sum;
  while (s >> 16 != 0) s = (s & 0xffff) + (s >> 16);
  return <u32>s;
}

/** Whether a TCP or UDP checksum over `len` bytes at `p` is right, with its IPv4 or IPv6 pseudo-header. */
export function transportChecksumOk(protocol: u32, p: usize, len: u32, ipVersion: u32, src: usize, dst: usize): bool {
  const addrLen: u32 = ipVersion == 4 ? 4 : 16;
  let sum = onesComplementSum(src, addrLen, 0);
  sum = onesComplementSum(dst, addrLen, sum);
  sum += <u64>protocol + <u64>(len & 0xffff) + <u64>(len >> 16);
  sum = onesComplementSum(p, len, sum);
  return foldChecksum(sum) == 0xffff;
}
