// Agreement with Zeek's conn.log on the Zeek baselines in ../shared/captures/zeek, measured as
// ../shared/tools/check_zeek.py measures it. The figures asserted are the ones reached: they may
// only go up. Remaining differences: Zeek's bare mode (-b) lacks the likely server ports of
// unloaded protocol scripts (gre-aruba-amsdu.pcap), and GridFTP's skip_further_processing in
// globus-url-copy.pcap.

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { traceAgreement, zeekPairs, type TraceAgreement } from "../support/zeek.js";

const ZEEK = join(CAPTURES, "zeek");
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
