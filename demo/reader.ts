// The file reader, on a thread of its own: reads a File in slices of `sliceBytes` and posts each
// one (its buffer transferred) to the analysis worker, at most `ahead` slices beyond what that worker has taken.
// So the browser reads the file while the core works, and never more than a few slices of it are
// in memory. Chromium reads a Blob only while the reading thread's event loop is free, which the
// analysis worker's is not while the core runs.

/** Analysis worker → reader: start reading; slices go to `port`. */
export interface ReadRequest {
  file: Blob;
  port: MessagePort;
  sliceBytes: number;
  ahead: number;
}

/** Reader → analysis worker, on the port. */
export type ReaderMessage =
  | { kind: "slice"; bytes: ArrayBuffer }
  | { kind: "end" }
  | { kind: "error"; message: string };

/** Analysis worker → reader, on the port: it is done with one slice, whose buffer comes back. */
export interface Taken { kind: "taken"; bytes: ArrayBuffer }

/** The stream readers being read (see the request handler). */
const reading = new Set<ReadableStreamBYOBReader>();

self.onmessage = async ({ data }: MessageEvent<ReadRequest>) => {
  const { file, port, sliceBytes, ahead } = data;
  let credit = ahead;
  let wake: (() => void) | null = null;
  // Buffers the analysis worker is done with: read into again, so that reading allocates (and
  // zeroes) `ahead` + 1 buffers in all, not one per slice.
  const spare: ArrayBuffer[] = [];
  port.onmessage = ({ data: taken }: MessageEvent<Taken>) => {
    credit++;
    if (taken.bytes.byteLength === sliceBytes) spare.push(taken.bytes);
    wake?.();
    wake = null;
  };
  const buffer = () => spare.pop() ?? new ArrayBuffer(sliceBytes);
  const send = async (bytes: ArrayBuffer) => {
    while (credit === 0) await new Promise<void>((resolve) => { wake = resolve; });
    credit--;
    const message: ReaderMessage = { kind: "slice", bytes };
    port.postMessage(message, [bytes]);
  };
  try {
    const stream = file.stream();
    let reader: ReadableStreamBYOBReader | null = null;
    try { reader = stream.getReader({ mode: "byob" }); } catch { /* not a byte stream here: read slices */ }
    if (reader) {
      // Held here while it is read: Chromium's collector may otherwise take a stream that only its
      // pending read refers to, and that read then never settles (seen with several streams open).
      reading.add(reader);
      try { await readInto(reader, buffer, send); } finally { reading.delete(reader); }
    } else {
      for (let at = 0; at < file.size; at += sliceBytes) await send(await file.slice(at, at + sliceBytes).arrayBuffer());
    }
    port.postMessage({ kind: "end" } satisfies ReaderMessage);
  } catch (error) {
    port.postMessage({ kind: "error", message: error instanceof Error ? error.message : String(error) } satisfies ReaderMessage);
  }
};

/**
 * Reads the file's byte stream straight into buffers from `fresh` (the stream writes into
 * ours: no copy), sending each one when full and the last one cut to its length. Chromium
 * reads a File this way in about half the time and CPU of `slice().arrayBuffer()` per slice.
 */
async function readInto(reader: ReadableStreamBYOBReader, fresh: () => ArrayBuffer, send: (bytes: ArrayBuffer) => Promise<void>): Promise<void> {
  let buffer = fresh();
  let filled = 0;
  while (true) {
    const { done, value } = await reader.read(new Uint8Array(buffer, filled));
    if (value) { buffer = value.buffer as ArrayBuffer; filled += value.byteLength; }
    if (done || filled === buffer.byteLength) {
      if (filled > 0) await send(filled === buffer.byteLength ? buffer : buffer.slice(0, filled));
      if (done) return;
      buffer = fresh();
      filled = 0;
    }
  }
}
