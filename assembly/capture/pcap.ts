// Classic libpcap framing (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html): the
// 24-byte file header in either byte order with µs or ns timestamps, then 16-byte record headers.

import { Stat } from "../../src/core/abi";
import { rd32, setSwapped } from "./bytes";
import { count } from "../stats";

export const PCAP_MAGIC_US: u32 = 0xa1b2c3d4;
export const PCAP_MAGIC_NS: u32 = 0xa1b23c4d;
export const PCAP_FILE_HEADER_LEN: u32 = 24;
export const PCAP_RECORD_HEADER_LEN: u32 = 16;

// File header field offsets.
const FH_SNAPLEN: usize = 16;
const FH_LINKTYPE: usize = 20;
// Record header field offsets.
const RH_TS_SEC: usize = 0;
const RH_TS_FRAC: usize = 4;
const RH_CAPLEN: usize = 8;
const RH_ORIGLEN: usize = 12;

/** libpcap refuses records larger than this unless the snap length is larger still. */
const MAX_PLAUSIBLE_CAPLEN: u32 = 262144;

let nanos: bool = false;
let linkType: u32 = 0;
let snaplen: u32 = 0;

/** Whether the four bytes at `p` are one of the four pcap magics; sets the byte order if so. */
export function isPcapMagic(p: usize): bool {
  const m = load<u32>(p);
  if (m == PCAP_MAGIC_US || m == PCAP_MAGIC_NS) { setSwapped(false); return true; }
  if (m == bswap<u32>(PCAP_MAGIC_US) || m == bswap<u32>(PCAP_MAGIC_NS)) { setSwapped(true); return true; }
  return false;
}

/**
 * Reads the file header at `p` (24 bytes present, magic already checked); `counted`: it opens a
 * section (not when a range of the file after its first is read, src/cluster/map.ts).
 */
export function readPcapFileHeader(p: usize, counted: bool = true): void {
  nanos = rd32(p) == PCAP_MAGIC_NS;
  snaplen = rd32(p + FH_SNAPLEN);
  // Bits 0-15 are the link type; the upper bits carry FCS information (draft §4).
  linkType = rd32(p + FH_LINKTYPE) & 0xffff;
  if (counted) count(Stat.Sections);
}

export function pcapLinkType(): u32 { return linkType; }

/** Captured length of the record at `p` (header present). */
@inline export function pcapRecordCapLen(p: usize): u32 {
  return rd32(p + RH_CAPLEN);
}

/** Whether a captured length is one no capture can hold (the record header is damaged). */
@inline export function impossiblePcapCapLen(capLen: u32): bool {
  return capLen > (snaplen > MAX_PLAUSIBLE_CAPLEN ? snaplen : MAX_PLAUSIBLE_CAPLEN);
}

/** How far a resynchronised record's time may lie from the last good record's, in seconds. */
const RESYNC_WINDOW_S: i64 = 86400;

/**
 * Whether the 16 bytes at `p` look like a record header after damage: a possible, non-zero
 * captured length no larger than the original length, a fraction below one second, and a time
 * within a day of `refSec` (unless it is negative: no time to compare with). Used only while
 * resynchronising.
 */
export function plausiblePcapHeader(p: usize, refSec: i64): bool {
  const capLen = rd32(p + RH_CAPLEN);
  if (capLen == 0 || impossiblePcapCapLen(capLen) || rd32(p + RH_ORIGLEN) < capLen) return false;
  if (!plausibleFraction(p)) return false;
  if (refSec < 0) return true;
  const delta = <i64>rd32(p + RH_TS_SEC) - refSec;
  return delta >= -RESYNC_WINDOW_S && delta <= RESYNC_WINDOW_S;
}

/**
 * Whether the 16 bytes at `p` look like a record header where a range of the file starts (a cut
 * at any byte): stricter than after damage, since nothing is known of the records around it: a
 * non-zero captured length within the file's snap length (or 262,144) and no larger than an
 * original length below 256 KiB, and a fraction below one second.
 */
export function strictPcapHeader(p: usize): bool {
  const capLen = rd32(p + RH_CAPLEN), origLen = rd32(p + RH_ORIGLEN);
  const limit = snaplen > 0 && snaplen < MAX_PLAUSIBLE_CAPLEN ? snaplen : MAX_PLAUSIBLE_CAPLEN;
  return capLen != 0 && capLen <= limit && origLen >= capLen && origLen <= MAX_PLAUSIBLE_CAPLEN && plausibleFraction(p);
}

/** Whether the record header at `p` has a sub-second part below one second. */
export function plausibleFraction(p: usize): bool {
  return rd32(p + RH_TS_FRAC) < (nanos ? 1_000_000_000 : 1_000_000);
}

/** Seconds field of the record at `p`. */
@inline export function pcapRecordSec(p: usize): i64 {
  return <i64>rd32(p + RH_TS_SEC);
}

/** Timestamp of the record at `p`, in ns. */
export function pcapRecordTsNs(p: usize): i64 {
  return recordTsNs(<i64>rd32(p + RH_TS_SEC), <i64>rd32(p + RH_TS_FRAC));
}

/** A record's time in ns from its seconds and fraction (micro- or nanoseconds, by the file's magic). */
@inline function recordTsNs(sec: i64, frac: i64): i64 {
  return sec * 1_000_000_000 + (nanos ? frac : frac * 1000);
}

@inline export function pcapRecordOrigLen(p: usize): u32 {
  return rd32(p + RH_ORIGLEN);
}

// The same fields of a file in this machine's byte order (little-endian, as wasm's loads), for the
// record loop of such a file (reader.ts): no test of the byte order per field.

@inline export function nativeRecordCapLen(p: usize): u32 {
  return load<u32>(p + RH_CAPLEN);
}

@inline export function nativeRecordOrigLen(p: usize): u32 {
  return load<u32>(p + RH_ORIGLEN);
}

@inline export function nativeRecordSec(p: usize): i64 {
  return <i64>load<u32>(p + RH_TS_SEC);
}

@inline export function nativeRecordTsNs(p: usize): i64 {
  return recordTsNs(nativeRecordSec(p), <i64>load<u32>(p + RH_TS_FRAC));
}
