// The package as users install it. package.json's "exports" name files that exist; the tarball
// `npm pack` makes holds what it must (a LICENSE, the release core) and nothing it must not (debug
// builds, source maps of sources it does not ship); installed into a new project, it type-checks
// under `moduleResolution` node16 and bundler (with the node condition), strictly, with
// `skipLibCheck: false` and `lib: ["ES2022"]` (no DOM), a typo in a column name does not compile,
// the compiled program analyses a capture, and the command runs from the code cache it ships.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tableFromIPC } from "apache-arrow";
import { readParquet } from "parquet-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Conversation } from "../src/synth/conversation.js";
import { NS_PER_SECOND, pcapOf } from "./support/fixtures.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string; version: string; files: string[]; exports: Record<string, unknown>; scripts: Record<string, string>;
};

/** Every path in an "exports" value, however its conditions nest. */
function targets(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (value && typeof value === "object") return Object.values(value).flatMap(targets);
  return [];
}

function run(cmd: string, args: string[], cwd: string) {
  // As a user runs it: without the test run's choice of the debug core (SYNFIN_WASM_BUILD).
  const { SYNFIN_WASM_BUILD: _, ...env } = process.env;
  const result = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...env, npm_config_update_notifier: "false" } });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

describe("package.json", () => {
  it("exports only files that exist, with types for both entries", () => {
    const paths = targets(pkg.exports);
    expect(paths.filter((p) => p.endsWith(".d.ts")).length).toBeGreaterThanOrEqual(2);
    for (const path of paths) expect(existsSync(join(ROOT, path)), path).toBe(true);
  });

  it("builds the tarball in prepack and packs it without the prepare script, which postpack puts back", () => {
    expect(pkg.scripts.prepare).toBe("npm run build");
    expect(pkg.scripts.prepack).toMatch(/^npm run build && node scripts\/pack-manifest\.mjs packed$/);
    expect(pkg.scripts.postpack).toBe("node scripts/pack-manifest.mjs source");
  });
});

// The consumer's program: analyses the capture given as its argument.
const PROGRAM = `import { analyze, connections, SynfinError, type AnalyzeOptions, type Connection } from "${pkg.name}";
const options: AnalyzeOptions = { workers: 1 };
const { table, stats } = await analyze(process.argv[2]!, options);
const row: Connection | null = table.get(0);
// @ts-expect-error: a column name with a typo does not compile
void row?.conn_state_typo;
const state: string | undefined = row?.conn_state;
let streamed = 0;
for await (const batch of connections(process.argv[2]!)) streamed += batch.numRows;
console.log(JSON.stringify({ rows: table.numRows, streamed, records: stats.records, state, error: SynfinError.name }));
`;

const COMPILER_OPTIONS = { target: "ES2022", lib: ["ES2022"], types: ["node"], strict: true, skipLibCheck: false, outDir: "out" };
const RESOLUTIONS = {
  node16: { module: "Node16", moduleResolution: "Node16" },
  bundler: { module: "ESNext", moduleResolution: "Bundler", customConditions: ["node"] },
};

describe("the packed tarball, installed", () => {
  let dir: string;
  let files: string[];
  let installed: { status: number | null; out: string };
  let packets: number;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "synfin-pack-"));
    // The package's files, packed from a copy with its own prepack step (the build is npm test's
    // own, done already: building again here would rewrite dist/ under the other tests' feet).
    const source = join(dir, "package");
    mkdirSync(source);
    for (const name of ["package.json", "scripts", ...pkg.files]) {
      for (const path of name.includes("*") ? [] : [name]) cpSync(join(ROOT, path), join(source, path), { recursive: true });
    }
    expect(run(process.execPath, ["scripts/pack-manifest.mjs", "packed"], source).status).toBe(0);
    const packed = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], source);
    expect(packed.status, packed.out).toBe(0);
    const [report] = JSON.parse(packed.out.slice(packed.out.indexOf("["))) as [{ filename: string; files: { path: string }[] }];
    files = report.files.map((f) => f.path);
    const project = join(dir, "consumer");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }));
    // Its dependencies from npm's cache (npm ci filled it), the registry otherwise.
    installed = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", join(dir, report.filename), join(ROOT, "node_modules/@types/node")], project);
    writeFileSync(join(project, "index.ts"), PROGRAM);
    const conversation = new Conversation({ client: "10.0.0.1", server: "10.0.0.2", clientPort: 40000, serverPort: 80, startNs: 1_700_000_000n * NS_PER_SECOND })
      .handshake().data("client", 100).ack("server").data("server", 200).ack("client").close("client").packets();
    packets = conversation.length;
    writeFileSync(join(project, "capture.pcap"), pcapOf(conversation));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("holds a LICENSE and the release core (and its shared-memory build), no debug or fuzz build, no source map", () => {
    expect(files).toContain("LICENSE");
    expect(files.filter((f) => f.endsWith(".wasm")).sort()).toEqual(["build/synfin.release.shared.wasm", "build/synfin.release.wasm"]);
    expect(files.filter((f) => f.endsWith(".map"))).toEqual([]);
    expect(files.some((f) => f.startsWith("src/") || f.startsWith("test/"))).toBe(false);
  });

  it("installs without building (its manifest has no prepare script)", () => {
    expect(installed.status, installed.out).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, "consumer/node_modules", pkg.name, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(manifest.scripts.prepare).toBeUndefined();
  });

  it.each(Object.keys(RESOLUTIONS) as (keyof typeof RESOLUTIONS)[])("type-checks strictly under moduleResolution %s, with skipLibCheck false and no DOM", (resolution) => {
    const project = join(dir, "consumer");
    const config = `tsconfig.${resolution}.json`;
    writeFileSync(join(project, config), JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, ...RESOLUTIONS[resolution] }, files: ["index.ts"] }));
    const checked = run(process.execPath, [TSC, "-p", config], project);
    expect(checked.out).toBe("");
    expect(checked.status).toBe(0);
  });

  it("runs its command from the code cache it ships, and writes Parquet there (parquet-wasm found from the installed package)", () => {
    const project = join(dir, "consumer");
    const cli = join(project, "node_modules", pkg.name, "dist/cli.js");
    const { SYNFIN_WASM_BUILD: _, ...env } = process.env;
    const ran = spawnSync(process.execPath, [cli, "capture.pcap", "--format", "parquet"], { cwd: project, env: { ...env, SYNFIN_REPORT_CODE_CACHE: "1" } });
    // The cache was made by this Node (npm test's build), so it is taken.
    expect({ status: ran.status, stderr: ran.stderr.toString() }).toEqual({ status: 0, stderr: "synfin: code cache taken\n" });
    expect(tableFromIPC(readParquet(ran.stdout).intoIPCStream()).numRows).toBe(1);
  });

  it("runs: the compiled program analyses a capture", () => {
    const project = join(dir, "consumer");
    expect(existsSync(join(project, "out/index.js"))).toBe(true);
    const ran = run(process.execPath, ["out/index.js", "capture.pcap"], project);
    expect(ran.status, ran.out).toBe(0);
    expect(JSON.parse(ran.out)).toEqual({ rows: 1, streamed: 1, records: packets, state: "SF", error: "SynfinError" });
  });
});
