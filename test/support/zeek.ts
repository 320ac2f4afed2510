// Agreement with Zeek's conn.log baselines, computed as ../shared/tools/check_zeek.py computes
// it: for each usable trace/baseline pair, the TCP rows are matched by orig/resp 4-tuple as
// multisets, and a Zeek row agrees when a synfin row has the same ten fields.

import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { analyze } from "../../src/node.js";
import { rowsOf, type Row } from "./rows.js";

export const FIELDS = ["conn_state", "history", "orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "duration"] as const;
const NUMERIC = new Set(["orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"]);

export interface TraceAgreement {
  baseline: string;
  rows: number;
  agreeing: number;
  /** Rows whose conn_state alone agrees (on the best-matching synfin row). */
  connStateAgreeing: number;
  /** First few differing rows, for the failure message. */
  differences: string[];
}

type ZeekRow = Record<string, string>;

function zeekRows(path: string): { cols: string[] | null; rows: ZeekRow[] } {
  let cols: string[] | null = null;
  const rows: ZeekRow[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.startsWith("#fields")) cols = line.split("\t").slice(1);
    else if (line && !line.startsWith("#") && cols) {
      const values = line.split("\t");
      const row: ZeekRow = {};
      cols.forEach((c, i) => (row[c] = values[i]!));
      if (row.proto === "tcp") rows.push(row);
    }
  }
  return { cols, rows };
}

function norm(field: string, v: unknown): string | number | null {
  if (v === undefined || v === null || v === "-" || v === "(empty)") return NUMERIC.has(field) || field === "duration" ? 0 : null;
  if (NUMERIC.has(field)) return Math.trunc(Number(v));
  if (field === "duration") return Math.round(Number(v) * 1e6) / 1e6;
  return String(v);
}

/** Whether the btest runs plain `zeek -r` (null: not comparable), and whether it used -C. */
function usable(btest: string): boolean | null {
  const cmd = btest.split("\n").find((l) => l.includes("TEST-EXEC: zeek")) ?? "";
  if (/\s-f\s/.test(cmd) || btest.includes("conn_key") || cmd.includes("ignore_checksums_nets")) return null;
  return cmd.split(/\s+/).includes("-C") || /\s-\w*C\w*\s/.test(cmd);
}

/** Every usable baseline of the directory with its trace, and whether Zeek ignored checksums. */
export function zeekPairs(dir: string): Array<{ baseline: string; trace: string; ignoreChecksums: boolean }> {
  const names = readdirSync(dir);
  const pairs = [];
  for (const log of names.filter((n) => n.endsWith(".conn.log")).sort()) {
    const base = log.slice(0, -".conn.log".length);
    const trace = names.find((t) => base.startsWith(t + ".") && !/\.(log|btest|out)$/.test(t));
    if (!trace) continue;
    const { cols, rows } = zeekRows(join(dir, log));
    if (rows.length === 0 || !cols || !cols.includes("conn_state") || !cols.includes("history")) continue;
    const btest = [base + ".btest", base + ".cmd"].map((b) => join(dir, b)).find((b) => existsSync(b));
    const mode = btest ? usable(readFileSync(btest, "utf8")) : true;
    if (mode === null) continue;
    pairs.push({ baseline: log, trace, ignoreChecksums: mode });
  }
  return pairs;
}

export async function traceAgreement(dir: string, pair: { baseline: string; trace: string; ignoreChecksums: boolean }): Promise<TraceAgreement> {
  const { rows: zrows } = zeekRows(join(dir, pair.baseline));
  const { table } = await analyze(join(dir, pair.trace), { verifyChecksums: !pair.ignoreChecksums });
  const pool = new Map<string, Row[]>();
  for (const s of rowsOf(table)) {
    const key = `${s.orig_h}|${s.orig_p}|${s.resp_h}|${s.resp_p}`;
    pool.set(key, [...(pool.get(key) ?? []), s]);
  }
  const result: TraceAgreement = { baseline: pair.baseline, rows: zrows.length, agreeing: 0, connStateAgreeing: 0, differences: [] };
  for (const z of zrows) {
    const candidates = pool.get(`${z["id.orig_h"]}|${Number(z["id.orig_p"])}|${z["id.resp_h"]}|${Number(z["id.resp_p"])}`) ?? [];
    let best: Row | undefined;
    let bestN = -1;
    for (const s of candidates) {
      const n = FIELDS.filter((f) => norm(f, z[f]) === norm(f, s[f])).length;
      if (n > bestN) { best = s; bestN = n; }
    }
    if (best && norm("conn_state", z.conn_state) === norm("conn_state", best.conn_state)) result.connStateAgreeing++;
    if (best && bestN === FIELDS.length) {
      result.agreeing++;
      candidates.splice(candidates.indexOf(best), 1);
    } else if (result.differences.length < 3) {
      const diff = best ? FIELDS.filter((f) => norm(f, z[f]) !== norm(f, best![f])).map((f) => `${f} zeek=${z[f]} synfin=${best![f]}`) : ["no synfin row"];
      result.differences.push(`${z["id.orig_h"]}:${z["id.orig_p"]} → ${z["id.resp_h"]}:${z["id.resp_p"]}: ${diff.join(", ")}`);
    }
  }
  return result;
}
