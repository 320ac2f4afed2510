// One source's bytes into a core's input buffer, step by step: the single pass (src/run/engine.ts), the
// framer of map/shuffle/reduce (src/run/parallel.ts) and every replica (src/run/replica-worker.ts) read so.

import { Status } from "../core/abi.js";
import type { Core } from "../core/core.js";
import { SynfinError } from "../errors.js";
import type { ByteSource } from "../public.js";

/** No record may need a larger input buffer than this (the core refuses longer records first). */
export const MAX_INPUT_CAPACITY = 128 << 20;

/**
 * One source's bytes into the core's input buffer: reads after the carried-over bytes of the last
 * read, frames, drops what was consumed, and makes room when one record fills the buffer.
 */
export class FileFeed {
  private capacity: number;
  private len = 0;
  private fileBytes = 0;
  private eof = false;

  constructor(private readonly core: Core, readonly source: ByteSource, chunkSize: number, private readonly onRead: (bytes: number) => void) {
    this.capacity = chunkSize;
    core.beginFile();
  }

  /** Reads more bytes after the carried-over ones (none once the source has ended). */
  async fill(): Promise<void> {
    const input = this.core.input(this.capacity);
    if (this.eof) return;
    const n = await this.source.read(input.subarray(this.len));
    if (n === 0) this.eof = true;
    this.len += n;
    this.fileBytes += n;
    this.onRead(n);
  }

  /** Frames what the buffer holds; the core's error is thrown as a SynfinError. */
  frame(): { status: Status; consumed: number } {
    const step = this.core.feed(this.len, this.eof);
    if (step.status === Status.Error) {
      const { code, offset, detail } = this.core.error();
      throw SynfinError.fromCore(code, this.source.name, offset, detail);
    }
    return step;
  }

  /** Drops the first `bytes` bytes; the rest moves to the front. */
  consume(bytes: number): void {
    this.core.carryOver(bytes, this.len);
    this.len -= bytes;
  }

  /** After a pass over the buffer: false at the end of the source; else room for the next read. */
  next(): boolean {
    if (this.eof) return false;
    if (this.len === this.capacity) {
      // One record is larger than the buffer: make room for it.
      if (this.capacity >= MAX_INPUT_CAPACITY) throw new SynfinError("IMPOSSIBLE_RECORD_LENGTH", this.source.name, this.fileBytes - this.len, "a record larger than 128 MiB (damaged file)");
      this.capacity *= 2;
    }
    return true;
  }
}
