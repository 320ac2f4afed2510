// Byte-order aware loads for the capture containers. The byte order is decided once per file
// (pcap) or per section (pcapng) and kept in `swapped`.

export let swapped: bool = false;

export function setSwapped(value: bool): void {
  swapped = value;
}

@inline export function rd16(p: usize): u32 {
  const v = load<u16>(p);
  return swapped ? <u32>bswap<u16>(v) : <u32>v;
}

@inline export function rd32(p: usize): u32 {
  const v = load<u32>(p);
  return swapped ? bswap<u32>(v) : v;
}

@inline export function rd64(p: usize): u64 {
  const v = load<u64>(p);
  return swapped ? bswap<u64>(v) : v;
}

/** Network byte order (big endian), for protocol headers. */
@inline export function be16(p: usize): u32 {
  return <u32>bswap<u16>(load<u16>(p));
}

@inline export function be32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

/**
 * Copies an address of 4 or 16 bytes with word loads and stores: in Node 20's V8 a memory.copy is
 * a call into the engine, too dear for a few bytes per segment or row.
 */
@inline export function copyAddress(to: usize, from: usize, addrLen: u32): void {
  if (addrLen == 4) {
    store<u32>(to, load<u32>(from));
  } else {
    store<u64>(to, load<u64>(from));
    store<u64>(to, load<u64>(from, 8), 8);
  }
}
