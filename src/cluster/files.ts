// Small file helpers of a cluster run's steps: a buffered writer that renames its file into place
// when done, positioned reads, and the wasm module.

import { openSync, writeSync, closeSync, renameSync, rmSync, readSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tempName, stageError } from "./plan.js";
import { coreWasmUrl } from "../assets.js";

/** Bytes a stage file buffers before it writes. */
const WRITE_BUFFER = 4 << 20;

/** Writes a file under a temporary name; `commit` renames it into place, `discard` removes it. */
export class StageWriter {
  private readonly temp: string;
  private readonly fd: number;
  private buffer = new Uint8Array(WRITE_BUFFER);
  private used = 0;
  /** Bytes written so far. */
  bytes = 0;

  constructor(readonly path: string) {
    this.temp = tempName(path);
    this.fd = openSync(this.temp, "w");
  }

  write(data: Uint8Array): void {
    this.bytes += data.length;
    if (this.used + data.length > this.buffer.length) {
      this.flush();
      if (data.length > this.buffer.length) {
        writeSync(this.fd, data);
        return;
      }
    }
    this.buffer.set(data, this.used);
    this.used += data.length;
  }

  /** Room for `n` bytes in the buffer, to fill in place; `wrote(n)` then keeps them. */
  room(n: number): Uint8Array {
    if (this.used + n > this.buffer.length) {
      this.flush();
      if (n > this.buffer.length) this.buffer = new Uint8Array(n);
    }
    return this.buffer.subarray(this.used, this.used + n);
  }

  wrote(n: number): void {
    this.used += n;
    this.bytes += n;
  }

  private flush(): void {
    let at = 0;
    while (at < this.used) at += writeSync(this.fd, this.buffer, at, this.used - at);
    this.used = 0;
  }

  commit(): void {
    this.flush();
    closeSync(this.fd);
    renameSync(this.temp, this.path);
  }

  discard(): void {
    try { closeSync(this.fd); } catch { /* closed already */ }
    rmSync(this.temp, { force: true });
  }
}

/** Opens a stage file a step reads; a missing one is STAGE_INVALID, naming the step that writes it. */
export function openStage(path: string, writtenBy: string): number {
  try {
    return openSync(path, "r");
  } catch (e) {
    throw stageError(path, `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); run ${writtenBy} again`);
  }
}

/** Reads exactly `length` bytes at `position` (fewer only at the end of the file). */
export function readAt(fd: number, into: Uint8Array, position: number): number {
  let at = 0;
  while (at < into.length) {
    const n = readSync(fd, into, at, into.length - at, position + at);
    if (n === 0) break;
    at += n;
  }
  return at;
}

const wasmBuild = process.env.SYNFIN_WASM_BUILD === "debug" ? "debug" : "release";

export async function loadModule(): Promise<WebAssembly.Module> {
  return WebAssembly.compile(await readFile(coreWasmUrl(wasmBuild)));
}
