// The one error type synfin throws for unreadable input: a stable code, the file and the byte offset.

import { ErrorCode } from "./core/abi.js";

export type SynfinErrorCode =
  | "NOT_A_CAPTURE" | "TRUNCATED_FILE_HEADER" | "IMPOSSIBLE_RECORD_LENGTH" | "BAD_BLOCK_LENGTH"
  | "BLOCK_LENGTH_MISMATCH" | "BAD_SECTION_HEADER" | "READ_FAILED"
  | "OUT_OF_MEMORY" | "WORKER_FAILED" | "BAD_FILTER" | "FILTER_REFUSED" | "STAGE_INVALID";

const CODES: Record<ErrorCode, [SynfinErrorCode, string]> = {
  [ErrorCode.None]: ["READ_FAILED", "unknown error"],
  [ErrorCode.NotACapture]: ["NOT_A_CAPTURE", "not a pcap or pcapng capture (unknown magic number)"],
  [ErrorCode.TruncatedFileHeader]: ["TRUNCATED_FILE_HEADER", "the file ends inside its header (empty or cut short)"],
  [ErrorCode.ImpossibleRecordLength]: ["IMPOSSIBLE_RECORD_LENGTH", "a pcap record claims an impossible captured length (damaged file)"],
  [ErrorCode.BadBlockLength]: ["BAD_BLOCK_LENGTH", "a pcapng block length is too small, too large or not a multiple of 4 (damaged file)"],
  [ErrorCode.BlockLengthMismatch]: ["BLOCK_LENGTH_MISMATCH", "a pcapng block's trailing length differs from its leading length (damaged file)"],
  [ErrorCode.BadSectionHeader]: ["BAD_SECTION_HEADER", "a pcapng section header has an unknown byte-order magic or version"],
  [ErrorCode.OutOfMemory]: ["OUT_OF_MEMORY", "the flow table does not fit in the memory limit"],
  [ErrorCode.FilterRefused]: ["FILTER_REFUSED", "the filter cannot be applied to this record's link type"],
};

export class SynfinError extends Error {
  override readonly name = "SynfinError";
  constructor(
    readonly code: SynfinErrorCode,
    /** The input the error is in (a path, or a description of the source); "" when none is. */
    readonly file: string,
    /** Byte offset in that input where the problem starts. */
    readonly offset: number,
    /** What is wrong, without the file and offset. */
    readonly detail: string,
  ) {
    super(file ? `${file}: ${detail} at byte offset ${offset}` : detail);
  }

  static fromCore(code: ErrorCode, file: string, offset: number, detail?: string): SynfinError {
    const [name, generic] = CODES[code] ?? CODES[ErrorCode.None];
    return new SynfinError(name, file, offset, detail ?? generic);
  }
}
