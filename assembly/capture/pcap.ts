// Classic libpcap framing (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html): the
// 24-byte file header in either byte order with µs or ns timestamps, then 16-byte record headers.

import { ErrorCode, Stat, Status } from "../../src/abi";
import { rd32, setSwapped } from "./bytes";
import { count, fail } from "../stats";

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

/** Reads the file header at `p` (24 bytes present, magic already checked). */
export function readPcapFileHeader(p: usize): void {
  nanos = rd32(p) == PCAP_MAGIC_NS;
  snaplen = rd32(p + FH_SNAPLEN);
  // Bits 0-15 are the link type; the upper bits carry FCS information (draft §4).
  linkType = rd32(p + FH_LINKTYPE) & 0xffff;
  count(Stat.Sections);
}

export function pcapLinkType(): u32 { return linkType; }

/** Captured length of the record at `p` (header present). */
@inline export function pcapRecordCapLen(p: usize): u32 {
  return rd32(p + RH_CAPLEN);
}

/** Whether a record's captured length is one no capture can hold (the file is damaged). */
export function checkPcapCapLen(capLen: u32, offset: u64): Status {
  const limit = snaplen > MAX_PLAUSIBLE_CAPLEN ? snaplen : MAX_PLAUSIBLE_CAPLEN;
  if (capLen > limit) return fail(ErrorCode.ImpossibleRecordLength, offset);
  return Status.NeedMore;
}

/** Timestamp of the record at `p`, in ns. */
export function pcapRecordTsNs(p: usize): i64 {
  const sec = <i64>rd32(p + RH_TS_SEC);
  const frac = <i64>rd32(p + RH_TS_FRAC);
  return sec * 1_000_000_000 + (nanos ? frac : frac * 1000);
}

@inline export function pcapRecordOrigLen(p: usize): u32 {
  return rd32(p + RH_ORIGLEN);
}
