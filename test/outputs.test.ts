// The analyst's formats, read back by the tools analysts use: DuckDB (native, @duckdb/node-api)
// reads our Parquet; DuckDB (duckdb-wasm, which ingests Arrow IPC streams; the native build needs
// its `arrow` extension, which cannot be downloaded here) reads our Arrow IPC stream and the
// stream that makes up the body of our Arrow IPC file; all with the values of our NDJSON; `--format zeek` is
// Zeek's conn.log layout with the values of our NDJSON; `--sort-by-time` orders the files of a
// capture by their first packet.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { analyze } from "../src/node.js";
import { COLUMNS, type ColumnDef } from "../src/output/schema.js";
import { writePcap } from "../src/synth/capture.js";
import { LINKTYPE } from "../src/synth/packet.js";
import { synthPackets } from "../src/synth/synth.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "./support/shared.js";
import { rowsOf, type Row } from "./support/rows.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "synfin-outputs-"));

function cli(...args: string[]): void {
  const p = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", maxBuffer: 256 << 20 });
  if (p.status !== 0) throw new Error(`synfin ${args.join(" ")}: exit ${p.status}: ${p.stderr}`);
}

/** Our NDJSON rows of a capture (the library renders them exactly as the CLI does). */
async function ndjsonRows(path: string): Promise<Row[]> {
  return rowsOf((await analyze(path)).table);
}

/** An ISO-8601 nanosecond timestamp of our NDJSON in whole µs (DuckDB's TIMESTAMPTZ resolution). */
function isoToMicros(iso: string): bigint {
  const [whole, frac] = iso.slice(0, -1).split(".");
  return BigInt(Date.parse(`${whole}Z`)) * 1000n + BigInt(frac!.slice(0, 6));
}

/**
 * DuckDB's types for ours: Timestamp(ns, UTC) is TIMESTAMPTZ, held in µs; Duration(ns) is a BIGINT
 * of ns when read from Parquet (the Arrow schema Parquet files carry) and an INTERVAL, held in µs,
 * when ingested from Arrow IPC.
 */
type Durations = "ns" | "interval";

/** The SQL that reads every column in a form comparable with NDJSON: times in whole µs. */
function selectList(durations: Durations): string {
  return COLUMNS.map((c) => {
    if (c.source.kind === "timestamp") return `epoch_us("${c.name}") AS "${c.name}"`;
    if (c.source.kind === "duration" && durations === "interval") return `CAST(round(epoch("${c.name}") * 1e6) AS BIGINT) AS "${c.name}"`;
    return `"${c.name}"`;
  }).join(", ");
}

/** A DuckDB value and our NDJSON value of the same column, in the same terms. */
function comparable(def: ColumnDef, duck: unknown, ours: unknown, durations: Durations): [unknown, unknown] {
  if (duck === undefined || duck === null || ours === null) return [duck ?? null, ours];
  switch (def.source.kind) {
    case "timestamp": return [BigInt(duck as bigint | number), isoToMicros(ours as string)];
    case "duration":
      return durations === "ns"
        ? [Number(duck as bigint) / 1e9, ours]
        : [BigInt(duck as bigint | number), BigInt(Math.round((ours as number) * 1e9)) / 1000n];
    default: return [typeof duck === "bigint" ? Number(duck) : duck, ours];
  }
}

/** Compares rows read by DuckDB (ordered by conn_id) with our NDJSON rows, cell by cell. */
function expectSameValues(duck: Array<Record<string, unknown>>, ours: Row[], label: string, durations: Durations): void {
  expect(duck.length, label).toBe(ours.length);
  const byId = [...ours].sort((a, b) => (a.conn_id as number) - (b.conn_id as number));
  const differences: string[] = [];
  for (let i = 0; i < byId.length; i++) {
    for (const def of COLUMNS) {
      const [theirs, mine] = comparable(def, duck[i]![def.name], byId[i]![def.name], durations);
      if (theirs !== mine) differences.push(`conn_id ${byId[i]!.conn_id} ${def.name}: DuckDB ${String(theirs)}, NDJSON ${String(mine)}`);
    }
  }
  expect(differences.slice(0, 10), label).toEqual([]);
}

/** Kernel captures of every container variant, and a synthetic one of several output batches. */
function captures(): string[] {
  const synthetic = join(dir, "synthetic.pcap");
  writeFileSync(synthetic, writePcap([...synthPackets({ seed: 11, connections: 20_000, concurrency: 200, snaplen: 128, nanos: true })], { linkType: LINKTYPE.ETHERNET, nanos: true }));
  const kernel = HAS_CAPTURES ? readdirSync(join(CAPTURES, "kernel")).filter((f) => /^(many|loss|ipv6)\.(pcap|ns\.pcap|pcapng)$/.test(f)).map((f) => join(CAPTURES, "kernel", f)) : [];
  return [synthetic, ...kernel];
}

describe("DuckDB reads our Parquet and Arrow with the values of our NDJSON", () => {
  let files: string[];
  let native: DuckDBConnection;
  let wasm: { query(sql: string): { toArray(): Array<{ toJSON(): Record<string, unknown> }> }; insertArrowFromIPCStream(b: Uint8Array, o: { name: string }): void };

  beforeAll(async () => {
    files = captures();
    native = await (await DuckDBInstance.create(":memory:")).connect();
    const require = createRequire(import.meta.url);
    const blocking = require("@duckdb/duckdb-wasm/dist/duckdb-node-blocking.cjs");
    const dist = dirname(require.resolve("@duckdb/duckdb-wasm/dist/duckdb-node-blocking.cjs"));
    const db = await blocking.createDuckDB(
      { mvp: { mainModule: join(dist, "duckdb-mvp.wasm"), mainWorker: join(dist, "duckdb-node-mvp.worker.cjs") }, eh: { mainModule: join(dist, "duckdb-eh.wasm"), mainWorker: join(dist, "duckdb-node-eh.worker.cjs") } },
      new blocking.VoidLogger(), blocking.NODE_RUNTIME);
    await db.instantiate();
    wasm = db.connect();
  });

  afterAll(() => native?.closeSync());

  it("Parquet (--format parquet), read by DuckDB's own Parquet reader", async () => {
    for (const file of files) {
      const out = join(dir, "out.parquet");
      cli(file, "--format", "parquet", "-o", out);
      const reader = await native.runAndReadAll(`SELECT ${selectList("ns")} FROM read_parquet('${out}') ORDER BY conn_id`);
      expectSameValues(reader.getRowObjects(), await ndjsonRows(file), file, "ns");
      // Dictionary encoding on the string columns only (src/output/parquet.ts).
      const chunks = (await native.runAndReadAll(`SELECT path_in_schema, type, encodings FROM parquet_metadata('${out}')`)).getRowObjects();
      expect(chunks.length, file).toBeGreaterThanOrEqual(COLUMNS.length);
      const dictionary = (c: Record<string, unknown>) => String(c.encodings).includes("DICTIONARY");
      expect(chunks.filter((c) => c.type !== "BYTE_ARRAY" && dictionary(c)).map((c) => c.path_in_schema), file).toEqual([]);
      expect(chunks.filter((c) => c.path_in_schema === "conn_state").every(dictionary), file).toBe(true);
    }
  });

  it("Arrow IPC stream (--format arrow-stream) and the stream inside the Arrow IPC file (--format arrow)", async () => {
    const ARROW_MAGIC = 8; // "ARROW1" and two bytes of padding before the file's messages
    for (const [n, file] of files.entries()) {
      const stream = join(dir, "out.arrows");
      const arrowFile = join(dir, "out.arrow");
      cli(file, "--format", "arrow-stream", "-o", stream);
      cli(file, "--format", "arrow", "-o", arrowFile);
      const fileBytes = readFileSync(arrowFile);
      const footerLength = fileBytes.readInt32LE(fileBytes.length - 10);
      const inside = fileBytes.subarray(ARROW_MAGIC, fileBytes.length - 10 - footerLength);
      const ours = await ndjsonRows(file);
      for (const [name, bytes] of [[`s${n}`, readFileSync(stream)], [`f${n}`, inside]] as const) {
        wasm.insertArrowFromIPCStream(new Uint8Array(bytes), { name });
        const rows = wasm.query(`SELECT ${selectList("interval")} FROM ${name} ORDER BY conn_id`).toArray().map((r) => r.toJSON());
        expectSameValues(rows, ours, `${file} (${name.startsWith("s") ? "stream" : "file"})`, "interval");
      }
    }
  });
});

/** Zeek's ASCII log: the header lines and the rows, split on tabs (as zeek-cut reads it). */
function readZeekLog(text: string): { header: Map<string, string>; rows: Array<Record<string, string>> } {
  const header = new Map<string, string>();
  const rows: Array<Record<string, string>> = [];
  let fields: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) {
      const [key, ...rest] = line.slice(1).split(/\t| /);
      header.set(key!, rest.join("\t"));
      if (key === "fields") fields = rest;
    } else if (line) {
      const cells = line.split("\t");
      expect(cells).toHaveLength(fields.length);
      rows.push(Object.fromEntries(fields.map((f, i) => [f, cells[i]!])));
    }
  }
  return { header, rows };
}

describe.skipIf(!HAS_CAPTURES)(`--format zeek${SKIP_NOTE}`, () => {
  it("has Zeek 7's conn.log header and, on every Zeek trace, the values of our NDJSON", async () => {
    const zeekDir = join(CAPTURES, "zeek");
    const baseline = readZeekLog(readFileSync(join(zeekDir, "pbb.pcap.core.pbb.conn.log"), "utf8")).header;
    const traces = readdirSync(zeekDir).filter((f) => /\.(pcap|pcapng|trace)$/.test(f));
    let rowsChecked = 0;
    for (const trace of traces) {
      const path = join(zeekDir, trace);
      const out = join(dir, "conn.log");
      cli(path, "--format", "zeek", "-o", out);
      const log = readZeekLog(readFileSync(out, "utf8"));
      for (const key of ["separator", "set_separator", "empty_field", "unset_field", "path", "fields", "types"]) {
        expect(log.header.get(key), `${trace} #${key}`).toBe(baseline.get(key));
      }
      expect(log.header.get("close"), trace).toMatch(/^\d{4}(-\d\d){5}$/);
      const ours = await ndjsonRows(path);
      expect(log.rows.length, trace).toBe(ours.length);
      const seconds = (iso: string) => { const us = isoToMicros(iso); return `${us / 1_000_000n}.${(us % 1_000_000n).toString().padStart(6, "0")}`; };
      const unsetOr = (v: unknown) => (v === null ? "-" : String(v));
      log.rows.forEach((z, i) => {
        const s = ours[i]!;
        // Zeek's Conn::set_conn sets duration and the byte counts only for a duration above zero.
        const lasted = s.duration !== null && (s.duration as number) > 0;
        expect({
          ts: z.ts, id_orig: [z["id.orig_h"], z["id.orig_p"]], id_resp: [z["id.resp_h"], z["id.resp_p"]], proto: z.proto,
          duration: z.duration, conn_state: z.conn_state, history: z.history, missed: z.missed_bytes,
          orig: [z.orig_bytes, z.orig_pkts, z.orig_ip_bytes], resp: [z.resp_bytes, z.resp_pkts, z.resp_ip_bytes], ip_proto: z.ip_proto,
        }, `${trace} row ${i}`).toEqual({
          ts: seconds(s.ts as string), id_orig: [s.orig_h, String(s.orig_p)], id_resp: [s.resp_h, String(s.resp_p)], proto: "tcp",
          duration: lasted ? (s.duration as number).toFixed(6) : "-", conn_state: s.conn_state, history: s.history === "" ? "-" : unsetOr(s.history),
          missed: String(s.missed_bytes), orig: [lasted ? unsetOr(s.orig_bytes) : "-", String(s.orig_pkts), String(s.orig_ip_bytes)],
          resp: [lasted ? unsetOr(s.resp_bytes) : "-", String(s.resp_pkts), String(s.resp_ip_bytes)], ip_proto: "6",
        });
        expect(z.uid).toMatch(/^C[0-9A-Za-z]{17}$/);
      });
      expect(new Set(log.rows.map((r) => r.uid)).size, `${trace}: uids are distinct`).toBe(log.rows.length);
      rowsChecked += ours.length;
    }
    expect(rowsChecked).toBeGreaterThan(1000);
  });
});

describe.skipIf(!HAS_CAPTURES)(`--sort-by-time${SKIP_NOTE}`, () => {
  it("reads the files of a capture given out of order as the whole capture", async () => {
    for (const name of ["many.pcap", "many.pcapng"]) {
      const whole = join(CAPTURES, "kernel", name);
      const parts = splitByPackets(whole, name.endsWith("pcapng") ? "pcapng" : "pcap", 3);
      const sorted = join(dir, `sorted-${name}.ndjson`);
      const given = join(dir, `given-${name}.ndjson`);
      cli(...[...parts].reverse(), "--sort-by-time", "--format", "ndjson", "-o", sorted);
      cli(...[...parts].reverse(), "--format", "ndjson", "-o", given);
      const expectedRows = (await ndjsonRows(whole)).map((r) => JSON.stringify(r));
      expect(readFileSync(sorted, "utf8").trim().split("\n"), name).toEqual(expectedRows);
      expect(readFileSync(given, "utf8").trim().split("\n"), `${name}: as given, the order matters`).not.toEqual(expectedRows);
    }
  });
});

/** Splits a capture into `n` files of about equal packet counts (each with the file's header). */
function splitByPackets(path: string, format: "pcap" | "pcapng", n: number): string[] {
  const bytes = readFileSync(path);
  const records: Array<[number, number]> = [];
  let header: Buffer;
  if (format === "pcap") {
    header = bytes.subarray(0, 24);
    for (let at = 24; at < bytes.length; at += 16 + bytes.readUInt32LE(at + 8)) records.push([at, 16 + bytes.readUInt32LE(at + 8)]);
  } else {
    // Blocks before the first packet block (SHB, IDBs) head every part.
    let at = 0;
    let headerEnd = -1;
    while (at < bytes.length) {
      const type = bytes.readUInt32LE(at);
      const len = bytes.readUInt32LE(at + 4);
      if (type === 6 && headerEnd < 0) headerEnd = at;
      if (headerEnd >= 0) records.push([at, len]);
      at += len;
    }
    header = bytes.subarray(0, headerEnd);
  }
  const per = Math.ceil(records.length / n);
  return Array.from({ length: n }, (_, i) => {
    const part = join(dir, `${path.split("/").pop()}.part${i}`);
    const chunk = records.slice(i * per, (i + 1) * per).map(([at, len]) => bytes.subarray(at, at + len));
    writeFileSync(part, Buffer.concat([header, ...chunk]));
    return part;
  });
}
