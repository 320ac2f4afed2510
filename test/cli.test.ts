// The built command line (dist/cli.js), run as a child process on captures written to a temporary
// directory: every output format agrees with the library, and unreadable input or bad usage exits 2
// with one line on standard error.

import { spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tableFromIPC, type Table } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readParquet } from "parquet-wasm";
import { analyze, COLUMNS, PACKET_COLUMNS, PACKET_STATS_COLUMNS, RECORD_BUCKETS, type ConnectionColumns, type PacketStatsColumns } from "../src/node.js";
import { ndjsonLines } from "../src/output/format.js";
import { Conversation } from "../src/synth/conversation.js";
import { type Cell, type Row, NS_PER_MS, NS_PER_SECOND, analyzeRows, pcapOf } from "./support/fixtures.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const T0 = 1_700_000_000n * NS_PER_SECOND;

let dir: string;
let capture: string;
let expectedRows: Row[];
let packetCount: number;

/** Three connections: a complete one (SF), an unanswered SYN (S0) and a rejected one (REJ). */
function threeConnections() {
  const base = { client: "10.0.0.1", server: "10.0.0.2", serverPort: 80 };
  const complete = new Conversation({ ...base, clientPort: 40001, startNs: T0 })
    .handshake().data("client", 100).ack("server").data("server", 2000).ack("client").close("client");
  const unanswered = new Conversation({ ...base, clientPort: 40002, startNs: T0 + 10n * NS_PER_MS }).syn();
  const rejected = new Conversation({ ...base, clientPort: 40003, startNs: T0 + 20n * NS_PER_MS }).syn().rst("server", { withAck: true });
  return [...complete.packets(), ...unanswered.packets(), ...rejected.packets()].sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
}

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", maxBuffer: 256 << 20 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.length > 0);
}

/** ISO-8601 UTC with nine fractional digits, from ns since the epoch (the CLI's text form of a timestamp). */
function isoNs(ns: bigint): string {
  const secondsPart = ns / NS_PER_SECOND;
  const fraction = ns % NS_PER_SECOND;
  return `${new Date(Number(secondsPart) * 1000).toISOString().slice(0, 19)}.${fraction.toString().padStart(9, "0")}Z`;
}

/** A library row as the CLI writes it: timestamps as ISO text, durations in seconds. */
function asText(row: Row): Record<string, Cell> {
  const out: Record<string, Cell> = {};
  for (const def of COLUMNS) {
    const value = row[def.name]!;
    if (def.source.kind === "timestamp") out[def.name] = value === null ? null : isoNs(value as bigint);
    else if (def.source.kind === "duration") out[def.name] = value === null ? null : Number(value as bigint) / 1e9;
    else out[def.name] = value;
  }
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "synfin-cli-"));
  capture = join(dir, "three.pcap");
  const packets = threeConnections();
  packetCount = packets.length;
  writeFileSync(capture, pcapOf(packets));
  expectedRows = (await analyzeRows(capture)).rows;
  expect(expectedRows.map((r) => r.conn_state)).toEqual(["SF", "S0", "REJ"]);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("output formats", () => {
  it("--format ndjson: one JSON object per connection, equal to the library's rows", () => {
    const { status, stdout, stderr } = run(capture, "--format", "ndjson");
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    const parsed = lines(stdout).map((line) => JSON.parse(line) as Record<string, Cell>);
    expect(parsed).toEqual(expectedRows.map(asText));
  });

  it("-o FILE without --format writes NDJSON to the file", () => {
    const out = join(dir, "rows.ndjson");
    const { status, stdout } = run(capture, "-o", out);
    expect(status).toBe(0);
    expect(stdout).toBe("");
    expect(lines(readFileSync(out, "utf8")).map((line) => JSON.parse(line))).toEqual(expectedRows.map(asText));
  });

  it("-o FILE without --format writes the format its extension names; an unknown one is NDJSON", () => {
    const arrow = join(dir, "by-extension.ARROW");
    expect(run(capture, "-o", arrow).status).toBe(0);
    expect(tableFromIPC(readFileSync(arrow)).getChild("conn_state")!.toArray()).toEqual(["SF", "S0", "REJ"]);
    const csv = join(dir, "by-extension.csv");
    expect(run(capture, "-o", csv).status).toBe(0);
    expect(lines(readFileSync(csv, "utf8"))[0]!.split(",")).toEqual(COLUMNS.map((c) => c.name));
    const log = join(dir, "conn.log");
    expect(run(capture, "-o", log).status).toBe(0);
    expect(readFileSync(log, "utf8")).toMatch(/^#separator \\x09\n/);
    const parquetFile = join(dir, "by-extension.parquet");
    expect(run(capture, "-o", parquetFile).status).toBe(0);
    expect(readFileSync(parquetFile).subarray(0, 4).toString()).toBe("PAR1");
    const other = join(dir, "rows.out");
    expect(run(capture, "-o", other).status).toBe(0);
    expect(lines(readFileSync(other, "utf8")).map((line) => JSON.parse(line))).toEqual(expectedRows.map(asText));
    // --format wins over the extension.
    expect(run(capture, "--format", "csv", "-o", join(dir, "forced.arrow")).status).toBe(0);
    expect(readFileSync(join(dir, "forced.arrow"), "utf8").startsWith("conn_id,")).toBe(true);
  });

  it("--format csv: the schema's column names, then one line per connection", () => {
    const { status, stdout } = run(capture, "--format", "csv");
    expect(status).toBe(0);
    const [header, ...rows] = lines(stdout);
    expect(header!.split(",")).toEqual(COLUMNS.map((c) => c.name));
    expect(rows).toHaveLength(expectedRows.length);
    const historyColumn = COLUMNS.findIndex((c) => c.name === "history");
    expect(rows.map((r) => r.split(",")[historyColumn])).toEqual(expectedRows.map((r) => r.history));
  });

  it("--format arrow -o FILE: an Arrow IPC file with the same rows", () => {
    const out = join(dir, "rows.arrow");
    const { status } = run(capture, "--format", "arrow", "-o", out);
    expect(status).toBe(0);
    const table = tableFromIPC(readFileSync(out));
    expect(table.numRows).toBe(expectedRows.length);
    expect(table.schema.fields.map((f) => f.name)).toEqual(COLUMNS.map((c) => c.name));
    expect(table.getChild("conn_state")!.toArray()).toEqual(["SF", "S0", "REJ"]);
  });

  it("the default format prints a summary of the connections", () => {
    const { status, stdout } = run(capture);
    expect(status).toBe(0);
    expect(stdout).toContain(`${expectedRows.length} TCP connections from ${packetCount} packets`);
    // The conn_state table: a header, a rule, then "<state>  <count>" lines up to a blank line.
    const all = stdout.split("\n");
    const header = all.findIndex((line) => /^conn_state\s+connections$/.test(line));
    expect(header).toBeGreaterThanOrEqual(0);
    const table: Record<string, number> = {};
    for (const line of all.slice(header + 2)) {
      const m = line.match(/^(\S+)\s+(\d+)$/);
      if (!m) break;
      table[m[1]!] = Number(m[2]);
    }
    expect(table).toEqual({ SF: 1, S0: 1, REJ: 1 });
  });

  it("--stats prints the accounting of every record to standard error", () => {
    const { status, stderr } = run(capture, "--format", "ndjson", "--stats");
    expect(status).toBe(0);
    for (const bucket of RECORD_BUCKETS) expect(stderr).toContain(bucket);
    const count = (name: string) => Number(lines(stderr).find((line) => line.includes(name))!.match(/(\d+)\D*$/)![1]);
    expect(count("records")).toBe(packetCount);
    expect(count("tcpPackets")).toBe(packetCount);
    expect(count("connections")).toBe(expectedRows.length);
  });
});

describe("--filter", () => {
  it("keeps the records the expression names: the library's rows and accounting with the same filter", async () => {
    // The clients' packets only: the first connection's client side and the unanswered SYN.
    const filter = "tcp port 80 and tcp src portrange 40001-40002";
    const { status, stdout, stderr } = run(capture, "--format", "ndjson", "--filter", filter, "--stats");
    expect(status).toBe(0);
    const library = await analyzeRows(capture, { filter });
    expect(library.rows).toHaveLength(2);
    expect(lines(stdout).map((l) => JSON.parse(l) as Record<string, Cell>)).toEqual(library.rows.map(asText));
    const count = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)$`, "m").exec(stderr)?.[1]);
    expect(count("= records")).toBe(packetCount);
    expect(count("filtered")).toBe(library.stats.filtered);
    expect(library.stats.filtered).toBeGreaterThan(0);
  });

  it("a bad expression: exit 2, one line naming the position, before any input is read", () => {
    const { status, stdout, stderr } = run("/nonexistent.pcap", "--filter", "tcp port 80 and");
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(lines(stderr)).toHaveLength(1);
    expect(stderr).toMatch(/^synfin: bad filter at character 16: .*'tcp port 80 and'/);
  });
});

describe("outputs are never destroyed", () => {
  /** A fresh directory holding one file `name` with `text`. */
  function dirWith(name: string, text: string): string {
    const d = mkdtempSync(join(dir, "out-"));
    writeFileSync(join(d, name), text);
    return d;
  }

  it("a failed run leaves an existing output as it was, and no partial file", () => {
    const d = dirWith("results.ndjson", "older results\n");
    const missing = run(join(d, "no-such.pcap"), "-o", join(d, "results.ndjson"));
    expect(missing.status).toBe(2);
    writeFileSync(join(d, "notes.txt"), "not a capture\n");
    const parquet = run(join(d, "notes.txt"), "--format", "parquet", "-o", join(d, "out.parquet"));
    expect(parquet.status).toBe(2);
    expect(lines(parquet.stderr)).toHaveLength(1);
    expect(readFileSync(join(d, "results.ndjson"), "utf8")).toBe("older results\n");
    expect(readdirSync(d).sort()).toEqual(["notes.txt", "results.ndjson"]);
  });

  it("refuses to write over an input (-o, --events or --packets): exit 2, one line, the capture untouched", () => {
    const before = readFileSync(capture);
    for (const flag of ["-o", "--events", "--packets"]) {
      const { status, stderr } = run(capture, flag, capture, ...(flag === "-o" ? [] : ["-o", join(dir, "rows.ndjson")]));
      expect(status).toBe(2);
      expect(lines(stderr)).toEqual([`synfin: ${flag} ${capture} is the input ${capture}: writing it would destroy the capture; choose another path`]);
      expect(Buffer.compare(readFileSync(capture), before)).toBe(0);
    }
  });

  it("an output in a missing directory: exit 2, one line", () => {
    const { status, stderr } = run(capture, "-o", join(dir, "no-such-dir", "out.ndjson"));
    expect(status).toBe(2);
    expect(lines(stderr)).toEqual([`synfin: cannot write ${join(dir, "no-such-dir", "out.ndjson")}: no such directory`]);
  });

  it("an output that is a directory: exit 2, one line, before the run", () => {
    const { status, stderr } = run(capture, "-o", dir);
    expect(status).toBe(2);
    expect(lines(stderr)).toEqual([`synfin: cannot write ${dir}: it is a directory`]);
  });

  it.skipIf(process.platform === "win32")("writes into a named pipe in place: the pipe stays a pipe, its reader gets the table", async () => {
    const d = mkdtempSync(join(dir, "fifo-"));
    const fifo = join(d, "rows.ndjson");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const reader = spawn("cat", [fifo]);
    let got = "";
    reader.stdout.setEncoding("utf8").on("data", (chunk: string) => { got += chunk; });
    const read = new Promise<void>((resolve) => reader.on("close", () => resolve()));
    // Asynchronous: the pipe's reader runs beside it.
    const child = spawn(process.execPath, [CLI, capture, "-o", fifo, "--no-progress"]);
    try {
      expect(await new Promise<number | null>((resolve) => child.on("exit", resolve))).toBe(0);
      // Checked before waiting for the reader, which a pipe replaced by a file would leave waiting.
      expect(statSync(fifo).isFIFO()).toBe(true);
      await read;
    } finally {
      reader.kill();
    }
    expect(lines(got).map((l) => JSON.parse(l))).toEqual(expectedRows.map(asText));
    expect(readdirSync(d)).toEqual(["rows.ndjson"]);
  });

  it.skipIf(!existsSync("/dev/full"))("an output that fails mid-run (standard output on a full disk) takes the other outputs' partial files with it", () => {
    const d = mkdtempSync(join(dir, "full-"));
    for (const format of ["arrow-stream", "ndjson"]) {
      // --events goes through an output thread (NDJSON), --packets through the command's thread (Arrow).
      const full = openSync("/dev/full", "w");
      const result = spawnSync(process.execPath, [CLI, capture, "--format", format, "--events", join(d, "events.ndjson"), "--packets", join(d, "packets.arrow")],
        { encoding: "utf8", stdio: ["ignore", full, "pipe"] });
      closeSync(full);
      expect(result.status, format).toBe(2);
      expect(lines(result.stderr)).toEqual([expect.stringMatching(/^synfin: cannot write standard output: ENOSPC/)]);
      expect(readdirSync(d), format).toEqual([]);
    }
  });

  it.each([["SIGTERM", 143], ["SIGINT", 130]] as const)("an interrupted run (%s) removes its partial output and leaves an older file as it was", async (signal, code) => {
    const d = mkdtempSync(join(dir, "out-"));
    const big = join(d, "big.pcap");
    expect(run("synth", "-o", big, "--bytes", "64M", "--snaplen", "96").status).toBe(0);
    writeFileSync(join(d, "rows.ndjson"), "an older result\n");
    const child = spawn(process.execPath, [CLI, big, "--format", "ndjson", "-o", join(d, "rows.ndjson"), "--no-progress"]);
    let running = true;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => { running = false; resolve(code); }));
    // The partial output exists from before the first read to the end of the run.
    const partial = () => readdirSync(d).some((f) => f.endsWith(".synfin-tmp"));
    while (running && !partial()) await new Promise((r) => setTimeout(r, 2));
    expect(running, "the run ended before its partial output was seen").toBe(true);
    child.kill(signal);
    expect(await exited).toBe(code);
    expect(readdirSync(d).sort()).toEqual(["big.pcap", "rows.ndjson"]);
    expect(readFileSync(join(d, "rows.ndjson"), "utf8")).toBe("an older result\n");
  });
});

describe("--packets FILE", () => {
  /** The library's packets table of the capture, as the CLI's NDJSON renders it. */
  async function libraryPackets(): Promise<Record<string, unknown>[]> {
    const { packets } = await analyze(capture, { packets: true });
    return [...packets!.batches].flatMap((b) => [...ndjsonLines(b)].map((l) => JSON.parse(l) as Record<string, unknown>));
  }

  it("writes the library's packets table in every format: its own extension's, else the output's", async () => {
    const want = await libraryPackets();
    expect(want).toHaveLength(packetCount);
    const d = mkdtempSync(join(dir, "packets-"));
    // NDJSON by extension beside a summary table on standard output; CSV by extension beside NDJSON rows.
    expect(run(capture, "--packets", join(d, "p.ndjson")).status).toBe(0);
    expect(lines(readFileSync(join(d, "p.ndjson"), "utf8")).map((l) => JSON.parse(l))).toEqual(want);
    expect(run(capture, "-o", join(d, "c.ndjson"), "--packets", join(d, "p.csv")).status).toBe(0);
    const csv = lines(readFileSync(join(d, "p.csv"), "utf8"));
    expect(csv[0]).toBe(PACKET_COLUMNS.map((c) => c.name).join(","));
    expect(csv).toHaveLength(packetCount + 1);
    // An extension that names no format: the output's format.
    expect(run(capture, "-o", join(d, "c.arrow"), "--packets", join(d, "p.out")).status).toBe(0);
    expect(readFileSync(join(d, "p.out")).subarray(0, 6).toString()).toBe("ARROW1");
    // The extension wins over --format.
    expect(run(capture, "--format", "ndjson", "-o", join(d, "c.txt"), "--packets", join(d, "p.parquet")).status).toBe(0);
    expect(readFileSync(join(d, "p.parquet")).subarray(0, 4).toString()).toBe("PAR1");
    for (const format of ["arrow", "arrow-stream", "parquet"]) {
      const out = join(d, `p-${format}`);
      expect(run(capture, "--format", format, "-o", join(d, `c-${format}`), "--packets", out).status).toBe(0);
      const bytes = new Uint8Array(readFileSync(out));
      const table = format === "parquet" ? tableFromIPC(readParquet(bytes).intoIPCStream()) : tableFromIPC(bytes);
      const got = table.batches.flatMap((b) => [...ndjsonLines(b)].map((l) => JSON.parse(l) as Record<string, unknown>));
      expect(got, format).toEqual(want);
    }
    expect(run(capture, "--format", "zeek", "-o", join(d, "conn.log"), "--packets", join(d, "packets.log")).status).toBe(0);
    const log = lines(readFileSync(join(d, "packets.log"), "utf8"));
    expect(log.find((l) => l.startsWith("#path"))).toBe("#path\tsynfin_packets");
    expect(log.find((l) => l.startsWith("#fields"))).toBe(["#fields", ...PACKET_COLUMNS.map((c) => c.name)].join("\t"));
    expect(log.filter((l) => !l.startsWith("#"))).toHaveLength(packetCount);
  });

  it("with --filter: the packets of the connection the filter keeps", async () => {
    const d = mkdtempSync(join(dir, "packets-"));
    const { status } = run(capture, "--filter", "port 40003", "-o", join(d, "c.ndjson"), "--packets", join(d, "p.ndjson"));
    expect(status).toBe(0);
    const packets = lines(readFileSync(join(d, "p.ndjson"), "utf8")).map((l) => JSON.parse(l) as Record<string, unknown>);
    const rejected = (await libraryPackets()).filter((p) => p.conn_id === 2);
    expect(packets.map((p) => [p.packet, p.direction, p.flags])).toEqual(rejected.map((p) => [p.packet, p.direction, p.flags]));
    expect(packets.every((p) => p.conn_id === 0)).toBe(true);
  });
});

describe("--packet-stats", () => {
  it("adds the statistics columns after the row's own in CSV, and leaves conn.log's fields as they are", async () => {
    const d = mkdtempSync(join(dir, "stats-"));
    expect(run(capture, "--packet-stats", "-o", join(d, "c.csv")).status).toBe(0);
    const csv = lines(readFileSync(join(d, "c.csv"), "utf8"));
    expect(csv[0]).toBe([...COLUMNS, ...PACKET_STATS_COLUMNS].map((c) => c.name).join(","));
    expect(csv).toHaveLength(4);
    const table = (await analyze(capture, { packetStats: true })).table as unknown as Table<ConnectionColumns & PacketStatsColumns>;
    const ndjson = run(capture, "--packet-stats", "--format", "ndjson");
    const rows = lines(ndjson.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => r.first_packets)).toEqual([...table.getChild("first_packets")!].map(String));
    expect(run(capture, "--packet-stats", "-o", join(d, "conn.log")).status).toBe(0);
    expect(run(capture, "-o", join(d, "plain.log")).status).toBe(0);
    const fields = (file: string) => lines(readFileSync(join(d, file), "utf8")).find((l) => l.startsWith("#fields"));
    expect(fields("conn.log")).toBe(fields("plain.log"));
  });
});

describe("what was changed is said", () => {
  it("the largest --max-flows works: the core's memory then lies above 2 GiB, whose addresses wasm returns as negative numbers", () => {
    const { status, stdout, stderr } = run(capture, "--format", "ndjson", "--max-flows", "2500000");
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    expect(lines(stdout).map((line) => JSON.parse(line) as Record<string, Cell>)).toEqual(expectedRows.map(asText));
  });

  it("evicted connections: one warning line naming --max-flows", () => {
    const { status, stderr, stdout } = run(capture, "--format", "ndjson", "--max-flows", "1");
    expect(status).toBe(0);
    const evicted = lines(stdout).map((l) => JSON.parse(l) as { end_reason: string }).filter((r) => r.end_reason === "evicted").length;
    expect(evicted).toBeGreaterThan(0);
    expect(lines(stderr)).toEqual([`synfin: warning: ${evicted} connection${evicted === 1 ? "" : "s"} ended early (end_reason "evicted") to stay within --max-flows 1 live connections; a larger --max-flows keeps them whole`]);
  });

  it("--workers above the cores available is capped, and said", () => {
    const cores = availableParallelism();
    const { status, stderr } = run(capture, "--format", "ndjson", "--workers", String(cores + 1));
    expect(status).toBe(0);
    expect(lines(stderr)).toEqual([`synfin: warning: --workers ${cores + 1} is more than the ${cores} core${cores === 1 ? "" : "s"} available: using ${cores}`]);
  });

  it("counts in the summary are in the singular for one", () => {
    const one = join(dir, "one.pcap");
    const packets = new Conversation({ client: "10.0.0.1", server: "10.0.0.2", serverPort: 80, clientPort: 40009, startNs: T0 }).syn().packets();
    writeFileSync(one, pcapOf(packets));
    expect(run(one).stdout).toContain(`: 1 TCP connection from 1 packet (`);
  });
});

describe("standard input and live captures", () => {
  it("- reads standard input, and so does no file with a pipe there: the file's rows", () => {
    const want = run(capture, "--format", "ndjson").stdout;
    for (const args of [["-", "--format", "ndjson"], ["--format", "ndjson"]]) {
      const p = spawnSync(process.execPath, [CLI, ...args], { input: readFileSync(capture), encoding: "utf8" });
      expect(p.status, args.join(" ")).toBe(0);
      expect(p.stdout).toBe(want);
    }
    // Into a CSV or NDJSON file, whose lines lanes of output threads write when the input's size
    // is not known (TextLanes): the bytes of the file input's, written by one thread.
    for (const format of ["csv", "ndjson"]) {
      const fromFile = join(dir, `from-file.${format}`), fromPipe = join(dir, `from-pipe.${format}`);
      expect(run(capture, "-o", fromFile).status).toBe(0);
      const p = spawnSync(process.execPath, [CLI, "-", "-o", fromPipe], { input: readFileSync(capture), encoding: "utf8" });
      expect(p.status, p.stderr).toBe(0);
      expect(readFileSync(fromPipe, "utf8"), format).toBe(readFileSync(fromFile, "utf8"));
    }
    const empty = spawnSync(process.execPath, [CLI, "-"], { input: "", encoding: "utf8" });
    expect(empty.status).toBe(2);
    expect(empty.stderr).toBe("synfin: standard input: the file ends inside its header (empty or cut short) at byte offset 0\n");
  });

  it("--flush: a connection's row comes out while the pipe is still open, before the input ends", async () => {
    const base = { client: "10.0.0.1", server: "10.0.0.2", serverPort: 80 };
    const first = new Conversation({ ...base, clientPort: 41001, startNs: T0 }).handshake().data("client", 100).ack("server").close("client").packets();
    // 20 s later another connection starts: its SYN's time fires the first one's timers (Zeek's close delay).
    const later = new Conversation({ ...base, clientPort: 41002, startNs: T0 + 20n * NS_PER_SECOND }).handshake().close("client").packets();
    const whole = pcapOf([...first, ...later]);
    const cut = pcapOf([...first, later[0]!]).length;
    const child = spawn(process.execPath, [CLI, "-", "--format", "ndjson", "--flush", "0.1"]);
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.stdin.write(whole.subarray(0, cut));
    // The pipe stays open: the first connection's row must arrive all the same.
    while (!out.includes("\n")) await new Promise((r) => setTimeout(r, 10));
    expect(lines(out).map((l) => (JSON.parse(l) as { orig_p: number }).orig_p)).toEqual([41001]);
    child.stdin.end(whole.subarray(cut));
    expect(await exited).toBe(0);
    expect(lines(out).map((l) => (JSON.parse(l) as { orig_p: number }).orig_p)).toEqual([41001, 41002]);
  });
});

describe("checksum offload", () => {
  it("with --verify-checksums, a warning when most packets fail their checksum; none without it or when few fail", () => {
    // A capture taken on the sending host: every TCP checksum wrong (Ethernet, IPv4 without options).
    const packets = threeConnections();
    const offloaded = join(dir, "offloaded.pcap");
    const damaged = packets.map((p) => {
      const data = p.data.slice();
      data[14 + 20 + 16]! ^= 0xff;
      return { ...p, data };
    });
    writeFileSync(offloaded, pcapOf(damaged));
    const warned = run(offloaded, "--format", "ndjson", "--verify-checksums");
    expect(warned.status).toBe(0);
    expect(lines(warned.stderr)).toEqual([`synfin: warning: ${packetCount} of ${packetCount} packets (100%) were dropped for a bad checksum: a capture taken on the sending host, whose network card computes checksums (offload), has every outgoing one wrong; without --verify-checksums they are kept (Zeek: -C)`]);
    expect(run(offloaded, "--format", "ndjson").stderr).toBe("");
    // One bad packet of many is not offload.
    const fewBad = join(dir, "few-bad.pcap");
    writeFileSync(fewBad, pcapOf([damaged[0]!, ...packets.slice(1)]));
    expect(run(fewBad, "--format", "ndjson", "--verify-checksums").stderr).toBe("");
  });
});

describe("more connections than one output batch (8192 rows)", () => {
  it("arrow, csv and ndjson all carry every row, histories included", async () => {
    // 9000 connections: the first 8500 unanswered SYNs ("S"), the last 500 handshakes ("ShA"), so
    // the second batch brings a history the first did not have.
    const packets = [];
    for (let i = 0; i < 9000; i++) {
      const conv = new Conversation({ client: `10.1.${i >> 8}.${i & 0xff}`, server: "10.0.0.2", clientPort: 40000, serverPort: 80, startNs: T0 + BigInt(i) * 10_000n, stepNs: 1_000n });
      packets.push(...(i < 8500 ? conv.syn() : conv.handshake()).packets());
    }
    packets.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
    const many = join(dir, "many.pcap");
    writeFileSync(many, pcapOf(packets));
    const histories = (list: unknown[]) => ({ S: list.filter((h) => h === "S").length, ShA: list.filter((h) => h === "ShA").length });

    const arrowFile = join(dir, "many.arrow");
    expect(run(many, "--format", "arrow", "-o", arrowFile).status).toBe(0);
    const table = tableFromIPC(readFileSync(arrowFile));
    expect(table.numRows).toBe(9000);
    expect(histories([...table.getChild("history")!])).toEqual({ S: 8500, ShA: 500 });

    const csv = run(many, "--format", "csv");
    const historyColumn = COLUMNS.findIndex((c) => c.name === "history");
    expect(histories(lines(csv.stdout).slice(1).map((line) => line.split(",")[historyColumn]))).toEqual({ S: 8500, ShA: 500 });

    const ndjson = run(many, "--format", "ndjson");
    expect(histories(lines(ndjson.stdout).map((line) => (JSON.parse(line) as Row).history))).toEqual({ S: 8500, ShA: 500 });
  });
});

describe("errors and usage", () => {
  it("a file that is not a capture: exit 2, one line naming the file and the byte offset", () => {
    const notCapture = join(dir, "photo.jpg");
    writeFileSync(notCapture, Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01));
    const { status, stdout, stderr } = run(notCapture, "--format", "ndjson");
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(lines(stderr)).toHaveLength(1);
    expect(stderr).toContain(notCapture);
    expect(stderr).toContain("byte offset 0");
  });

  it("a file with no readable record names the offset of its first damage", () => {
    const damaged = join(dir, "damaged.pcap");
    const PCAP_HEADER = 24;
    writeFileSync(damaged, Buffer.concat([readFileSync(capture).subarray(0, PCAP_HEADER), Buffer.alloc(40, 0xee)]));
    const { status, stderr } = run(damaged);
    expect(status).toBe(2);
    expect(lines(stderr)).toHaveLength(1);
    expect(stderr).toContain(damaged);
    expect(stderr).toContain(`byte offset ${PCAP_HEADER}`);
  });

  it("damage after a readable record is skipped and shows in --stats, exit 0", () => {
    const damaged = join(dir, "damaged-later.pcap");
    const bytes = readFileSync(capture);
    const PCAP_HEADER = 24, RECORD_HEADER = 16, CAPLEN_FIELD = 8;
    const second = PCAP_HEADER + RECORD_HEADER + bytes.readUInt32LE(PCAP_HEADER + CAPLEN_FIELD);
    bytes.writeUInt32LE(0x7fff_ffff, second + CAPLEN_FIELD);
    writeFileSync(damaged, bytes);
    const { status, stderr } = run(damaged, "--stats", "--format", "csv");
    expect(status).toBe(0);
    expect(stderr).toMatch(/damagedLength\s+1\n/);
    // Without --stats, one line says what was skipped.
    const quiet = run(damaged, "--format", "csv");
    expect(quiet.status).toBe(0);
    expect(lines(quiet.stderr)).toEqual([expect.stringMatching(/^synfin: warning: 1 damaged region \(\d+ bytes\) skipped/)]);
  });

  it("a --memory-limit too small for --max-flows: exit 2 with what to change, in the CLI's flags", () => {
    const { status, stderr } = run(capture, "--memory-limit", "16M", "--max-flows", "100000");
    expect(status).toBe(2);
    expect(lines(stderr)).toHaveLength(1);
    expect(stderr).toMatch(/^synfin: --max-flows 100000 needs .* lower --max-flows or raise --memory-limit\n$/);
  });

  it("bad flags and values: exit 2, one line with the range, pointing to --help", () => {
    const cases: Array<[string[], string]> = [
      [["--max-flows", "0"], "--max-flows takes a whole number from 1 to 2500000, got '0'"],
      [["--max-flows", "99999999999"], "--max-flows takes a whole number from 1 to 2500000, got '99999999999'"],
      [["--memory-limit", "1K"], "--memory-limit takes a size from 4M to 4G, got '1K'"],
      [["--memory-limit", "99G"], "--memory-limit takes a size from 4M to 4G, got '99G'"],
      [["--memory-limit", "lots"], "--memory-limit takes a size such as 2G, 500M or 1048576, got 'lots'"],
      [["--workers", "-1"], "--workers takes a whole number from 0 to 256, got '-1'"],
      [["--workers"], "--workers needs a value"],
      [["--bogus"], "unknown option '--bogus'"],
      [["--format", "bogus"], "unknown format 'bogus' (one of table, ndjson, csv, arrow, arrow-stream, parquet, zeek)"],
    ];
    for (const [args, message] of cases) {
      const { status, stderr } = run(capture, ...args);
      expect(status, args.join(" ")).toBe(2);
      expect(stderr).toBe(`synfin: ${message} (see synfin --help)\n`);
    }
  });

  it("an unreadable input (a directory; one without read permission, as another user): exit 2, one line", () => {
    const asDir = run(dir, "--format", "ndjson");
    expect(asDir.status).toBe(2);
    expect(asDir.stderr).toBe(`synfin: ${dir}: cannot read: not a regular file at byte offset 0\n`);
    // In a directory anyone may enter (mkdtemp makes it 0700), so that only the file's mode stops the reader.
    const open = mkdtempSync(join(dir, "open-"));
    chmodSync(open, 0o755);
    chmodSync(dir, 0o755);
    const locked = join(open, "locked.pcap");
    writeFileSync(locked, readFileSync(capture));
    chmodSync(locked, 0o000);
    // Root reads anything: the run is made as "nobody" then (uid 65534), as a user would meet it.
    const asRoot = process.getuid?.() === 0;
    const p = spawnSync(process.execPath, [CLI, locked, "--format", "ndjson"], { encoding: "utf8", ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
    chmodSync(locked, 0o644);
    expect(p.status).toBe(2);
    expect(p.stderr).toBe(`synfin: ${locked}: cannot read: permission denied at byte offset 0\n`);
  });

  it("a missing file: exit 2, one line", () => {
    const missing = join(dir, "no-such-file.pcap");
    const { status, stderr } = run(missing);
    expect(status).toBe(2);
    expect(lines(stderr)).toHaveLength(1);
    expect(stderr).toContain(missing);
  });

  it("no capture given: exit 2", () => {
    expect(run().status).toBe(2);
  });

  it("--help and --version exit 0", () => {
    expect(run("--help")).toMatchObject({ status: 0, stdout: expect.stringContaining("usage: synfin") });
    expect(run("--version")).toMatchObject({ status: 0, stdout: expect.stringMatching(/^synfin \d+\.\d+\.\d+/) });
  });
});

describe("the executable's code cache (dist/cli.bundle.cache, src/cli/start.ts)", () => {
  const dist = fileURLToPath(new URL("../dist/", import.meta.url));

  /** The executable's word on its cache (SYNFIN_REPORT_CODE_CACHE), and the run's exit code and rest of its standard error. */
  const cacheReport = (cli: string, ...args: string[]) => {
    const result = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, SYNFIN_REPORT_CODE_CACHE: "1" } });
    const [said, ...rest] = result.stderr.split("\n");
    return { said, status: result.status, stderr: rest.join("\n") };
  };

  it("is the build's, and the executable takes it", () => {
    expect(cacheReport(CLI, "--version")).toEqual({ said: "synfin: code cache taken", status: 0, stderr: "" });
    expect(cacheReport(CLI, capture, "-o", join(dir, "cache-report.arrow"))).toEqual({ said: "synfin: code cache taken", status: 0, stderr: "" });
  });

  it("imports what is loaded when asked for (Parquet's writer, here in the command's thread), and runs the same without the cache", () => {
    const out = (name: string) => join(dir, `cache-${name}`);
    /** A run with the Parquet table on standard output (written by the command's thread, not an output thread). */
    const runFrom = (cli: string, ...args: string[]) => {
      const result = spawnSync(process.execPath, [cli, ...args], { maxBuffer: 256 << 20 });
      return { status: result.status, stderr: result.stderr.toString(), stdout: result.stdout };
    };
    const parquetRows = (bytes: Buffer) => tableFromIPC(readParquet(bytes).intoIPCStream()).numRows;
    const withCache = runFrom(CLI, capture, "--format", "parquet");
    expect({ status: withCache.status, stderr: withCache.stderr }).toEqual({ status: 0, stderr: "" });
    expect(parquetRows(withCache.stdout)).toBe(expectedRows.length);
    expect(runFrom(CLI, capture, "-o", out("with.arrow"))).toMatchObject({ status: 0, stderr: "" });
    // A package beside this one whose dist/ is a copy: the script finds the core, the package's
    // manifest and parquet-wasm from its own place.
    const root = fileURLToPath(new URL("../", import.meta.url));
    const pkg = join(dir, "package-copy");
    mkdirSync(pkg);
    cpSync(dist, join(pkg, "dist"), { recursive: true });
    cpSync(join(root, "package.json"), join(pkg, "package.json"));
    symlinkSync(join(root, "build"), join(pkg, "build"));
    symlinkSync(join(root, "node_modules"), join(pkg, "node_modules"));
    const cli = join(pkg, "dist", "cli.js"), cacheFile = join(pkg, "dist", "cli.bundle.cache");
    const cache = readFileSync(cacheFile);
    // V8's data damaged (a byte in every thousand): V8 would crash reading it, so it is not read.
    const damaged = Buffer.from(cache);
    for (let i = 40; i < damaged.length; i += 997) damaged[i] ^= 0x5a;
    writeFileSync(cacheFile, damaged);
    expect(cacheReport(cli, "--version")).toMatchObject({ said: "synfin: code cache damaged", status: 0 });
    expect(runFrom(cli, capture, "-o", out("damaged.arrow"))).toMatchObject({ status: 0, stderr: "" });
    // A cache made for another script: its first bytes (the script's SHA-1) no longer match.
    cache[0] ^= 0xff;
    writeFileSync(cacheFile, cache);
    expect(cacheReport(cli, "--version")).toMatchObject({ said: "synfin: code cache made for another script", status: 0 });
    expect(runFrom(cli, capture, "-o", out("stale.arrow"))).toMatchObject({ status: 0, stderr: "" });
    const stale = runFrom(cli, capture, "--format", "parquet");
    expect({ status: stale.status, stderr: stale.stderr }).toEqual({ status: 0, stderr: "" });
    expect(stale.stdout.equals(withCache.stdout)).toBe(true);
    rmSync(cacheFile);
    expect(cacheReport(cli, "--version")).toMatchObject({ said: "synfin: code cache absent", status: 0 });
    expect(runFrom(cli, capture, "-o", out("none.arrow"))).toMatchObject({ status: 0, stderr: "" });
    for (const name of ["damaged.arrow", "stale.arrow", "none.arrow"]) expect(readFileSync(out(name)).equals(readFileSync(out("with.arrow")))).toBe(true);
  });
});

describe("the docs", () => {
  /** Every flag a --help text names. */
  const flagsOf = (help: string) => [...new Set([...help.matchAll(/(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b/g)].map((m) => m[1]!))];
  const page = readFileSync(fileURLToPath(new URL("../docs/cli.md", import.meta.url)), "utf8");
  const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");

  it.each([["synfin", []], ["synfin synth", ["synth"]]] as const)("name every flag of %s --help (docs/cli.md) and its synopsis (README)", (_, command) => {
    const help = run(...command, "--help");
    expect(help.status).toBe(0);
    const flags = flagsOf(help.stdout);
    expect(flags.length).toBeGreaterThan(8);
    for (const flag of flags) expect(page, flag).toMatch(new RegExp(`\`[^\`]*${flag}\\b`));
    const synopsis = help.stdout.slice(0, help.stdout.indexOf("\n\n"));
    for (const flag of flagsOf(synopsis)) expect(readme, flag).toContain(flag);
  });

  it("name every output format", () => {
    const help = run("--help").stdout;
    const formats = /--format F\s+(.*?);/s.exec(help)![1]!.match(/\b(table|ndjson|csv|arrow-stream|arrow|parquet|zeek)\b/g)!;
    expect(new Set(formats).size).toBe(7);
    for (const format of formats) {
      expect(page).toContain(`\`${format}\``);
      expect(readme).toContain(`\`${format}\``);
    }
  });
});

describe("npm start", () => {
  it("writes its demo capture under the OS's temporary directory, not in the checkout, and prints the summary", () => {
    const result = spawnSync(process.execPath, [fileURLToPath(new URL("../dist/cli/demo.js", import.meta.url))], { encoding: "utf8" });
    expect(result.status).toBe(0);
    const written = /^Wrote (.+) \(300 synthetic connections\)/.exec(result.stdout)?.[1];
    expect(written?.startsWith(tmpdir())).toBe(true);
    expect(readFileSync(written!).length).toBeGreaterThan(1 << 20);
    expect(result.stdout).toMatch(/\b300 TCP connections\b/);
  });
});
