// `synfin map PLAN --task i`: frames task i's bytes and decodes them into the plan's partitions
// (docs/cluster.md). It writes, under the job directory's stage/:
// - map-i.part-j: partition j's segment records (assembly/parallel/parts.ts), each after a stamp:
//   its frame's time and the task's clock there (i64, i64); records number frames within the task;
// - map-i.times: the task's clock at every frame (i64), which reducers look up where timers fire;
// - map-i.index: the clock at every BLOCK_FRAMES-th frame, to find the block a look-up needs;
// - map-i.kept: with a filter, one byte per frame, 1 where the filter kept it;
// - map-i.deferred: fragments and tunnels' UDP datagrams, for the reducers' sequential tables;
// - map-i.json last: where the task started and ended, its counts.

import { Core, DESC_SIZE, Part, type FramedChunk } from "../core/core.js";
import { FileFeed } from "../input/feed.js";
import { fileSource } from "../input/file-source.js";
import { BufferPool } from "../input/pool.js";
import { Abi } from "../core/abi.js";
import { packDeferred } from "../run/reducer.js";
import { DEFAULT_CHUNK_SIZE } from "../run/engine.js";
import { RECORD_BUCKETS, type ByteSource, type Stats } from "../public.js";
import { ensureStage, mapFile, mapRecordPath, planPath, readPlan, writeAtomically, MAX_TASK_FRAMES, type MapRecord, type Plan } from "./plan.js";
import { StageWriter, loadModule, readAt } from "./files.js";
import { BLOCK_FRAMES } from "./track.js";
import { SynfinError } from "../errors.js";
import { openSync, readSync, closeSync, fstatSync } from "node:fs";

const PCAP_HEADER = 24;
const LINKTYPE_FILTERED = 0xffffffff;
/** Bytes of a record's stamp, its frame's time and the clock there (assembly/parallel/parts.ts). */
export const STAMP_BYTES: number = Abi.StampBytes;

/** The core options of every instance of a cluster run. */
export function coreOptions(plan: Plan) {
  const o = plan.options;
  return { verifyChecksums: o.verifyChecksums, connKey: o.connKey, filter: o.filter, memoryLimit: o.memoryLimit };
}

export async function runMap(dir: string, taskIndex: number, exactStart?: number): Promise<MapRecord> {
  const plan = readPlan(planPath(dir));
  const task = plan.tasks[taskIndex];
  if (!task) throw new RangeError(`the plan has tasks 0 to ${plan.tasks.length - 1}; there is no task ${taskIndex}`);
  const file = plan.files[task.file]!;
  const P = plan.partitions;
  const module = await loadModule();
  const framer = await Core.create(module, { ...coreOptions(plan), maxFlows: 1 });
  framer.setParallel(Part.Framer, P);
  const mapper = await Core.create(module, { ...coreOptions(plan), maxFlows: 1 });
  mapper.setParallel(Part.Mapper, P);

  const from = exactStart ?? task.start;
  const ranged = file.pcap && (from > 0 || task.stop < file.size);
  const source = ranged && from > 0 ? rangeSource(file.path, from) : fileSource(file.path, true);
  ensureStage(dir);
  const parts = Array.from({ length: P }, (_, j) => new StageWriter(mapFile(dir, taskIndex, `part-${j}`)));
  const times = new StageWriter(mapFile(dir, taskIndex, "times"));
  const index = new StageWriter(mapFile(dir, taskIndex, "index"));
  const kept = plan.options.filter !== undefined ? new StageWriter(mapFile(dir, taskIndex, "kept")) : undefined;
  const deferredOut = new StageWriter(mapFile(dir, taskIndex, "deferred"));
  const writers = [...parts, times, index, deferredOut, ...(kept ? [kept] : [])];
  const pool = new BufferPool();
  let frames = 0;
  let lastKept = -1;
  let deferred = 0;
  let clock = new Uint8Array(8);
  new DataView(clock.buffer).setBigInt64(0, -(2n ** 63n), true);

  /** One framed chunk: its time track, its partitions' stamped records, its deferred frames. */
  const mapChunk = (chunk: FramedChunk) => {
    if (frames + chunk.count > MAX_TASK_FRAMES) {
      throw new SynfinError("STAGE_INVALID", file.path, 0, `map task ${taskIndex} reaches more than ${MAX_TASK_FRAMES} frames, which its records cannot number; plan more parts, or cut a pcapng file (editcap -c)`);
    }
    const desc = new Uint8Array(chunk.desc.buffer, 0, chunk.desc.length);
    const words = new Uint32Array(chunk.desc.buffer, 0, chunk.desc.length >> 2);
    // The clock at every frame (descriptor bytes 32 to 40): two words each, 8-aligned in both.
    const track = times.room(chunk.count * 8);
    const trackWords = new Uint32Array(track.buffer, track.byteOffset, chunk.count * 2);
    const flags = kept?.room(chunk.count);
    const stride = DESC_SIZE >> 2;
    for (let f = 0; f < chunk.count; f++) {
      trackWords[2 * f] = words[f * stride + 8]!;
      trackWords[2 * f + 1] = words[f * stride + 9]!;
      const filtered = words[f * stride + 5] === LINKTYPE_FILTERED;
      if (flags) flags[f] = filtered ? 0 : 1;
      if (!filtered) lastKept = frames + f;
      if ((frames + f) % BLOCK_FRAMES === 0) index.write(track.slice(f * 8, f * 8 + 8));
    }
    times.wrote(chunk.count * 8);
    kept?.wrote(chunk.count);
    if (chunk.count > 0) clock = desc.slice((chunk.count - 1) * DESC_SIZE + 32, chunk.count * DESC_SIZE);

    mapper.stampRecords(true, frames);
    mapper.mapFrames(chunk, true);
    const { records, deferred: left } = mapper.takePartitions(P, pool);
    records.forEach((r, j) => {
      parts[j]!.write(new Uint8Array(r.buffer, 0, r.length));
      pool.give(r.buffer);
    });
    if (left.length > 0) {
      const packed = packDeferred(chunk, left);
      const head = new Uint32Array([packed.count, packed.bytes.length]);
      const indexes = packed.indexes.map((i) => frames + i);
      deferredOut.write(new Uint8Array(head.buffer));
      deferredOut.write(new Uint8Array(indexes.buffer));
      deferredOut.write(new Uint8Array(packed.desc.buffer, 0, packed.desc.length));
      deferredOut.write(new Uint8Array(packed.bytes.buffer, 0, packed.bytes.length));
      deferred += packed.count;
    }
    frames += chunk.count;
    pool.give(chunk.desc.buffer, chunk.bytes.buffer, chunk.times.buffer);
  };

  try {
    const feed = new FileFeed(framer, source, DEFAULT_CHUNK_SIZE, () => undefined);
    if (ranged) framer.beginRange(from, task.stop, exactStart === undefined && from > 0);
    do {
      await feed.fill();
      const step = feed.frame();
      if (framer.framedCount() > 0) mapChunk(framer.takeFrames(step.consumed, pool));
      feed.consume(step.consumed);
      if (ranged && framer.range().end >= 0) break;
    } while (feed.next());
    await source.close();
    const health = framer.fileHealth();
    const range = framer.range();
    const framed = framer.stats();
    const m = mapper.stats();
    const stats: Stats = { ...framed };
    for (const key of RECORD_BUCKETS) stats[key] += m[key];
    const record: MapRecord = {
      plan: plan.id,
      task: taskIndex,
      file: task.file,
      start: ranged ? (range.first >= 0 ? range.first : file.size) : 0,
      end: ranged && range.end >= 0 ? range.end : file.size,
      frames,
      lastKept,
      clockNs: new DataView(clock.buffer, clock.byteOffset, 8).getBigInt64(0, true).toString(),
      deferred,
      partitionBytes: parts.map((p) => p.bytes),
      goodRecords: health.goodRecords,
      firstDamage: health.firstDamage === 0 ? null : { code: health.firstDamage, offset: health.firstDamageOffset },
      stats,
    };
    for (const w of writers) w.commit();
    writeAtomically(mapRecordPath(dir, taskIndex), JSON.stringify(record, null, 1));
    return record;
  } catch (e) {
    for (const w of writers) w.discard();
    await source.close().catch(() => undefined);
    throw e;
  }
}

/**
 * A pcap file read from `from` on, after its file header: the framer sees a file whose records
 * start somewhere after the header (it is told the offset with beginRange).
 */
function rangeSource(path: string, from: number): ByteSource {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new SynfinError("READ_FAILED", path, 0, `cannot read: ${(e as Error).message}`);
  }
  let position = -1;
  let closed = false;
  return {
    name: path,
    size: fstatSync(fd).size,
    async read(into) {
      try {
        if (position < 0) {
          position = from;
          return readAt(fd, into.subarray(0, PCAP_HEADER), 0);
        }
        const n = readSync(fd, into, 0, into.length, position);
        position += n;
        return n;
      } catch (e) {
        throw new SynfinError("READ_FAILED", path, Math.max(position, 0), `cannot read: ${(e as Error).message}`);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}
