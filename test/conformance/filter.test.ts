// Capture filters against tcpdump (Debian's, libpcap 1.10): for every shared capture and every
// expression of test/data/filters.txt, `filter: E` on the capture gives exactly the rows synfin
// gives for the capture `tcpdump -r FILE -w OUT 'E'` writes, and the records it counts as
// filtered are those tcpdump left out. Rows are compared on every column but first_packet (its
// index in the capture each run read: the unfiltered file's and the filtered copy's differ) and
// interface (tcpdump -w writes pcap, which names none). Captures tcpdump cannot read whole, or
// reads differently from synfin, are listed with the reason, not compared. Records of a link type
// synfin does not decode are not filtered (they stay unsupportedLinkType, docs/filters.md): on a
// capture holding any, the rows are compared but not the count. The default run takes every
// eighth capture; SYNFIN_LONG_TESTS (set by .ci/run) takes all of them. A property then tries
// random expressions of every construct on a capture of the project's own synthesizer.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import fc from "fast-check";
import { compileFilter } from "../../src/filter/compile.js";
import { synthPackets } from "../../src/synth/synth.js";
import { writePcap } from "../../src/synth/capture.js";
import { LINKTYPE } from "../../src/synth/packet.js";
import type { AnalyzeResult } from "../../src/public.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { rowsOf, type Row } from "../support/rows.js";

const HAS_TCPDUMP = spawnSync("tcpdump", ["--version"]).status === 0;
const LONG = Boolean(process.env.SYNFIN_LONG_TESTS);
const EXPRESSIONS = readFileSync(new URL("../data/filters.txt", import.meta.url), "utf8")
  .split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));

function captures(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...captures(path));
    else if (/\.(pcap|pcapng|cap|trace|dmp)$/i.test(name)) out.push(path);
  }
  return out;
}

const work = HAS_CAPTURES && HAS_TCPDUMP ? mkdtempSync(join(tmpdir(), "synfin-filter-")) : "";
afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

/** tcpdump -r FILE -w OUT [EXPR] at nanosecond precision; the exit status and stderr. */
function tcpdump(file: string, out: string, expr?: string): { ok: boolean; err: string } {
  const args = ["--time-stamp-precision=nano", "-r", file, "-w", out];
  if (expr !== undefined) args.push(expr);
  const r = spawnSync("tcpdump", args, { encoding: "utf8" });
  return { ok: r.status === 0, err: (r.stderr ?? "").split("\n").filter((l) => l && !l.startsWith("reading from")).join(" ") };
}

const SKIPPED_COLUMNS = new Set(["first_packet", "interface"]);

function comparable(rows: Row[]): string[] {
  return rows.map((r) => JSON.stringify(Object.entries(r).filter(([k]) => !SKIPPED_COLUMNS.has(k))));
}

describe(`capture filters against tcpdump${SKIP_NOTE}${HAS_TCPDUMP ? "" : " (skipped: tcpdump is not installed)"}`, () => {
  it.skipIf(!HAS_CAPTURES || !HAS_TCPDUMP)(`every expression of test/data/filters.txt (${EXPRESSIONS.length}) on ${LONG ? "every" : "every eighth"} shared capture`, async () => {
    expect(EXPRESSIONS.length).toBeGreaterThanOrEqual(30);
    const files = captures(CAPTURES).filter((_, i) => LONG || i % 8 === 0);
    const notCompared: string[] = [];
    const differences: string[] = [];
    let compared = 0, matched = 0, rowsOnly = 0;
    for (const file of files) {
      const name = file.slice(CAPTURES.length + 1);
      // A capture is compared only when tcpdump reads every record synfin reads.
      const all = join(work, "all.pcap");
      const whole = tcpdump(file, all);
      if (!whole.ok) { notCompared.push(`${name}: tcpdump: ${whole.err}`); continue; }
      let base;
      try {
        base = await analyze(file);
      } catch (e) {
        notCompared.push(`${name}: synfin: ${(e as Error).message}`);
        continue;
      }
      const copy = await analyze(all);
      if (copy.stats.records !== base.stats.records) {
        notCompared.push(`${name}: tcpdump reads ${copy.stats.records} records, synfin ${base.stats.records}`);
        continue;
      }
      const baseRows = comparable(rowsOf(base.table)), copyRows = comparable(rowsOf(copy.table));
      if (baseRows.length !== copyRows.length || baseRows.some((r, i) => r !== copyRows[i])) {
        // tcpdump -w does not copy every record as it is (e.g. it normalises invalid timestamps).
        notCompared.push(`${name}: the capture tcpdump copies without a filter gives other rows`);
        continue;
      }
      const allBytes = readFileSync(all);
      const countsComparable = base.stats.unsupportedLinkType === 0;
      for (const expr of EXPRESSIONS) {
        const out = join(work, "out.pcap");
        const t = tcpdump(file, out, expr);
        if (!t.ok) {
          // tcpdump refuses the expression on this link type ("no VLAN support", "rejects all
          // packets"): synfin must then keep no record of it either.
          let ours;
          try {
            ours = await analyze(file, { filter: expr });
          } catch (e) {
            compared++; matched++;
            expect((e as { code?: string }).code, `${name} '${expr}'`).toBe("FILTER_REFUSED");
            continue;
          }
          compared++;
          if (ours.stats.tcpPackets === 0 && ours.table.numRows === 0) matched++;
          else differences.push(`${name} '${expr}': tcpdump refuses (${t.err}), synfin keeps ${ours.stats.records - ours.stats.filtered} records`);
          continue;
        }
        const ours = await analyze(file, { filter: expr });
        const kept = readFileSync(out);
        // tcpdump kept every record (the copy's run stands for it), none, or some (run synfin on them).
        const theirs: Pick<AnalyzeResult, "table" | "stats"> | undefined = kept.equals(allBytes) ? copy : kept.length <= 24 ? undefined : await analyze(out);
        compared++;
        const dropped = base.stats.records - (theirs?.stats.records ?? 0);
        const a = comparable(rowsOf(ours.table)), b = theirs ? comparable(rowsOf(theirs.table)) : [];
        const sameRows = a.length === b.length && a.every((r, i) => r === b[i]);
        const sameCount = !countsComparable || ours.stats.filtered === dropped;
        if (!countsComparable) rowsOnly++;
        if (sameCount && sameRows) matched++;
        else differences.push(`${name} '${expr}': filtered ${ours.stats.filtered} vs tcpdump ${dropped}; rows ${a.length} vs ${b.length}${sameRows ? "" : " (differ)"}`);
      }
    }
    console.log(`filters: ${matched}/${compared} (capture, expression) pairs agree with tcpdump over ${files.length - notCompared.length} captures ` +
      `(${rowsOnly} pairs on captures with records of link types synfin does not decode: rows only); ${notCompared.length} captures not compared:\n  ${notCompared.join("\n  ")}` +
      (differences.length ? `\ndifferences (${differences.length}):\n  ${differences.slice(0, 300).join("\n  ")}` : ""));
    expect(differences.slice(0, 20)).toEqual([]);
    expect(compared).toBeGreaterThan(0);
  });
});

describe(`capture filters against tcpdump, random expressions${HAS_TCPDUMP ? "" : " (skipped: tcpdump is not installed)"}`, () => {
  // Random expressions of every construct, nested in and/or/not and parentheses, on a capture of
  // the project's own synthesizer (IPv4 and IPv6, VLAN tags, UDP, ARP, a 96-byte snap length):
  // tcpdump and synfin keep the same records, and refuse the same expressions.
  it.skipIf(!HAS_TCPDUMP)("property: random expressions keep what tcpdump keeps", async () => {
    const dir = mkdtempSync(join(tmpdir(), "synfin-filter-prop-"));
    try {
      const file = join(dir, "synth.pcap");
      writeFileSync(file, writePcap([...synthPackets({ seed: 3, connections: 400, concurrency: 40, snaplen: 96 })], { linkType: LINKTYPE.ETHERNET, snaplen: 96 }));
      const records = (await analyze(file)).stats.records;
      const num = fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constantFrom(80, 443, 1500, 0x800, 65535, 0xffffffff));
      const arith = fc.letrec<{ a: string }>((tie) => ({
        a: fc.oneof({ depthSize: "small", withCrossShrink: true },
          num.map(String), fc.constant("len"), fc.constantFrom("tcpflags", "tcp-syn", "tcp-ack", "icmptype"),
          fc.tuple(fc.constantFrom("ether", "ip", "ip6", "tcp", "udp", "icmp"), tie("a"), fc.constantFrom("", ":1", ":2", ":4")).map(([p, i, s]) => `${p}[${i}${s}]`),
          fc.tuple(tie("a"), fc.constantFrom("+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"), tie("a")).map(([l, o, r]) => `(${l} ${o} ${r})`),
          fc.tuple(tie("a"), fc.constantFrom("+", "*", "&", "|", "%", "^"), tie("a")).map(([l, o, r]) => `${l} ${o} ${r}`)),
      })).a;
      const primitive = fc.oneof(
        fc.constantFrom("tcp", "udp", "ip", "ip6", "icmp", "arp", "vlan", "sctp", "icmp6"),
        fc.integer({ min: 0, max: 4095 }).map((v) => `vlan ${v}`),
        fc.tuple(fc.constantFrom("", "tcp ", "udp "), fc.constantFrom("", "src ", "dst ", "src or dst ", "src and dst "), fc.constantFrom(80, 443, 22, 53, 8080, 40000)).map(([p, d, n]) => `${p}${d}port ${n}`),
        fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 })).map(([a, b]) => `portrange ${a}-${b}`),
        fc.tuple(fc.constantFrom("", "src ", "dst "), fc.constantFrom("host 10.0.0.1", "net 10.0.0.0/8", "net 172.16", "net 172.16.0.0 mask 255.255.255.0", "host 10.255.0.53", "net fd00::/8", "net fd01::/16", "host fd01::1", "ip host 172.16.0.1", "arp host 10.255.0.1")).map(([d, h]) => `${d}${h}`),
        fc.tuple(fc.constantFrom("less", "greater"), fc.integer({ min: 0, max: 200 })).map(([w, n]) => `${w} ${n}`),
        fc.tuple(fc.constantFrom("ip proto", "ip6 proto", "proto"), fc.constantFrom(6, 17, 1, 58, 44)).map(([w, n]) => `${w} ${n}`),
        fc.tuple(arith, fc.constantFrom("=", "==", "!=", "<", "<=", ">", ">="), arith).map(([l, o, r]) => `${l} ${o} ${r}`),
      );
      const expression = fc.letrec<{ e: string }>((tie) => ({
        e: fc.oneof({ depthSize: "small", withCrossShrink: true },
          primitive,
          tie("e").map((e) => `not ${e}`),
          fc.tuple(tie("e"), fc.constantFrom("and", "or", "&&", "||"), tie("e")).map(([l, o, r]) => `${l} ${o} ${r}`),
          tie("e").map((e) => `(${e})`)),
      })).e;
      const out = join(dir, "out.pcap");
      await fc.assert(fc.asyncProperty(expression, async (expr) => {
        const t = spawnSync("tcpdump", ["-r", file, "-w", out, expr], { encoding: "utf8" });
        let ours;
        try {
          compileFilter(expr);
          ours = await analyze(file, { filter: expr });
        } catch (e) {
          // synfin refuses: so must tcpdump (a parse error, a division or shift it rejects).
          expect(t.status, `${expr}: synfin says ${(e as Error).message}`).not.toBe(0);
          return;
        }
        if (t.status !== 0) {
          // tcpdump refuses what its optimizer proves empty: synfin keeps nothing either.
          expect(t.stderr, expr).toMatch(/rejects all packets/);
          expect(ours.stats.filtered, expr).toBe(records);
          return;
        }
        const kept = readFileSync(out).length <= 24 ? 0 : (await analyze(out)).stats.records;
        expect(ours.stats.filtered, expr).toBe(records - kept);
      }), { numRuns: LONG ? 600 : 120, seed: 20261205 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
