// The record loop: finds the container format from the first bytes, then hands every whole
// record of the input to `deliverFrame`. A record cut by the end of the input is "need more
// bytes" (the host carries the tail over); cut by the end of the file, it is counted as truncated.

import { ErrorCode, Stat, Status } from "../../src/abi";
import { count, countBy, fail } from "../stats";
import {
  isPcapMagic, readPcapFileHeader, pcapLinkType, pcapRecordCapLen, pcapRecordOrigLen,
  pcapRecordTsNs, checkPcapCapLen, PCAP_FILE_HEADER_LEN, PCAP_RECORD_HEADER_LEN,
} from "./pcap";
import {
  BT_SHB, blockLength, parseBlock, isPacketBlock, hasPacket, unknownInterface, resetPcapng,
  pktTsNs, pktCapLen, pktOrigLen, pktLinkType, pktInterface, pktData,
} from "./pcapng";
import { deliverFrame } from "../engine";

const FORMAT_NONE: u32 = 0;
const FORMAT_PCAP: u32 = 1;
const FORMAT_PCAPNG: u32 = 2;
const PCAPNG_BLOCK_PEEK: u32 = 12;

let format: u32 = FORMAT_NONE;
/** Offset in the current file of the first byte of the current input. */
let fileOffset: u64 = 0;
/** Bytes of the input consumed by the last readRecords call. */
export let consumed: u32 = 0;

export function beginFile(): void {
  format = FORMAT_NONE;
  fileOffset = 0;
  resetPcapng();
}

export function readRecords(base: usize, len: u32, atEof: bool): Status {
  consumed = 0;
  let p: u32 = 0;
  if (format == FORMAT_NONE) {
    if (len < 4) return atEof ? fail(ErrorCode.TruncatedFileHeader, fileOffset) : Status.NeedMore;
    if (isPcapMagic(base)) {
      if (len < PCAP_FILE_HEADER_LEN) return atEof ? fail(ErrorCode.TruncatedFileHeader, fileOffset) : Status.NeedMore;
      readPcapFileHeader(base);
      p = PCAP_FILE_HEADER_LEN;
      format = FORMAT_PCAP;
    } else if (load<u32>(base) == BT_SHB) {
      format = FORMAT_PCAPNG;
    } else {
      return fail(ErrorCode.NotACapture, fileOffset);
    }
  }
  const status = format == FORMAT_PCAP ? pcapRecords(base, len, p) : pcapngRecords(base, len, p);
  if (status == Status.Error) return status;
  p = consumed;
  if (status == Status.NeedMore && atEof && p < len) p = countTruncatedTail(base + p, len - p);
  consumed = p;
  fileOffset += p;
  countBy(Stat.Bytes, p);
  return status;
}

function pcapRecords(base: usize, len: u32, start: u32): Status {
  let p = start;
  while (len - p >= PCAP_RECORD_HEADER_LEN) {
    const rec = base + p;
    const capLen = pcapRecordCapLen(rec);
    if (checkPcapCapLen(capLen, fileOffset + p) == Status.Error) return Status.Error;
    if (<u64>(len - p) < <u64>PCAP_RECORD_HEADER_LEN + capLen) break;
    const taken = deliverFrame(pcapRecordTsNs(rec), capLen, pcapRecordOrigLen(rec), pcapLinkType(), 0, false, rec + PCAP_RECORD_HEADER_LEN);
    if (!taken) { consumed = p; return Status.OutputFull; }
    p += PCAP_RECORD_HEADER_LEN + capLen;
  }
  consumed = p;
  return Status.NeedMore;
}

function pcapngRecords(base: usize, len: u32, start: u32): Status {
  let p = start;
  while (len - p >= PCAPNG_BLOCK_PEEK) {
    const block = base + p;
    const blockLen = blockLength(block, fileOffset + p);
    if (blockLen == 0) return Status.Error;
    if (len - p < blockLen) break;
    if (parseBlock(block, blockLen, fileOffset + p) == Status.Error) return Status.Error;
    if (hasPacket) {
      if (unknownInterface) {
        count(Stat.Records);
        count(Stat.UnknownInterface);
      } else if (!deliverFrame(pktTsNs, pktCapLen, pktOrigLen, pktLinkType, pktInterface, true, pktData)) {
        consumed = p;
        return Status.OutputFull;
      }
    }
    p += blockLen;
  }
  consumed = p;
  return Status.NeedMore;
}

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
