// One source's bytes into a core's input buffer, step by step: the single pass (src/run/engine.ts), the
// framer of map/shuffle/reduce (src/run/parallel.ts) and every replica (src/run/replica-worker.ts) read so.

import { Status } from "../core/abi.js";
import type { Core } from "../core/core.js";
import { SynfinError } from "../errors.js";
import type { ByteSource } from "../public.js";

/** No record may need a larger input buffer than this (the core refuses longer records first). */
export const MAX_INPUT_CAPACITY = 128 << 20;

/** A framing step's result; the core's error is thrown as a SynfinError naming the source. */
function checked(core: Core, source: ByteSource, step: { status: Status; consumed: number }): { status: Status; consumed: number } {
  if (step.status === Status.Error) {
    const { code, offset, detail } = core.error();
    throw SynfinError.fromCore(code, source.name, offset, detail);
  }
  return step;
}

/** A record that would need more than MAX_INPUT_CAPACITY bytes of input, starting at `offset`. */
function recordTooLong(source: ByteSource, offset: number): SynfinError {
  return new SynfinError("IMPOSSIBLE_RECORD_LENGTH", source.name, offset, "a record larger than 128 MiB (damaged file)");
}

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
    return checked(this.core, this.source, this.core.feed(this.len, this.eof));
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
      if (this.capacity >= MAX_INPUT_CAPACITY) throw recordTooLong(this.source, this.fileBytes - this.len);
      this.capacity *= 2;
    }
    return true;
  }
}

/** Room in front of each half of the input for the bytes carried over (a record's start); grows for a longer record. */
const HEADROOM = 1 << 20;

/**
 * One source's bytes read straight into the core's input buffer, with no copy on the way: the
 * buffer has two halves, and while the core frames the bytes in one, the next read fills the
 * other (on libuv's thread pool for a Node file). A record cut by the end of a half is copied in
 * front of the next read's bytes, into the room left for it there. Needs a core over shared
 * memory (CoreOptions.sharedMemory): a read in flight may outlive a call that grows the memory,
 * and only a SharedArrayBuffer is sure to stay where it was. Same steps as FileFeed.
 */
export class DirectFeed {
  private headroom = HEADROOM;
  /** Bytes in one half: the room in front, then one read. */
  private half: number;
  /** The half the read in flight fills. */
  private reading = 0;
  private inflight: Promise<number> | undefined;
  /** The bytes not framed yet: `len` of them at `start` in the input buffer. */
  private start = 0;
  private len = 0;
  private fileBytes = 0;
  private eof = false;

  constructor(private readonly core: Core, readonly source: ByteSource, private readonly chunkSize: number, private readonly onRead: (bytes: number) => void) {
    if (!core.sharedMemory) throw new Error("synfin: DirectFeed needs a core over shared memory");
    this.half = this.headroom + chunkSize;
    core.beginFile();
  }

  /** Starts the read that fills half `h` after its room. */
  private readInto(h: number): void {
    const input = this.core.input(2 * this.half);
    const at = h * this.half + this.headroom;
    this.reading = h;
    this.inflight = this.source.read(input.subarray(at, at + this.chunkSize));
  }

  /** Waits for the read in flight, puts the carried-over bytes before it, and starts the next one. */
  async fill(): Promise<void> {
    if (this.eof) return;
    if (!this.inflight) this.readInto(0);
    let n: number;
    try {
      n = await this.inflight!;
    } finally {
      this.inflight = undefined;
    }
    const h = this.reading;
    const at = h * this.half + this.headroom;
    if (this.len > this.headroom) {
      this.makeRoom(h, n);
    } else {
      this.core.input(2 * this.half).copyWithin(at - this.len, this.start, this.start + this.len);
      this.start = at - this.len;
    }
    this.len += n;
    this.fileBytes += n;
    if (n === 0) this.eof = true;
    else this.readInto(1 - h);
    this.onRead(n);
  }

  /**
   * The carried-over bytes do not fit in the room before half `h` (a record longer than it): both
   * halves grow, with the `n` bytes just read moved to the new half `h`. No read is in flight.
   */
  private makeRoom(h: number, n: number): void {
    if (this.len >= MAX_INPUT_CAPACITY) throw recordTooLong(this.source, this.fileBytes - this.len);
    const bytes = () => this.core.input(2 * this.half);
    const carried = bytes().slice(this.start, this.start + this.len);
    const fresh = bytes().slice(h * this.half + this.headroom, h * this.half + this.headroom + n);
    while (this.headroom < this.len) this.headroom *= 2;
    this.half = this.headroom + this.chunkSize;
    const at = h * this.half + this.headroom;
    bytes().set(carried, at - carried.length);
    bytes().set(fresh, at);
    this.start = at - carried.length;
  }

  /** Frames what the buffer holds; the core's error is thrown as a SynfinError. */
  frame(): { status: Status; consumed: number } {
    return checked(this.core, this.source, this.core.feedAt(this.start, this.len, this.eof));
  }

  /** Drops the first `bytes` bytes. */
  consume(bytes: number): void {
    this.start += bytes;
    this.len -= bytes;
  }

  /** After a pass over the buffer: false at the end of the source (the rest moves on the next fill). */
  next(): boolean {
    return !this.eof;
  }

  /** Waits for a read still in flight (after an error), so that nothing writes to the core's memory later. */
  async settle(): Promise<void> {
    await this.inflight?.catch(() => undefined);
  }
}
