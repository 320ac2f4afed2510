// The file reader, on a thread of its own: reads a File in slices and posts each one (its buffer
// transferred) to the analysis worker, at most `ahead` slices beyond what that worker has taken.
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

/** Analysis worker → reader, on the port: it has taken one slice. */
export interface Taken { kind: "taken" }

self.onmessage = async ({ data }: MessageEvent<ReadRequest>) => {
  const { file, port, sliceBytes, ahead } = data;
  let credit = ahead;
  let wake: (() => void) | null = null;
  port.onmessage = () => { credit++; wake?.(); wake = null; };
  const send = (message: ReaderMessage, transfer: Transferable[] = []) => port.postMessage(message, transfer);
  try {
    for (let at = 0; at < file.size; at += sliceBytes) {
      const bytes = await file.slice(at, at + sliceBytes).arrayBuffer();
      while (credit === 0) await new Promise<void>((resolve) => { wake = resolve; });
      credit--;
      send({ kind: "slice", bytes }, [bytes]);
    }
    send({ kind: "end" });
  } catch (error) {
    send({ kind: "error", message: error instanceof Error ? error.message : String(error) });
  }
};
