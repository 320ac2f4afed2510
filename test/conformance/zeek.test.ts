// Agreement with Zeek's conn.log on the Zeek baselines in ../shared/captures/zeek, measured as
// ../shared/tools/check_zeek.py measures it. The figures asserted are the ones reached: they may
// only go up. Remaining differences: Zeek's bare mode (-b) lacks the likely server ports of
// unloaded protocol scripts (gre-aruba-amsdu.pcap), and GridFTP's skip_further_processing in
// globus-url-copy.pcap.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { rowsOf } from "../support/rows.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { traceAgreement, zeekPairs, type TraceAgreement } from "../support/zeek.js";

const ZEEK = join(CAPTURES, "zeek");
const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const runCli = (args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20 });
/** Mean per-trace share of agreeing rows reached (issue target: 0.80). */
const MEAN_AGREEMENT = 0.97;
/** Share of rows whose conn_state agrees (issue target: 0.95). */
const CONN_STATE_AGREEMENT = 0.99;
const EXACT_TRACES = 48;

describe.skipIf(!HAS_CAPTURES)(`Zeek conn.log agreement${SKIP_NOTE}`, () => {
  it("reaches the agreement figures on every usable baseline", async () => {
    const results: TraceAgreement[] = [];
    for (const pair of zeekPairs(ZEEK)) results.push(await traceAgreement(ZEEK, pair));
    const rows = results.reduce((n, r) => n + r.rows, 0);
    const mean = results.reduce((s, r) => s + r.agreeing / r.rows, 0) / results.length;
    const connState = results.reduce((n, r) => n + r.connStateAgreeing, 0) / rows;
    const exact = results.filter((r) => r.agreeing === r.rows).length;
    const report = results.filter((r) => r.agreeing < r.rows).map((r) => `${r.baseline}: ${r.agreeing}/${r.rows}\n    ${r.differences.join("\n    ")}`).join("\n");
    console.info(`zeek: ${exact}/${results.length} traces exact, mean per-trace agreement ${(mean * 100).toFixed(1)}%, conn_state ${(connState * 100).toFixed(1)}% of ${rows} rows\n${report}`);
    expect(results.length).toBe(50);
    expect(mean, report).toBeGreaterThanOrEqual(MEAN_AGREEMENT);
    expect(connState).toBeGreaterThanOrEqual(CONN_STATE_AGREEMENT);
    expect(exact).toBeGreaterThanOrEqual(EXACT_TRACES);
  });
});

/** A zeek-cut -m baseline: its header line of names, then rows. */
function cutRows(path: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(path, "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
  const names = head!.split("\t");
  return lines.map((line) => Object.fromEntries(line.split("\t").map((v, i) => [names[i]!, v])));
}

// Zeek's own test of its VLAN-aware key (testing/btest/scripts/policy/frameworks/conn_key/
// vlan_fivetuple.zeek): the same connection untagged, tagged 10 then 20, and tagged 42.
describe.skipIf(!HAS_CAPTURES)(`the connection key on Zeek's vlan-collisions.pcap${SKIP_NOTE}`, () => {
  const trace = join(ZEEK, "vlan-collisions.pcap");
  const baseline = (suffix: string) => cutRows(join(ZEEK, `vlan-collisions.pcap.scripts.policy.frameworks.conn_key.vlan_fivetuple${suffix}.conn.log`));
  const tuple = (r: Record<string, unknown>) => `${r.orig_h}:${r.orig_p} → ${r.resp_h}:${r.resp_p}`;

  it("is addresses and ports by default: one connection, every packet (…vlan_fivetuple.conn.log)", async () => {
    const want = baseline("");
    const { table } = await analyze(trace);
    expect(want).toHaveLength(1);
    expect(rowsOf(table).map((r) => [tuple(r), r.orig_pkts, r.resp_pkts])).toEqual(
      want.map((z) => [`${z["id.orig_h"]}:${z["id.orig_p"]} → ${z["id.resp_h"]}:${z["id.resp_p"]}`, Number(z.orig_pkts), Number(z.resp_pkts)]));
  });

  it("with connKey vlan, has one connection per VLAN stack, with its tags (…vlan_fivetuple-2.conn.log)", async () => {
    const want = baseline("-2");
    const { table } = await analyze(trace, { connKey: "vlan" });
    const tag = (v: string) => (v === "-" ? null : Number(v));
    const key = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r, (_, v) => (typeof v === "bigint" ? Number(v) : v))).sort();
    expect(want).toHaveLength(3);
    expect(key(rowsOf(table).map((r) => [tuple(r), r.vlan, r.inner_vlan, r.orig_pkts, r.resp_pkts]))).toEqual(
      key(want.map((z) => [`${z["id.orig_h"]}:${z["id.orig_p"]} → ${z["id.resp_h"]}:${z["id.resp_p"]}`, tag(z["id.ctx.vlan"]!), tag(z["id.ctx.inner_vlan"]!), Number(z.orig_pkts), Number(z.resp_pkts)])));
  });

  it("with --conn-key vlan, --format zeek writes id.ctx.vlan and id.ctx.inner_vlan as Zeek does", async () => {
    const want = baseline("-2");
    const { stdout } = await runCli([trace, "--conn-key", "vlan", "--format", "zeek"]);
    const lines = stdout.split("\n");
    const fields = lines.find((l) => l.startsWith("#fields"))!.split("\t").slice(1);
    expect(fields.slice(0, 8)).toEqual(["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "id.ctx.vlan", "id.ctx.inner_vlan"]);
    const rows = lines.filter((l) => l && !l.startsWith("#")).map((l) => Object.fromEntries(l.split("\t").map((v, i) => [fields[i]!, v])));
    const cut = (r: Record<string, string>) => ["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "id.ctx.vlan", "id.ctx.inner_vlan", "orig_pkts", "resp_pkts"].map((f) => r[f]).join("\t");
    expect(rows.map(cut).sort()).toEqual(want.map(cut).sort());
  });

  it("rejects a connKey it does not know", async () => {
    await expect(analyze(trace, { connKey: "vlan-only" as never })).rejects.toThrow(/connKey must be "five-tuple" or "vlan"/);
  });
});
