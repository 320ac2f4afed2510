// A capture file in Node, read with positioned reads straight into the caller's buffer (a view of
// wasm memory): the main thread's sources and a replica worker's (src/run/replica.ts) alike.

import { readSync, statSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { SynfinError } from "../errors.js";
import { openBlobReplica } from "./sources.js";
import type { ByteSource, SourceReplica } from "../public.js";

/**
 * A file read with positioned reads into the caller's buffer (a view of wasm memory). `blocking`
 * reads in this thread (a replica: its reads and its core take turns anyway, and a hop to libuv's
 * pool would leave this thread waiting); otherwise on libuv's pool.
 */
export function fileSource(path: string, blocking = false): ByteSource {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error("not a regular file");
    size = st.size;
  } catch (e) {
    throw new SynfinError("READ_FAILED", path, 0, `cannot read: ${reasonOf(e as NodeJS.ErrnoException)}`);
  }
  let handle: Promise<FileHandle> | undefined;
  let position = 0;
  let closed = false;
  const opened = () => (handle ??= open(path, "r"));
  return {
    name: path,
    size,
    replica: { path, name: path },
    async read(into) {
      let bytesRead: number;
      try {
        const fh = await opened();
        ({ bytesRead } = blocking ? { bytesRead: readSync(fh.fd, into, 0, into.length, position) } : await fh.read(into, 0, into.length, position));
      } catch (e) {
        throw new SynfinError("READ_FAILED", path, position, `cannot read: ${reasonOf(e as NodeJS.ErrnoException)}`);
      }
      position += bytesRead;
      return bytesRead;
    },
    async close() {
      if (closed || !handle) return;
      closed = true;
      await (await handle).close();
    },
  };
}

/** Opens a source again in this thread (a replica worker's sources): a path, or a Blob. */
export function openReplica(replica: SourceReplica): ByteSource {
  return "path" in replica ? fileSource(replica.path, true) : openBlobReplica(replica);
}

/** Why a file cannot be read, in a few words. */
function reasonOf(e: NodeJS.ErrnoException): string {
  if (e.code === "ENOENT") return "no such file";
  if (e.code === "EACCES" || e.code === "EPERM") return "permission denied";
  if (e.code === "EISDIR") return "it is a directory";
  return e.message;
}
