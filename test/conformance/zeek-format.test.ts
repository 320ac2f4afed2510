// `--format zeek` against Zeek's own conn.log text, row by row, on every usable baseline of
// ../shared/captures/zeek: each field both logs have must read the same (the time and duration
// to the microsecond, "-" where Zeek leaves a field unset; times the btests mask must have their
// shape), but for the fields synfin does not
// compute: uid (Zeek's are random), service (no protocol analysers), local_orig and local_resp
// (no Site::local_nets) and tunnel_parents (uids of other connections). Rows are paired by their
// 4-tuple, as ../shared/tools/check_zeek.py pairs them. The two baselines that
// ../shared/tools/zeek-exceptions.txt lists (no packet-level engine can match them) are
// reported, not asserted.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { ZeekLog } from "../../src/output/zeek.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { zeekPairs } from "../support/zeek.js";

const ZEEK = join(CAPTURES, "zeek");
const NOT_COMPUTED = new Set(["uid", "service", "local_orig", "local_resp", "tunnel_parents"]);

type LogRow = Map<string, string>;

/** The TCP rows of a Zeek ASCII log's text, each a map from field name to text. */
function tcpRows(text: string): LogRow[] {
  let fields: string[] = [];
  const rows: LogRow[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#fields\t")) fields = line.split("\t").slice(1);
    else if (line !== "" && !line.startsWith("#")) {
      const values = line.split("\t");
      const row = new Map(fields.map((f, i) => [f, values[i]!]));
      if (row.get("proto") === "tcp") rows.push(row);
    }
  }
  return rows;
}

/**
 * Whether our text is Zeek's. The btests mask times as XXXXXXXXXX.XXXXXX (btest-diff's
 * timestamp canonifier, whatever the digits): ours must then be a time with six decimals.
 */
function sameText(zeek: string, ours: string | undefined): boolean {
  if (/^X+\.X+$/.test(zeek)) return ours !== undefined && /^\d+\.\d{6}$/.test(ours);
  return zeek === ours;
}

/** The baselines ../shared/tools/zeek-exceptions.txt leaves out. */
function exceptions(): Set<string> {
  const text = readFileSync(join(CAPTURES, "..", "tools", "zeek-exceptions.txt"), "utf8");
  return new Set(text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#")).map((l) => l.trim().split(/\s+/)[0]!));
}

/** Rows of the baseline without an identical row of ours (on the compared fields), described. */
async function differences(baseline: string, trace: string, ignoreChecksums: boolean): Promise<{ rows: number; differing: string[] }> {
  const zeek = tcpRows(readFileSync(join(ZEEK, baseline), "utf8"));
  const { table } = await analyze(join(ZEEK, trace), { verifyChecksums: !ignoreChecksums });
  const log = new ZeekLog("conn");
  const ours = tcpRows(table.batches.map((b) => log.lines(b)).join("") + log.close());
  const key = (r: LogRow) => ["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"].map((f) => r.get(f)).join(" ");
  const pool = new Map<string, LogRow[]>();
  for (const r of ours) pool.set(key(r), [...(pool.get(key(r)) ?? []), r]);
  const differing: string[] = [];
  for (const z of zeek) {
    const fields = [...z.keys()].filter((f) => !NOT_COMPUTED.has(f) && ours[0]?.has(f));
    const candidates = pool.get(key(z)) ?? [];
    const unequal = (r: LogRow) => fields.filter((f) => !sameText(z.get(f)!, r.get(f)));
    const best = candidates.reduce<LogRow | undefined>((b, r) => (b === undefined || unequal(r).length < unequal(b).length ? r : b), undefined);
    if (best && unequal(best).length === 0) {
      candidates.splice(candidates.indexOf(best), 1);
      continue;
    }
    const what = best ? unequal(best).map((f) => `${f} zeek=${z.get(f)} synfin=${best.get(f)}`).join(", ") : "no row of ours";
    differing.push(`${baseline}: ${key(z)}: ${what}`);
  }
  return { rows: zeek.length, differing };
}

describe.skipIf(!HAS_CAPTURES)(`--format zeek reads as Zeek's conn.log, row by row${SKIP_NOTE}`, () => {
  it("on every usable baseline of ../shared/captures/zeek", async () => {
    const excepted = exceptions();
    const pairs = zeekPairs(ZEEK);
    expect(pairs.length).toBe(50);
    let rows = 0;
    const asserted: string[] = [];
    const reported: string[] = [];
    for (const pair of pairs) {
      const result = await differences(pair.baseline, pair.trace, pair.ignoreChecksums);
      rows += result.rows;
      (excepted.has(pair.baseline) ? reported : asserted).push(...result.differing);
    }
    console.info(`zeek format: ${rows} rows of ${pairs.length} baselines; ${asserted.length} differ${reported.length ? `; excepted baselines: ${reported.length} rows differ` : ""}`);
    expect(asserted, asserted.slice(0, 20).join("\n")).toEqual([]);
  });
});
