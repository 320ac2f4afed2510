// Buffers that travel between threads (src/run/parallel.ts) are reused, not made anew per chunk: a
// fresh ArrayBuffer costs a page fault per 4 KiB touched, which at a GB of input per second costs
// more than the copy itself. Each buffer goes round: host → worker → host → worker …

/** A byte range at the start of a (reusable, transferable) buffer. */
export interface Bytes {
  buffer: ArrayBuffer;
  length: number;
}

/** Buffers held for reuse; at most `limit` of them, the largest kept. */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(private readonly limit = 64) {}

  /** A buffer of at least `bytes` bytes (a reused one if one is large enough). */
  take(bytes: number): ArrayBuffer {
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i]!.byteLength >= bytes) return this.free.splice(i, 1)[0]!;
    }
    // Rounded up, so that one buffer serves a range of sizes.
    return new ArrayBuffer(Math.max(1 << 16, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1)))));
  }

  give(...buffers: ArrayBuffer[]): void {
    for (const b of buffers) if (b.byteLength > 0 && !(b as { detached?: boolean }).detached) this.free.push(b);
    if (this.free.length > this.limit) {
      this.free.sort((a, b) => b.byteLength - a.byteLength);
      this.free.length = this.limit;
    }
  }

  /** Up to `n` buffers to lend a worker (it fills and returns them). */
  lend(n: number): ArrayBuffer[] {
    return this.free.splice(0, Math.min(n, this.free.length));
  }

  /** Copies `bytes` bytes at `from` into a pooled buffer. */
  copy(from: Uint8Array): Bytes {
    const buffer = this.take(from.length);
    new Uint8Array(buffer, 0, from.length).set(from);
    return { buffer, length: from.length };
  }
}
