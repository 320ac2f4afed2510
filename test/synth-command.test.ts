// `synfin synth` (dist/cli.js) as a child process: small captures in both containers, analysed by
// the library and checked against the generator's truth file; the same seed gives the same bytes.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnTruth } from "../src/synth/synth-truth.js";
import { type Row, analyzeRows } from "./support/fixtures.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const SIZE = "4M";
const SIZE_BYTES = 4 << 20;

let dir: string;

function synth(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, "synth", ...args], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function readTruth(path: string): ConnTruth[] {
  return readFileSync(path, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line) as ConnTruth);
}

type Endpoints = Pick<ConnTruth, "orig_h" | "orig_p" | "resp_h" | "resp_p">;

function key(c: Endpoints | Row): string {
  return `${c.orig_h} ${c.orig_p} ${c.resp_h} ${c.resp_p}`;
}

/** Zeek's conn_state for what the generator wrote (conn/main.zeek's table). */
function expectedConnState(t: ConnTruth): string {
  if (!t.answered) return "S0"; // SYNs only: the generator sends nothing else before a SYN-ACK
  if (t.close === "rst") return t.closer === "orig" ? "RSTO" : "RSTR";
  if (t.orig_fin && t.resp_fin) return "SF";
  if (t.orig_fin) return "S2";
  if (t.resp_fin) return "S3";
  return "S1";
}

/** The columns the truth knows, as synfin names and counts them. */
function expectedRow(t: ConnTruth): Row {
  return {
    ip_version: t.ip_version,
    vlan: t.vlan,
    orig_h: t.orig_h,
    orig_p: t.orig_p,
    resp_h: t.resp_h,
    resp_p: t.resp_p,
    conn_state: expectedConnState(t),
    closer: t.closer,
    orig_pkts: t.orig_pkts,
    resp_pkts: t.resp_pkts,
    orig_ip_bytes: t.orig_ip_bytes,
    resp_ip_bytes: t.resp_ip_bytes,
    orig_bytes: t.orig_bytes,
    resp_bytes: t.resp_bytes,
    orig_retransmits: t.orig_retransmits,
    resp_retransmits: t.resp_retransmits,
    orig_out_of_order: t.orig_out_of_order,
    resp_out_of_order: t.resp_out_of_order,
    orig_keepalives: t.orig_keepalives,
    resp_keepalives: t.resp_keepalives,
  };
}

function pick(row: Row, names: string[]): Row {
  return Object.fromEntries(names.map((name) => [name, row[name] ?? null]));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "synfin-synth-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("synfin synth", () => {
  const cases = [
    { name: "pcap, whole frames", file: "full.pcap", args: [] as string[] },
    { name: "pcapng, header-only with nanosecond timestamps", file: "headers.pcapng", args: ["--snaplen", "96", "--nanos"] },
    { name: "pcap, many short connections (--max-response 3K)", file: "short.pcap", args: ["--max-response", "3K"] },
  ];
  for (const c of cases) {
    it(`${c.name}: the library finds exactly the connections of the truth file`, async () => {
      const capture = join(dir, c.file);
      const truthPath = join(dir, `${c.file}.truth.ndjson`);
      const run = synth("-o", capture, "--bytes", SIZE, "--seed", "7", "--truth", truthPath, ...c.args);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/^synfin synth: wrote .* packets, \d+ bytes, \d+ connections in/);
      const size = statSync(capture).size;
      expect(size).toBeLessThanOrEqual(SIZE_BYTES);
      expect(size).toBeGreaterThan(SIZE_BYTES - 2000);

      const truth = readTruth(truthPath);
      const { rows, stats } = await analyzeRows(capture);
      expect(stats.truncatedRecords + stats.badRecords + stats.damagedBytes).toBe(0);
      const headersCut = truth.reduce((sum, t) => sum + t.headers_cut, 0);
      expect(stats.truncatedHeaders).toBe(headersCut);
      expect(stats.tcpPackets).toBe(truth.reduce((sum, t) => sum + t.orig_pkts + t.resp_pkts, 0) - headersCut);

      // A connection some of whose TCP headers the snap length cut (an IPv6 SYN with options in a
      // VLAN needs 98 bytes) is seen without those packets, perhaps the wrong way round: left out.
      const whole = truth.filter((t) => t.headers_cut === 0);
      if (c.args.includes("96")) expect(whole.length).toBeLessThan(truth.length);
      const cutKeys = new Set(truth.filter((t) => t.headers_cut > 0).flatMap((t) => [key(t), key({ orig_h: t.resp_h, orig_p: t.resp_p, resp_h: t.orig_h, resp_p: t.orig_p })]));
      const byKey = new Map(rows.filter((row) => !cutKeys.has(key(row))).map((row) => [key(row), row]));
      expect(byKey.size).toBe(whole.length);
      const columns = Object.keys(expectedRow(truth[0]!));
      for (const t of whole) {
        const row = byKey.get(key(t));
        expect(row, key(t)).toBeDefined();
        expect(pick(row!, columns), `connection ${t.id}`).toEqual(expectedRow(t));
      }

      // The mix the generator promises, visible in the file.
      const states = new Set(truth.map(expectedConnState));
      for (const state of ["S0", "SF", "S1"]) expect(states, state).toContain(state);
      expect(states.has("RSTO") || states.has("RSTR")).toBe(true);
      expect(truth.some((t) => t.ip_version === 6)).toBe(true);
      expect(truth.some((t) => t.vlan !== null)).toBe(true);
      expect(truth.some((t) => t.orig_retransmits + t.resp_retransmits > 0)).toBe(true);
      expect(truth.some((t) => t.orig_out_of_order + t.resp_out_of_order > 0)).toBe(true);
      expect(truth.some((t) => !t.finished)).toBe(true);
      expect(stats.nonTcpIp + stats.nonIp).toBeGreaterThan(0);
      // At most three rounds per connection, each response at most --max-response bytes.
      if (c.args.includes("--max-response")) expect(Math.max(...truth.map((t) => t.resp_bytes))).toBeLessThanOrEqual(3 * 3072);
      else expect(Math.max(...truth.map((t) => t.resp_bytes))).toBeGreaterThan(3 * 3072);
    });
  }

  it("the same seed gives byte-identical files, another seed different ones", () => {
    const paths = ["a.pcapng", "b.pcapng", "c.pcapng"].map((name) => join(dir, name));
    for (const [path, seed] of [[paths[0], "3"], [paths[1], "3"], [paths[2], "4"]] as const) {
      expect(synth("-o", path!, "--bytes", "1M", "--seed", seed).status).toBe(0);
    }
    const [a, b, c] = paths.map((path) => readFileSync(path));
    expect(a!.equals(b!)).toBe(true);
    expect(a!.equals(c!)).toBe(false);
  });

  it("--connections without --bytes writes every connection to its end", () => {
    const capture = join(dir, "ten.pcap");
    const truthPath = join(dir, "ten.ndjson");
    expect(synth("-o", capture, "--connections", "10", "--truth", truthPath).status).toBe(0);
    const truth = readTruth(truthPath);
    expect(truth.map((t) => t.id).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(truth.every((t) => t.finished)).toBe(true);
  });

  it("--help prints the usage; bad flags exit 2 with one line pointing to --help", () => {
    const help = synth("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: synfin synth -o FILE --bytes SIZE/);
    const bad: Array<[string[], RegExp]> = [
      [["--bytes", "1G"], /no output file given/],
      [["-o", join(dir, "x.pcap")], /give --bytes SIZE, --connections N or both/],
      [["-o", join(dir, "x.pcap"), "--bytes", "2X"], /--bytes takes a size such as 2G, 500M or 1048576, got '2X'/],
      [["-o", join(dir, "x.pcap"), "--bytes", "10"], /--bytes must be at least 1024/],
      [["-o", join(dir, "x.pcap"), "--bytes", "1M", "--format", "erf"], /unknown format 'erf'/],
      [["-o", join(dir, "x.pcap"), "--bytes", "1M", "--snaplen", "0"], /--snaplen takes a whole number from 1 to 262144, got '0'/],
      [["-o", join(dir, "x.pcap"), "--bytes", "1M", "--seed", "1.5"], /--seed takes a whole number from 0 to 4294967295, got '1.5'/],
      [["-o", join(dir, "x.pcap"), "--bytes", "1M", "--out-of-order", "2"], /--out-of-order takes a rate from 0 to 1, got '2'/],
      [["-o", join(dir, "x.pcap"), "--bytes", "1M", "--max-response", "100"], /--max-response must be at least 200 bytes, got '100'/],
      [["-o", join(dir, "x.pcap"), "--bytes", "1M", "--max-response", "lots"], /--max-response takes a size such as 2G, 500M or 1048576, got 'lots'/],
      [["-o", join(dir, "x.pcap"), "--bytes", "1M", "--frobnicate"], /unknown option '--frobnicate'/],
    ];
    for (const [args, message] of bad) {
      const run = synth(...args);
      expect(run.status, args.join(" ")).toBe(2);
      expect(run.stderr.split("\n")[0]).toMatch(message);
      expect(run.stderr.trimEnd().split("\n"), args.join(" ")).toHaveLength(1);
      expect(run.stderr).toMatch(/\(see synfin synth --help\)\n$/);
    }
    const unwritable = synth("-o", join(dir, "no-such-dir", "x.pcap"), "--bytes", "1M");
    expect(unwritable.status).toBe(2);
    expect(unwritable.stderr).toBe(`synfin synth: cannot write ${join(dir, "no-such-dir", "x.pcap")}: no such directory\n`);
  });
});
