// Byte sources: everything synfin reads from, behind one `read(into)` call so that the engine can
// hand each source a view of wasm memory to fill. Platform-neutral; the Node entry adds file paths.

import type { ByteSource, CaptureInput, SourceReplica } from "../public.js";

export function openInput(input: CaptureInput, name: string): ByteSource {
  if (input instanceof Uint8Array) return bytesSource(input, name);
  if (input instanceof ArrayBuffer) return bytesSource(new Uint8Array(input), name);
  if (typeof Blob !== "undefined" && input instanceof Blob) return blobSource(input, name);
  if (typeof ReadableStream !== "undefined" && input instanceof ReadableStream) return chunkSource(streamChunks(input), name, undefined);
  if (input && typeof (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === "function") {
    return chunkSource((input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator](), name, undefined);
  }
  throw new TypeError(`synfin: cannot read ${name}: expected a Uint8Array, ArrayBuffer, Blob, ReadableStream or AsyncIterable<Uint8Array>`);
}

/** Opens a Blob's replica (browsers have no paths). */
export function openBlobReplica(replica: SourceReplica): ByteSource {
  if (!("blob" in replica)) throw new TypeError(`synfin: cannot open ${replica.name} in this thread`);
  return openInput(replica.blob, replica.name);
}

function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  let at = 0;
  return {
    name,
    size: bytes.length,
    inMemory: true,
    async read(into) {
      const n = Math.min(into.length, bytes.length - at);
      into.set(bytes.subarray(at, at + n));
      at += n;
      return n;
    },
    async close() {},
  };
}

function blobSource(blob: Blob, name: string): ByteSource {
  let at = 0;
  const shownName = (blob as File).name || name;
  return {
    name: shownName,
    size: blob.size,
    replica: { blob, name: shownName },
    async read(into) {
      const n = Math.min(into.length, blob.size - at);
      if (n <= 0) return 0;
      into.set(new Uint8Array(await blob.slice(at, at + n).arrayBuffer()));
      at += n;
      return n;
    },
    async close() {},
  };
}

async function* streamChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** A source over chunks of any size: fills each `into` with what has arrived (at least one chunk's worth, or up to `into`'s end). */
export function chunkSource(chunks: AsyncIterator<Uint8Array>, name: string, size: number | undefined): ByteSource {
  let pending: Uint8Array | undefined;
  let ended = false;
  return {
    name,
    size,
    inMemory: true,
    async read(into) {
      let filled = 0;
      while (filled < into.length && !ended) {
        if (!pending || pending.length === 0) {
          // What has arrived goes to the core now: a live stream's next chunk may be long coming.
          if (filled > 0) break;
          const next = await chunks.next();
          if (next.done) { ended = true; break; }
          pending = next.value instanceof Uint8Array ? next.value : new Uint8Array(next.value as ArrayBufferLike);
          continue;
        }
        const n = Math.min(pending.length, into.length - filled);
        into.set(pending.subarray(0, n), filled);
        pending = pending.subarray(n);
        filled += n;
      }
      return filled;
    },
    async close() {
      if (!ended) await chunks.return?.();
    },
  };
}

/**
 * Keeps one read of `size` bytes in flight while the caller works on the last one, so that the
 * file system's time overlaps the core's (reads run on libuv's thread pool in Node, off the main
 * thread). Costs two buffers of `size` bytes and a copy from them: a source whose bytes are in
 * memory already is returned as it is.
 */
export function readAhead(source: ByteSource, size: number): ByteSource {
  if (source.inMemory) return source;
  // Allocated at the first read and dropped at the end: an array of many files holds two at most.
  let ready = new Uint8Array(0);
  let filling = new Uint8Array(0);
  let readyStart = 0;
  let readyEnd = 0;
  let inflight: Promise<number> | undefined;
  let ended = false;
  const next = () => {
    if (inflight || ended) return;
    if (filling.length === 0) filling = new Uint8Array(size);
    inflight = source.read(filling);
  };
  return {
    name: source.name,
    size: source.size,
    async read(into) {
      if (readyStart === readyEnd) {
        next();
        if (!inflight) return 0;
        const n = await inflight;
        inflight = undefined;
        if (n === 0) {
          ended = true;
          ready = filling = new Uint8Array(0);
          return 0;
        }
        [ready, filling] = [filling, ready];
        readyStart = 0;
        readyEnd = n;
      }
      const k = Math.min(into.length, readyEnd - readyStart);
      into.set(ready.subarray(readyStart, readyStart + k));
      readyStart += k;
      next();
      return k;
    },
    async close() {
      await inflight?.catch(() => undefined);
      await source.close();
    },
  };
}
