// The layout: no module of src/ or assembly/ imports itself back through others (what
// `madge --circular` reports, type-only imports included), and the README's "Where things are"
// table names every folder of both.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** Module → the modules of the same trees it imports or re-exports (static, type-only included). */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const deps: string[] = [];
    for (const m of text.matchAll(/^\s*(?:import|export)\s(?:[^;]*?\sfrom\s*)?["'](\.[^"']+)["']/gms)) {
      const target = resolve(dirname(file), m[1]!).replace(/\.js$/, "");
      const path = target.endsWith(".ts") ? target : `${target}.ts`;
      if (known.has(path)) deps.push(path);
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Strongly connected components of more than one module (Tarjan), or of one importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = ""; w !== v; ) { w = stack.pop()!; onStack.delete(w); component.push(w); }
    if (component.length > 1 || graph.get(v)!.includes(v)) found.push(component.map((f) => relative(ROOT, f)).sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("the house", () => {
  const files = [...sourceFiles(join(ROOT, "src")), ...sourceFiles(join(ROOT, "assembly"))];

  it("reads the imports it checks", () => {
    const graph = importGraph(files);
    expect(graph.get(join(ROOT, "src/node.ts"))).toContain(join(ROOT, "src/run/api.ts"));
    expect(graph.get(join(ROOT, "assembly/engine.ts"))).toContain(join(ROOT, "assembly/flow/tracker.ts"));
    // A cycle is found when there is one.
    expect(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]))).toHaveLength(1);
  });

  it("has no import cycle in src/ or assembly/", () => {
    expect(cycles(importGraph(files))).toEqual([]);
  });

  it("names every folder of src/ and assembly/ in the README's table of where things are", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const table = /## Where things are\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? "";
    const folders = files.map((f) => relative(ROOT, dirname(f))).filter((d, i, all) => all.indexOf(d) === i);
    for (const folder of folders) expect(table, folder).toContain(`\`${folder}/\``);
  });
});
