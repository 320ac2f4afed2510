// Coverage instrumentation of the wasm core for the fuzzer, as a pass over binaryen IR: a 32-bit
// hit counter per function entry, branch arm (if, br_if, select, br_table case) and loop
// iteration, in a map placed between the core's static data and its heap, plus loop fuel so that
// a hang ends in a catchable `cov.refuel` call instead of spinning forever.
//
//   node fuzz/instrument.mjs [build/synfin.debug.wasm] [build/synfin.fuzz.wasm]
//
// Instruments the debug build (the only one that keeps `__heap_base` as a global, and the one
// with the standard library's assertions), then optimizes it like the release build.

import binaryen from "binaryen";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const F = binaryen.Features;
/** asconfig.json's `enable` list; nothing newer, so the output runs on Node 20. */
const FEATURES = F.MutableGlobals | F.NontrappingFPToInt | F.BulkMemory | F.BulkMemoryOpt | F.SignExt;
const HEAP_BASE = "~lib/memory/__heap_base";
const FUEL = "__fuzz_fuel";
const SWITCH_TEMP = "__fuzz_switch";
const REFUEL = "__fuzz_refuel";
const ALIGN = 16;

/** Expression kinds without children. */
const LEAVES = new Set([binaryen.UnreachableId, binaryen.NopId, binaryen.ConstId, binaryen.LocalGetId, binaryen.GlobalGetId, binaryen.MemorySizeId]);
/** The child fields of every other kind the core's IR uses (from getExpressionInfo). */
const CHILDREN = new Map([
  [binaryen.BlockId, ["children"]],
  [binaryen.CallId, ["operands"]],
  [binaryen.CallIndirectId, ["target", "operands"]],
  [binaryen.LocalSetId, ["value"]],
  [binaryen.GlobalSetId, ["value"]],
  [binaryen.LoadId, ["ptr"]],
  [binaryen.StoreId, ["ptr", "value"]],
  [binaryen.UnaryId, ["value"]],
  [binaryen.BinaryId, ["left", "right"]],
  [binaryen.DropId, ["value"]],
  [binaryen.ReturnId, ["value"]],
  [binaryen.MemoryGrowId, ["delta"]],
  [binaryen.MemoryCopyId, ["dest", "source", "size"]],
  [binaryen.MemoryFillId, ["dest", "value", "size"]],
]);

const alignUp = (n) => (n + ALIGN - 1) & -ALIGN;

/**
 * Returns the instrumented binary and its map: `mapBase` (byte address in wasm memory), `points`
 * (one { fn, kind } per counter; counter i is the u32 at mapBase + 4i).
 */
export function instrument(wasm, { optimize = true } = {}) {
  const m = binaryen.readBinaryWithFeatures(wasm, FEATURES);
  try {
    const heapBase = m.getGlobal(HEAP_BASE);
    if (!heapBase) throw new Error(`no ${HEAP_BASE} global: instrument the debug build`);
    const heapInit = binaryen.getGlobalInfo(heapBase).init;
    const mapBase = alignUp(binaryen.Const.getValueI32(heapInit));
    const points = [];
    const i32 = binaryen.i32;
    const seq = (...children) => m.block(null, children, binaryen.auto);

    m.addGlobal(FUEL, i32, true, m.i32.const(0));
    m.addGlobal(SWITCH_TEMP, i32, true, m.i32.const(0));
    m.addFunctionImport(REFUEL, "cov", "refuel", binaryen.none, i32);

    // counter[id] += 1
    const hit = (id) => {
      const offset = mapBase + 4 * id;
      return m.i32.store(offset, 4, m.i32.const(0), m.i32.add(m.i32.load(offset, 4, m.i32.const(0)), m.i32.const(1)));
    };
    const point = (fn, kind) => points.push({ fn, kind }) - 1;
    // A condition that counts which way it went and yields 1 or 0.
    const countedCondition = (fn, cond) => m.if(cond,
      m.block(null, [hit(point(fn, "true")), m.i32.const(1)], i32),
      m.block(null, [hit(point(fn, "false")), m.i32.const(0)], i32));
    // br_table: counter base + min(index, cases) for the case taken.
    const countedIndex = (fn, cond, cases) => {
      const base = mapBase + 4 * points.length;
      for (let c = 0; c <= cases; c++) point(fn, `case ${c}`);
      const index = () => m.global.get(SWITCH_TEMP, i32);
      const slot = () => m.i32.shl(m.select(m.i32.lt_u(index(), m.i32.const(cases)), index(), m.i32.const(cases)), m.i32.const(2));
      return m.block(null, [
        m.global.set(SWITCH_TEMP, cond),
        m.i32.store(base, 4, slot(), m.i32.add(m.i32.load(base, 4, slot()), m.i32.const(1))),
        index(),
      ], i32);
    };
    const fuel = () => m.block(null, [
      m.global.set(FUEL, m.i32.sub(m.global.get(FUEL, i32), m.i32.const(1))),
      m.if(m.i32.le_s(m.global.get(FUEL, i32), m.i32.const(0)), m.global.set(FUEL, m.call(REFUEL, [], i32))),
    ]);

    const visit = (fn, e) => {
      if (!e) return;
      const id = binaryen.getExpressionId(e);
      if (LEAVES.has(id)) return;
      const info = binaryen.getExpressionInfo(e);
      switch (id) {
        case binaryen.IfId: {
          visit(fn, info.condition);
          visit(fn, info.ifTrue);
          visit(fn, info.ifFalse);
          binaryen.If.setIfTrue(e, seq(hit(point(fn, "then")), info.ifTrue));
          binaryen.If.setIfFalse(e, info.ifFalse ? seq(hit(point(fn, "else")), info.ifFalse) : hit(point(fn, "else")));
          return;
        }
        case binaryen.LoopId:
          visit(fn, info.body);
          binaryen.Loop.setBody(e, seq(fuel(), hit(point(fn, "loop")), info.body));
          return;
        case binaryen.BreakId:
          visit(fn, info.value);
          visit(fn, info.condition);
          if (info.condition) binaryen.Break.setCondition(e, countedCondition(fn, info.condition));
          return;
        case binaryen.SelectId:
          visit(fn, info.ifTrue);
          visit(fn, info.ifFalse);
          visit(fn, info.condition);
          binaryen.Select.setCondition(e, countedCondition(fn, info.condition));
          return;
        case binaryen.SwitchId:
          visit(fn, info.value);
          visit(fn, info.condition);
          binaryen.Switch.setCondition(e, countedIndex(fn, info.condition, info.names.length));
          return;
      }
      const fields = CHILDREN.get(id);
      if (!fields) throw new Error(`instrument: unexpected expression kind ${id} in ${fn}`);
      for (const field of fields) {
        const child = info[field];
        if (Array.isArray(child)) child.forEach((c) => visit(fn, c));
        else visit(fn, child);
      }
    };

    for (let i = 0; i < m.getNumFunctions(); i++) {
      const ref = m.getFunctionByIndex(i);
      const f = binaryen.getFunctionInfo(ref);
      if (f.module || f.name === REFUEL) continue;
      visit(f.name, f.body);
      binaryen.Function.setBody(ref, seq(hit(point(f.name, "entry")), f.body));
    }

    const mapBytes = alignUp(points.length * 4);
    binaryen.Const.setValueI32(heapInit, mapBase + mapBytes);
    if (!m.validate()) throw new Error("instrument: the instrumented module does not validate");
    if (optimize) {
      binaryen.setOptimizeLevel(3);
      binaryen.setShrinkLevel(0);
      binaryen.setDebugInfo(true); // keep function names for the stacks of findings
      m.optimize();
    }
    return { binary: m.emitBinary(), mapBase, mapBytes, points };
  } finally {
    m.dispose();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [input = "build/synfin.debug.wasm", output = "build/synfin.fuzz.wasm"] = process.argv.slice(2);
  const started = Date.now();
  const { binary, points, mapBase } = instrument(readFileSync(input));
  writeFileSync(output, binary);
  console.log(`${output}: ${points.length} counters at ${mapBase}, ${binary.length} bytes, ${Date.now() - started} ms`);
}
