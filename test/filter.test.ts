// Capture filters (src/filter/, assembly/filter.ts) on captures of the project's own writer: on
// every link type the core decodes, each primitive keeps exactly the records the capture was
// built with for it; what libpcap refuses, synfin refuses; a bad expression names its position.
// test/conformance/filter.test.ts holds the same filters against tcpdump on the shared captures.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { analyze, SynfinError } from "../src/node.js";
import { compileFilter, listFilter } from "../src/filter/compile.js";
import { Conversation } from "../src/synth/conversation.js";
import { frame, icmpEcho, udpPacket, linkTypeOf, type LinkSpec } from "../src/synth/packet.js";
import type { CapturedPacket } from "../src/synth/capture.js";
import { NS_PER_MS, NS_PER_SECOND, assertAccounting, pcapOf, rowsOf, without } from "./support/fixtures.js";

const HAS_TCPDUMP = spawnSync("tcpdump", ["--version"]).status === 0;
const T0 = 1_700_000_000n * NS_PER_SECOND;

/** An IPv4 connection to port 80, an IPv6 one to 443 (where the link carries both), a UDP datagram and an ICMP echo. */
function traffic(link: LinkSpec, v6: boolean) {
  const v4 = new Conversation({ client: "10.0.0.1", server: "10.0.0.2", clientPort: 40001, serverPort: 80, startNs: T0, link })
    .handshake().data("client", 100).ack("server").close("client").packets();
  const six = v6 ? new Conversation({ client: "2001:db8::1", server: "2001:db8::2", clientPort: 40002, serverPort: 443, startNs: T0 + 500n * NS_PER_MS, link })
    .handshake().close("server").packets() : [];
  const other: CapturedPacket[] = [
    { tsNs: T0 + 900n * NS_PER_MS, data: frame(udpPacket("10.0.0.3", "10.0.0.4", 5353, 53, 20), link) },
    { tsNs: T0 + 901n * NS_PER_MS, data: frame(icmpEcho("10.0.0.3", "10.0.0.4"), link) },
  ];
  const all = [...v4, ...six, ...other].sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
  return { v4, six, other, all };
}

const LINKS: Array<[string, LinkSpec, boolean]> = [
  ["Ethernet", { link: "ethernet" }, true],
  ["raw IP", { link: "raw" }, true],
  ["BSD loopback (null), little-endian family", { link: "null" }, true],
  ["BSD loopback (null), big-endian family", { link: "null", bigEndianNullFamily: true }, true],
  ["OpenBSD loopback", { link: "loop" }, true],
  ["Linux cooked v1", { link: "sll" }, true],
  ["Linux cooked v2", { link: "sll2" }, true],
  ["raw IPv4", { link: "ipv4" }, false],
];

async function run(capture: Uint8Array, filter: string) {
  const result = await analyze(capture, { filter, workers: 0 });
  assertAccounting(result.stats);
  return result;
}

describe("each primitive keeps the records it names, on every link type the core decodes", () => {
  for (const [name, link, v6] of LINKS) {
    it(name, async () => {
      const t = traffic(link, v6);
      // A null link in a big-endian file stores the family big-endian: the filter reads it so.
      const capture = pcapOf(t.all, { linkType: linkTypeOf(link.link), bigEndian: link.bigEndianNullFamily ?? false });
      const total = t.all.length, v4tcp = t.v4.length, v6tcp = t.six.length, other = t.other.length;
      const filtered = async (f: string) => (await run(capture, f)).stats.filtered;
      expect(await filtered("tcp")).toBe(other);
      expect(await filtered("not tcp")).toBe(v4tcp + v6tcp);
      expect(await filtered("ip")).toBe(v6tcp);
      expect(await filtered("ip6")).toBe(v4tcp + other);
      expect(await filtered("udp or icmp")).toBe(v4tcp + v6tcp);
      expect(await filtered("port 80")).toBe(total - v4tcp);
      expect(await filtered("tcp port 443 or udp dst port 53")).toBe(v4tcp + 1);
      expect(await filtered("host 10.0.0.2")).toBe(total - v4tcp);
      expect(await filtered("src host 10.0.0.3")).toBe(total - 2);
      expect(await filtered("net 2001:db8::/32")).toBe(total - v6tcp);
      expect(await filtered("portrange 50-100")).toBe(total - v4tcp - 1);
      // tcp[...] reads IPv4 packets only (libpcap finds the TCP header by the IPv4 header length).
      expect(await filtered("tcp[tcpflags] & tcp-syn != 0")).toBe(total - 2);
      expect(await filtered("ip6 and ip6[6] = 6")).toBe(total - v6tcp);
      // The rows are those of the capture that holds only the kept records.
      const kept = await run(capture, "tcp port 80");
      const alone = await analyze(pcapOf(t.v4, { linkType: linkTypeOf(link.link), bigEndian: link.bigEndianNullFamily ?? false }), { workers: 0 });
      expect(rowsOf(kept.table).map((r) => without(r, "first_packet"))).toEqual(rowsOf(alone.table).map((r) => without(r, "first_packet")));
      // A rejected record keeps its place in the numbering: first_packet counts every record.
      if (v6) expect(rowsOf((await run(capture, "tcp port 443")).table)[0]!.first_packet).toBe(t.all.indexOf(t.six[0]!));
    });
  }
});

describe("VLAN tags", () => {
  const tagged = traffic({ link: "ethernet", vlans: [7] }, false);
  const plain = traffic({ link: "ethernet" }, false);
  const capture = pcapOf([...tagged.v4, ...plain.other.map((p) => ({ ...p, tsNs: p.tsNs + NS_PER_SECOND }))]);
  it("`vlan [id]` tests the tag, and every later offset moves past it", async () => {
    const n = tagged.v4.length;
    expect((await run(capture, "vlan")).stats.filtered).toBe(2);
    expect((await run(capture, "vlan 7")).stats.filtered).toBe(2);
    expect((await run(capture, "vlan 8")).stats.filtered).toBe(n + 2);
    expect((await run(capture, "vlan and tcp port 80")).stats.filtered).toBe(2);
    // Without `vlan` first, `tcp` reads the tag's ethertype and finds no IP.
    expect((await run(capture, "tcp port 80")).stats.filtered).toBe(n + 2);
    // `vlan` after `or` still moves the offsets of what follows: the untagged UDP is not found.
    expect((await run(capture, "vlan 7 or udp")).stats.filtered).toBe(2);
  });
  it("a link without tags refuses `vlan` as libpcap does: FILTER_REFUSED at the first record", async () => {
    const sll = pcapOf(traffic({ link: "sll" }, false).all, { linkType: linkTypeOf("sll") });
    const error = await analyze(sll, { filter: "vlan or tcp", workers: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SynfinError);
    expect((error as SynfinError).code).toBe("FILTER_REFUSED");
    expect((error as SynfinError).message).toContain("no VLAN support for Linux cooked v1");
    expect((error as SynfinError).offset).toBe(24);
  });
});

describe("BPF's rule for a record cut short: a load past its captured bytes rejects it", () => {
  // Snap length 40 on Ethernet: the IPv4 header (14..34) and the ports (34..38) are captured, the TCP flags (47) not.
  const t = traffic({ link: "ethernet" }, false);
  const capture = pcapOf(t.all, { snaplen: 40 });
  it("whatever the rest of the expression says", async () => {
    expect((await run(capture, "tcp[13] = 2")).stats.filtered).toBe(t.all.length);
    // The UDP and ICMP records fail `tcp` before the flags are read: `not` keeps them.
    expect((await run(capture, "not tcp[13] = 2")).stats.filtered).toBe(t.v4.length);
    expect((await run(capture, "tcp[13] = 2 or tcp")).stats.filtered).toBe(t.all.length);
    // Read in order: `tcp` decides first, and the flags are never read.
    expect((await run(capture, "tcp or tcp[13] = 2")).stats.filtered).toBe(t.other.length);
    expect((await run(capture, "tcp port 80")).stats.filtered).toBe(t.other.length);
  });
});

/** [expression, position (from 0), words the message must hold]. */
const BAD: Array<[string, number, string]> = [
  ["", 0, "empty"],
  ["host", 4, "expected a value after 'host'"],
  ["port 80 and", 11, "primitive"],
  ["port 99999", 5, "at most 65535"],
  ["port nosuchport", 5, "unknown port"],
  ["host example.com", 5, "do not look up host names"],
  ["tcp[13:3] = 1", 7, "1, 2 or 4"],
  ["(tcp or udp", 11, "')'"],
  ["tcp or udp)", 10, "')' without '('"],
  ["tcp host 10.0.0.1", 0, "'tcp' modifier applied to host"],
  ["len / 0 > 1", 4, "division by zero"],
  ["len / tcp[0] > 1", 4, "division by zero"],
  ["len % (80 % 80) = 0", 4, "modulus by zero"],
  ["len << (30 + 10) > 0", 4, "shift by more than 31 bits"],
  ["gateway 10.0.0.1", 0, "not of synfin's filters"],
  ["10.0.0.1", 0, "expected a primitive"],
  ["tcp and 80", 8, "expected a primitive"],
  ["net 10.0.0.1/8", 4, "non-network bits"],
  ["host 10.0.0.1 $", 14, "unexpected character '$'"],
  ["vlan 5000", 5, "at most 4095"],
];

describe("bad expressions", () => {
  for (const [expr, position, words] of BAD) {
    it(`'${expr}': BAD_FILTER at character ${position + 1}`, () => {
      let error: unknown;
      try { compileFilter(expr); } catch (e) { error = e; }
      expect(error).toBeInstanceOf(SynfinError);
      expect((error as SynfinError).code).toBe("BAD_FILTER");
      expect((error as SynfinError).offset).toBe(position);
      expect((error as SynfinError).message).toContain(`at character ${position + 1}`);
      expect((error as SynfinError).message).toContain(words);
    });
  }

  it.skipIf(!HAS_TCPDUMP)(`tcpdump rejects each of them, and accepts every expression of test/data/filters.txt${HAS_TCPDUMP ? "" : " (skipped: tcpdump is not installed)"}`, () => {
    const accepts = (e: string) => spawnSync("tcpdump", ["-d", "-y", "EN10MB", e], { encoding: "utf8" }).status === 0;
    // tcpdump reads an empty expression as "every packet"; synfin asks for one.
    for (const [expr] of BAD.filter(([e]) => e !== "" && !e.startsWith("host example"))) expect(accepts(expr), expr).toBe(false);
    const good = readFileSync(new URL("./data/filters.txt", import.meta.url), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    for (const expr of good) {
      expect(accepts(expr), expr).toBe(true);
      expect(() => compileFilter(expr), expr).not.toThrow();
    }
  });
});

describe(`the programs load what libpcap's load, in its order${HAS_TCPDUMP ? "" : " (skipped: tcpdump is not installed)"}`, () => {
  // A record cut short is judged by which load fails first: the sequence of packet loads of each
  // primitive must be that of tcpdump -O -d (libpcap's unoptimised code) on Ethernet.
  const PRIMITIVES = [
    "tcp", "udp", "ip", "ip6", "icmp", "arp", "host 10.0.0.1", "src host 10.0.0.1", "dst net 10.1",
    "src and dst net 10.0.0.0/8", "ip host 1.2.3.4", "ip6 net fe80::/10", "host fe80::1", "port 80",
    "tcp port 443", "udp src port 53", "portrange 1-1023", "port http", "vlan", "vlan 10",
    "vlan and tcp port 80", "vlan and vlan 3 and host 1.2.3.4", "ip proto 6", "ip6 proto 6", "proto 17",
    "tcp[13] = 18", "icmp[icmptype] = icmp-echo", "udp[0:2] = 53 or udp[2:2] = 53", "port 80 or 443",
    "not tcp", "tcp src or dst port 22",
  ];
  const ours = (expr: string): string[] => listFilter(compileFilter(expr), 1).map((l) => l.split(/\s+/))
    .filter((p) => /^Ld(W|H|B|IndW|IndH|IndB)$|^LdxMsh$/.test(p[1]!))
    .map((p) => p[1] === "LdxMsh" ? `ldxb ${p[2]}` : `${{ W: "ld", H: "ldh", B: "ldb" }[p[1]!.slice(-1)]} ${p[1]!.includes("Ind") ? "x+" : ""}${p[2]}`);
  const theirs = (expr: string): string[] => spawnSync("tcpdump", ["-O", "-d", "-y", "EN10MB", expr], { encoding: "utf8" }).stdout.split("\n")
    .map((l) => /\)\s+(ld|ldh|ldb|ldxb)\s+(\S+)(?:\s*\+\s*(\d+)\])?/.exec(l)).filter((m): m is RegExpExecArray => m !== null && !/^[#M]/.test(m[2]!))
    .map((m) => m[1] === "ldxb" ? `ldxb ${/\[(\d+)\]/.exec(m[2]!)![1]}` : m[3] ? `${m[1]} x+${m[3]}` : `${m[1]} ${m[2]!.replace(/[[\]]/g, "")}`);
  it.skipIf(!HAS_TCPDUMP)(`${PRIMITIVES.length} primitives`, () => {
    for (const expr of PRIMITIVES) {
      const loads = ours(expr);
      expect(loads.length, expr).toBeGreaterThan(0);
      expect(loads, expr).toEqual(theirs(expr));
    }
  });
});

