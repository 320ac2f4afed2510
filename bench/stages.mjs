// The parallel paths' stages timed one after another in one thread (no threads, so no contention).
// Map/shuffle/reduce: read, frame, copy out, map, copy records out, load them into a reducer,
// reduce, copy rows out. Replicated decode: a lane that keeps no flow (what every lane pays:
// read, frame, decode, hash) and one that keeps them all (a single pass), each reading the file
// with blocking reads as a lane does. The figures behind docs/benchmarks.md "Workers on this machine, and
// with more cores".
//
//   node --experimental-wasm-inlining bench/stages.mjs CAPTURE.pcap [partitions]

import { readFileSync, openSync, readSync } from "node:fs";
import { Core, Part } from "../dist/core/core.js";
import { BufferPool } from "../dist/input/pool.js";
import { copyRows } from "../dist/core/rows.js";
import { Status } from "../dist/core/abi.js";
const file = process.argv[2]; const W = Number(process.argv[3] ?? 2);
const module = await WebAssembly.compile(readFileSync(new URL("../build/synfin.release.wasm", import.meta.url)));
const framer = await Core.create(module, { maxFlows: 1 }); framer.setParallel(Part.Framer, W);
const mapper = await Core.create(module, { maxFlows: 1 }); mapper.setParallel(Part.Mapper, W);
const reducers = []; for (let j = 0; j < W; j++) { const r = await Core.create(module, {}); r.setParallel(Part.Reducer); reducers.push(r); }
const T = { read: 0, frame: 0, takeFrames: 0, map: 0, takeParts: 0, reduceLoad: 0, reduce: 0, rows: 0 };
const pool = new BufferPool();
const fd = openSync(file, "r"); let pos = 0; let len = 0; const cap = 8 << 20; let frames = 0;
const tick = (k, t0) => { T[k] += performance.now() - t0; };
framer.beginFile();
let rows = 0;
const drain = (c) => { const v = c.outputView(); if (v.rows) { rows += v.rows; copyRows(v, v.rows); c.shiftOutput(v.rows); } };
for (let eof = false; !eof; ) {
  let t0 = performance.now();
  const input = framer.input(cap);
  const n = readSync(fd, input, len, cap - len, pos); pos += n; len += n; if (n === 0) eof = true;
  tick("read", t0); t0 = performance.now();
  const step = framer.feed(len, eof);
  tick("frame", t0); t0 = performance.now();
  const fr = framer.takeFrames(step.consumed, pool);
  framer.carryOver(step.consumed, len); len -= step.consumed;
  tick("takeFrames", t0); t0 = performance.now();
  mapper.mapFrames(fr, true);
  tick("map", t0); t0 = performance.now();
  const { records } = mapper.takePartitions(W, pool);
  tick("takeParts", t0);
  for (let j = 0; j < W; j++) {
    t0 = performance.now();
    reducers[j].beginReduce(fr.times, fr.count, records[j], frames);
    tick("reduceLoad", t0); t0 = performance.now();
    while (reducers[j].reduce() === Status.OutputFull) drain(reducers[j]);
    tick("reduce", t0); t0 = performance.now();
    drain(reducers[j]);
    tick("rows", t0);
    pool.give(records[j].buffer);
  }
  frames += fr.count;
  pool.give(fr.times.buffer, fr.desc.buffer, fr.bytes.buffer);
}
for (const r of reducers) { while (r.finish() === Status.OutputFull) drain(r); drain(r); }
console.log(Object.entries(T).map(([k, v]) => `${k} ${(v / 1000).toFixed(3)} s`).join("  "), `| ${rows} rows, ${frames} frames, ${W} partition(s)`);

/** One replicated-decode lane over the file, keeping the flows of hashes [lo, hi]; its seconds. */
async function lane(lo, hi) {
  const core = await Core.create(module, {});
  core.setParallel(Part.Replica);
  core.ownHashes(lo, hi);
  const laneFd = openSync(file, "r");
  const t0 = performance.now();
  let at = 0;
  let held = 0;
  core.beginFile();
  for (let eof = false; !eof; ) {
    const input = core.input(cap);
    const n = readSync(laneFd, input, held, cap - held, at); at += n; held += n; if (n === 0) eof = true;
    while (true) {
      const step = core.feed(held, eof);
      core.carryOver(step.consumed, held); held -= step.consumed;
      if (step.status !== Status.OutputFull) break;
      drain(core);
    }
    drain(core);
  }
  while (core.finish() === Status.OutputFull) drain(core);
  drain(core);
  return (performance.now() - t0) / 1000;
}
const none = await lane(1, 0);
const all = await lane(0, 2 ** 32 - 1);
console.log(`replicated decode: a lane keeping no flow ${none.toFixed(3)} s, keeping all ${all.toFixed(3)} s (the flow layer ${(all - none).toFixed(3)} s)`);
