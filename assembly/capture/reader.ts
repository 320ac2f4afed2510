// The record loop: finds the container format from the first bytes, then hands every whole
// record of the input to `deliverFrame`. A record cut by the end of the input is "need more
// bytes" (the host carries the tail over); cut by the end of the file, it is counted as truncated.
//
// Damage inside a file (an impossible record length, a pcapng trailer that disagrees, a section
// of unknown version) is counted by reason and skipped: the bytes after it are scanned for the
// next plausible record and reading resumes there, the skipped bytes counted too. pcapng repeats
// every block's length in its trailer, which makes a false resumption unlikely; for pcap the
// candidate header and the one after it must both be plausible. A file in which no record at all
// could be read is refused with the error of its first damage.

import { ErrorCode, Stat, Status } from "../../src/core/abi";
import { count, countBy, fail, errorCode, clearError, statValue } from "../stats";
import { swapped } from "./bytes";
import {
  isPcapMagic, readPcapFileHeader, pcapLinkType, pcapRecordCapLen, pcapRecordOrigLen,
  pcapRecordTsNs, pcapRecordSec, impossiblePcapCapLen, plausiblePcapHeader, strictPcapHeader, plausibleFraction,
  nativeRecordCapLen, nativeRecordOrigLen, nativeRecordSec, nativeRecordTsNs, PCAP_FILE_HEADER_LEN, PCAP_RECORD_HEADER_LEN,
} from "./pcap";
import {
  BT_SHB, blockLength, parseBlock, isPacketBlock, hasPacket, unknownInterface, resetPcapng,
  pktTsNs, pktCapLen, pktOrigLen, pktLinkType, pktInterface, pktData,
  resyncCandidate, CANDIDATE_YES, CANDIDATE_NEED_MORE, commonPacketBlock,
} from "./pcapng";
import { deliverFrame, deliverFiltered, frameRefused } from "../engine";
import { filterOn } from "../filter";
import { fastPath } from "../flow/path";

const FORMAT_NONE: u32 = 0;
const FORMAT_PCAP: u32 = 1;
const FORMAT_PCAPNG: u32 = 2;
const PCAPNG_BLOCK_PEEK: u32 = 12;

let format: u32 = FORMAT_NONE;
/** Offset in the current file of the first byte of the current input. */
let fileOffset: u64 = 0;
/** Bytes of the input consumed by the last readRecords call. */
export let consumed: u32 = 0;

/** Whether reading is looking for the next plausible record after damage. */
let resyncing: bool = false;
/** With `resyncing` in pcapng: only a new section will do. */
let resyncSectionOnly: bool = false;
/** Whole records (pcap) or blocks (pcapng) read in this file. */
let goodRecords: u64 = 0;
/** The file's first damage, the error if no record of the file can be read. */
let firstDamageCode: ErrorCode = ErrorCode.None;
let firstDamageOffset: u64 = 0;
/**
 * Seconds of the last good pcap record, else of the damaged header when its time looks sound, else
 * -1: the time resynchronised records must lie near.
 */
let lastSec: i64 = -1;

export function beginFile(): void {
  rangeStart = 0;
  rangeStop = u64.MAX_VALUE;
  rangeSyncing = false;
  rangeFirst = -1;
  rangeEnd = -1;
  format = FORMAT_NONE;
  fileOffset = 0;
  resyncing = false;
  resyncSectionOnly = false;
  goodRecords = 0;
  firstDamageCode = ErrorCode.None;
  firstDamageOffset = 0;
  lastSec = -1;
  resetPcapng();
}

export function readRecords(base: usize, len: u32, atEof: bool): Status {
  consumed = 0;
  let p: u32 = 0;
  if (format == FORMAT_NONE) {
    if (len < 4) return atEof ? fail(ErrorCode.TruncatedFileHeader, fileOffset) : Status.NeedMore;
    if (isPcapMagic(base)) {
      if (len < PCAP_FILE_HEADER_LEN) return atEof ? fail(ErrorCode.TruncatedFileHeader, fileOffset) : Status.NeedMore;
      readPcapFileHeader(base, rangeStart == 0);
      p = PCAP_FILE_HEADER_LEN;
      format = FORMAT_PCAP;
      if (rangeStart > 0) {
        // A range of the file: its bytes follow the header in the input; the header was counted by the range before.
        fileOffset = rangeStart - PCAP_FILE_HEADER_LEN;
        uncounted = PCAP_FILE_HEADER_LEN;
        resyncing = rangeSyncing;
      }
    } else if (load<u32>(base) == BT_SHB) {
      format = FORMAT_PCAPNG;
    } else {
      return fail(ErrorCode.NotACapture, fileOffset);
    }
  }
  const status = format == FORMAT_PCAP ? pcapRecords(base, len, p, atEof) : pcapngRecords(base, len, p, atEof);
  if (status == Status.Error) return status;
  p = consumed;
  if (rangeSyncing && atEof && status == Status.NeedMore) {
    // No record starts in the range: the bytes to the end are the range before's.
    uncounted += len - p;
    p = len;
    rangeSyncing = false;
    resyncing = false;
    rangeFirst = <i64>(fileOffset + p);
  }
  if (status == Status.NeedMore && atEof && p < len && rangeEnd < 0) {
    // A pcapng file cut inside its first Section Header Block is cut inside its file header.
    if (format == FORMAT_PCAPNG && goodRecords == 0) return fail(ErrorCode.TruncatedFileHeader, fileOffset + p);
    if (resyncing) {
      countBy(Stat.DamagedBytes, len - p);
      p = len;
    } else {
      p += countTruncatedTail(base + p, len - p);
    }
  }
  consumed = p;
  fileOffset += p;
  countBy(Stat.Bytes, p - uncounted);
  uncounted = 0;
  if (atEof && status == Status.NeedMore && rangeEnd < 0) rangeEnd = <i64>fileOffset;
  // A range's file may have readable records in another range: the host judges the whole file.
  if (atEof && status == Status.NeedMore && goodRecords == 0 && firstDamageCode != ErrorCode.None && !inRange()) {
    return fail(firstDamageCode, firstDamageOffset);
  }
  return status;
}

/**
 * Damage of kind `code` at input offset `p`: count it and start scanning at the next byte (for a
 * section of unknown version, for the next section). Returns that offset.
 */
function damaged(p: u32, code: ErrorCode): u32 {
  clearError();
  count(code == ErrorCode.BlockLengthMismatch ? Stat.DamagedTrailer : code == ErrorCode.BadSectionHeader ? Stat.DamagedSection : Stat.DamagedLength);
  if (firstDamageCode == ErrorCode.None) {
    firstDamageCode = code;
    firstDamageOffset = fileOffset + p;
  }
  resyncing = true;
  resyncSectionOnly = code == ErrorCode.BadSectionHeader;
  count(Stat.DamagedBytes);
  return p + 1;
}

/**
 * Reading ahead of far-apart records. A record's length says where the next one starts, so the
 * records of full-size packets, read one after another, meet one cache miss at a time: in the
 * 2 GiB full-payload capture framing took a quarter of the core thread's time. From a record of
 * TOUCH_MIN_RECORD bytes or more on, every line up to TOUCH_AHEAD bytes past it is read before
 * the records there are: loads that depend on nothing, so the processor overlaps their misses.
 * Records of headers only lie close together and are left to the hardware prefetcher.
 */
const TOUCH_MIN_RECORD: u32 = 256;
const TOUCH_AHEAD: u32 = 8192;
const CACHE_LINE: u32 = 64;
/** Input offset up to which this call has read ahead. */
let touchedTo: u32 = 0;
/** What the loads read, kept so that no optimizer drops them. */
let touchSink: u32 = 0;

/** Reads a byte of every line from `touchedTo` (or `p`) to TOUCH_AHEAD bytes past `p`, within `len`. */
function touchAhead(base: usize, p: u32, len: u32): void {
  const end = len - p > TOUCH_AHEAD ? p + TOUCH_AHEAD : len;
  let t = touchedTo > p ? touchedTo : p;
  let sink = touchSink;
  while (t < end) {
    // SAFE: t < end <= len, inside the input.
    sink ^= <u32>load<u8>(base + t);
    t += CACHE_LINE;
  }
  touchSink = sink;
  touchedTo = t;
}

function pcapRecords(base: usize, len: u32, start: u32, atEof: bool): Status {
  let p = start;
  touchedTo = start;
  if (!resyncing && !filterOn && !swapped && rangeStop == u64.MAX_VALUE && fastPath) {
    // The common file (this machine's byte order, no damage being skipped, no filter, no range
    // end): its records in a loop without the general loop's tests of these per record. It stops
    // at the first record that is not whole or looks damaged, and the general loop below goes on
    // from there as it would have. goodRecords gains the records deliverFrame counted: it counts
    // every record it takes, and only those. With the one-step paths off (Flag.ExactPathOnly)
    // every record takes the general loop, which the fast-path test compares with this one.
    const recordsBefore = statValue(Stat.Records);
    while (len - p >= PCAP_RECORD_HEADER_LEN) {
      const rec = base + p;
      const capLen = nativeRecordCapLen(rec);
      if (impossiblePcapCapLen(capLen)) break;
      if (<u64>(len - p) < <u64>PCAP_RECORD_HEADER_LEN + capLen) break;
      if (capLen >= TOUCH_MIN_RECORD) touchAhead(base, p, len);
      if (!deliverFrame(nativeRecordTsNs(rec), capLen, nativeRecordOrigLen(rec), pcapLinkType(), 0, false, rec + PCAP_RECORD_HEADER_LEN)) {
        goodRecords += statValue(Stat.Records) - recordsBefore;
        consumed = p;
        return Status.OutputFull;
      }
      lastSec = nativeRecordSec(rec);
      p += PCAP_RECORD_HEADER_LEN + capLen;
    }
    goodRecords += statValue(Stat.Records) - recordsBefore;
  }
  while (len - p >= PCAP_RECORD_HEADER_LEN) {
    if (resyncing) {
      const q = rangeSyncing ? scanRangeStart(base, len, p, atEof) : scanPcap(base, len, p, atEof);
      if (rangeSyncing) {
        uncounted += q - p;
        if (!resyncing) {
          rangeSyncing = false;
          rangeFirst = <i64>(fileOffset + q);
        }
      } else {
        countBy(Stat.DamagedBytes, q - p);
      }
      p = q;
      if (resyncing) break;
      continue;
    }
    const rec = base + p;
    const capLen = pcapRecordCapLen(rec);
    if (impossiblePcapCapLen(capLen)) {
      if (lastSec < 0 && plausibleFraction(rec)) lastSec = pcapRecordSec(rec);
      p = damaged(p, ErrorCode.ImpossibleRecordLength);
      continue;
    }
    if (fileOffset + p >= rangeStop) {
      // The first readable record of the next range: this range ends here (damage before it is
      // this range's to skip, with what it knows of the records before).
      rangeEnd = <i64>(fileOffset + p);
      break;
    }
    if (<u64>(len - p) < <u64>PCAP_RECORD_HEADER_LEN + capLen) break;
    if (capLen >= TOUCH_MIN_RECORD) touchAhead(base, p, len);
    const taken = filterOn
      ? deliverFiltered(pcapRecordTsNs(rec), capLen, pcapRecordOrigLen(rec), pcapLinkType(), 0, false, rec + PCAP_RECORD_HEADER_LEN)
      : deliverFrame(pcapRecordTsNs(rec), capLen, pcapRecordOrigLen(rec), pcapLinkType(), 0, false, rec + PCAP_RECORD_HEADER_LEN);
    if (!taken) { consumed = p; return frameRefused ? fail(ErrorCode.FilterRefused, fileOffset + p) : Status.OutputFull; }
    lastSec = pcapRecordSec(rec);
    goodRecords++;
    p += PCAP_RECORD_HEADER_LEN + capLen;
  }
  consumed = p;
  return Status.NeedMore;
}

/**
 * Scans from `p` for a plausible record header followed by another (or by the end of the file).
 * Returns where it stopped: the record found (`resyncing` cleared), or the first offset it cannot
 * judge before more bytes arrive.
 */
function scanPcap(base: usize, len: u32, p: u32, atEof: bool): u32 {
  let q = p;
  while (len - q >= PCAP_RECORD_HEADER_LEN) {
    if (plausiblePcapHeader(base + q, lastSec)) {
      const next = <u64>q + PCAP_RECORD_HEADER_LEN + pcapRecordCapLen(base + q);
      if (next + PCAP_RECORD_HEADER_LEN <= <u64>len) {
        if (plausiblePcapHeader(base + <usize>next, pcapRecordSec(base + q))) { resyncing = false; return q; }
      } else if (atEof) {
        if (next == <u64>len) { resyncing = false; return q; }
      } else {
        return q;
      }
    }
    q++;
  }
  return q;
}

/** Records after a range's first record that must follow it in a chain. */
const RANGE_CHAIN: u32 = 8;

/**
 * scanPcap for the start of a range: a strictly plausible header (strictPcapHeader) followed by a
 * chain of RANGE_CHAIN such records within a day of it, or by the end of the file. A false start
 * is still possible: the host checks that ranges chain, and a range that does not is read again
 * from where the one before ended.
 */
function scanRangeStart(base: usize, len: u32, p: u32, atEof: bool): u32 {
  let q = p;
  while (len - q >= PCAP_RECORD_HEADER_LEN) {
    let at = <u64>q;
    let links: u32 = 0;
    let ok = true;
    const sec = pcapRecordSec(base + q);
    while (links <= RANGE_CHAIN) {
      if (at + PCAP_RECORD_HEADER_LEN > <u64>len) {
        if (!atEof) return q;
        // The chain must end exactly at the end of the file.
        ok = links > 0 && at == <u64>len;
        break;
      }
      const rec = base + <usize>at;
      if (!strictPcapHeader(rec) || (links > 0 && !plausiblePcapHeader(rec, sec))) { ok = false; break; }
      at += PCAP_RECORD_HEADER_LEN + <u64>pcapRecordCapLen(rec);
      links++;
    }
    if (ok) { resyncing = false; return q; }
    q++;
  }
  return q;
}

function pcapngRecords(base: usize, len: u32, start: u32, atEof: bool): Status {
  let p = start;
  touchedTo = start;
  if (!resyncing && !filterOn && fastPath) {
    // The common blocks (commonPacketBlock) in a loop without the general loop's tests per block;
    // it stops at the first other block, and the general loop below goes on from there (to the
    // end of this input). goodRecords gains the blocks deliverFrame counted, as in pcapRecords.
    const recordsBefore = statValue(Stat.Records);
    while (len - p >= PCAPNG_BLOCK_PEEK) {
      const blockLen = commonPacketBlock(base + p, len - p);
      if (blockLen == 0) break;
      if (blockLen >= TOUCH_MIN_RECORD) touchAhead(base, p, len);
      if (!deliverFrame(pktTsNs, pktCapLen, pktOrigLen, pktLinkType, pktInterface, true, pktData)) {
        goodRecords += statValue(Stat.Records) - recordsBefore;
        consumed = p;
        return Status.OutputFull;
      }
      p += blockLen;
    }
    goodRecords += statValue(Stat.Records) - recordsBefore;
  }
  while (len - p >= PCAPNG_BLOCK_PEEK) {
    if (resyncing) {
      const q = scanPcapng(base, len, p, atEof);
      countBy(Stat.DamagedBytes, q - p);
      p = q;
      if (resyncing) break;
      continue;
    }
    const block = base + p;
    // The common block in one step (commonPacketBlock), else blockLength and parseBlock.
    let blockLen = fastPath ? commonPacketBlock(block, len - p) : 0;
    let packet = blockLen != 0;
    if (!packet) {
      blockLen = blockLength(block, fileOffset + p);
      if (blockLen == 0) {
        if (goodRecords == 0) return Status.Error;
        p = damaged(p, errorCode);
        continue;
      }
      if (len - p < blockLen) break;
    }
    if (blockLen >= TOUCH_MIN_RECORD) touchAhead(base, p, len);
    if (!packet) {
      if (parseBlock(block, blockLen, fileOffset + p) == Status.Error) {
        if (goodRecords == 0) return Status.Error;
        p = damaged(p, errorCode);
        continue;
      }
      packet = hasPacket && !unknownInterface;
      if (hasPacket && unknownInterface) {
        count(Stat.Records);
        count(Stat.UnknownInterface);
      }
    }
    if (packet && !(filterOn ? deliverFiltered(pktTsNs, pktCapLen, pktOrigLen, pktLinkType, pktInterface, true, pktData)
      : deliverFrame(pktTsNs, pktCapLen, pktOrigLen, pktLinkType, pktInterface, true, pktData))) {
      consumed = p;
      return frameRefused ? fail(ErrorCode.FilterRefused, fileOffset + p) : Status.OutputFull;
    }
    goodRecords++;
    p += blockLen;
  }
  consumed = p;
  return Status.NeedMore;
}

/** As scanPcap, for a block that `resyncCandidate` accepts. */
function scanPcapng(base: usize, len: u32, p: u32, atEof: bool): u32 {
  let q = p;
  while (len - q >= PCAPNG_BLOCK_PEEK) {
    const verdict = resyncCandidate(base + q, len - q, resyncSectionOnly);
    if (verdict == CANDIDATE_YES) { resyncing = false; return q; }
    if (verdict == CANDIDATE_NEED_MORE && !atEof) return q;
    q++;
  }
  return q;
}

// --- a byte range of a pcap file (a cluster's map task, src/cluster/map.ts) ---
// The input holds the file header, then the file's bytes from `rangeStart` on. Records starting
// before `rangeStop` are the range's; reading stops at the first record at or after it (a record
// straddling the stop is read whole). With `sync`, the start is not known to be a record boundary:
// the first record is found as after damage, and the bytes before it, the range before's, are not
// counted. Consecutive ranges chain when one's end is the next one's first record (the host checks).

/** File offset of the range's first byte (0: the whole file). */
let rangeStart: u64 = 0;
let rangeStop: u64 = u64.MAX_VALUE;
/** Whether the range's first record is still being looked for. */
let rangeSyncing: bool = false;
/** Offset of the range's first record, once found (else -1). */
let rangeFirst: i64 = -1;
/** Offset where reading stopped: the next range's first record, or the end of the file (else -1). */
let rangeEnd: i64 = -1;
/** Bytes consumed by this call that are not the range's (the header, bytes before its first record). */
let uncounted: u32 = 0;

/** Reads only the range [start, stop) of this pcap file (after beginFile). */
export function beginRange(start: u64, stop: u64, sync: bool): void {
  rangeStart = start;
  rangeStop = stop;
  rangeSyncing = sync && start > 0;
  rangeFirst = rangeSyncing ? -1 : <i64>(start > 0 ? start : PCAP_FILE_HEADER_LEN);
}

@inline function inRange(): bool {
  return rangeStart > 0 || rangeStop != u64.MAX_VALUE;
}

export function rangeFirstRecord(): i64 { return rangeFirst; }
export function rangeEndOffset(): i64 { return rangeEnd; }
/** Whole records read in this file, and its first damage (code, offset): the host judges a ranged file. */
export function fileGoodRecords(): u64 { return goodRecords; }
export function fileFirstDamage(): ErrorCode { return firstDamageCode; }
export function fileFirstDamageOffset(): u64 { return firstDamageOffset; }

/** The file ended inside a record: count it (a packet record, or a block we cannot tell). */
function countTruncatedTail(tail: usize, len: u32): u32 {
  if (format == FORMAT_PCAPNG && len >= 4 && !isPacketBlock(tail)) {
    count(Stat.SkippedBlocks);
  } else {
    count(Stat.Records);
    count(Stat.TruncatedRecord);
  }
  return len;
}
