// The parallel path's stages timed one after another in one thread (no threads, so no contention):
// read, frame, copy out, map, copy records out, load them into a reducer, reduce, copy rows out.
// The figures behind README "Workers on this machine, and with more cores".
//
//   node bench/stages.mjs CAPTURE.pcap [partitions]

import { readFileSync, openSync, readSync } from "node:fs";
import { Core, Part } from "../dist/core.js";
import { BufferPool } from "../dist/pool.js";
import { copyRows } from "../dist/rows.js";
import { Status } from "../dist/abi.js";
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
