// A SYN flood of N distinct spoofed sources (default 5 million) through the CLI with the default
// maxFlows: no trap, memory within the bound, every SYN accounted for. Prints one JSON line and
// exits 1 when the peak RSS passes the bound docs/benchmarks.md states or the counts do not add up.
//
//   node bench/syn-flood.mjs [--sources 5000000]

import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PcapStreamWriter } from "../dist/synth/capture.js";
import { LINKTYPE, SYN, frame, ipPacket } from "../dist/synth/packet.js";

const { values } = parseArgs({ options: { sources: { type: "string", default: "5000000" } } });
const sources = Number(values.sources);
const out = fileURLToPath(new URL("./out/", import.meta.url));
mkdirSync(out, { recursive: true });
const capture = `${out}syn-flood-${sources}.pcap`;

if (!existsSync(capture)) {
  const writer = new PcapStreamWriter({ linkType: LINKTYPE.ETHERNET });
  const fd = openSync(capture, "w");
  const chunk = new Uint8Array(8 << 20);
  let used = 0;
  const flush = () => { writeSync(fd, chunk, 0, used); used = 0; };
  const header = writer.header();
  chunk.set(header);
  used = header.length;
  for (let i = 0; i < sources; i++) {
    const src = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const data = frame(ipPacket({ src, dst: "192.0.2.1", sport: 1024 + (i % 60000), dport: 80, seq: (i * 7919) >>> 0, ack: 0, flags: SYN }), { link: "ethernet" });
    if (used + 16 + data.length > chunk.length) flush();
    used = writer.writeRecordInto(chunk, used, 1_700_000_000_000_000_000n + BigInt(i) * 1000n, data);
  }
  flush();
  closeSync(fd);
}

const here = fileURLToPath(new URL(".", import.meta.url));
const t0 = performance.now();
const p = spawnSync(process.execPath, [`${here}measure.mjs`, "cli", capture, "--format", "arrow", "-o", `${out}syn-flood.arrow`, "--no-progress", "--stats"], { encoding: "utf8" });
const seconds = (performance.now() - t0) / 1000;
if (p.status !== 0) { process.stderr.write(p.stderr); process.exit(1); }
const report = JSON.parse(p.stderr.trim().split("\n").pop());
/** The bound docs/benchmarks.md states: ~1.3 KB per flow of maxFlows (record, index, timers) + 200 MB for the rest. */
const MAX_FLOWS = 500_000;
const boundMb = Math.round((MAX_FLOWS * 1300 + 200e6) / 2 ** 20);
const peakRssMb = Math.round(report.maxRssBytes / 2 ** 20);
const s = report.stats;
const addsUp = report.packets === sources && s.tcpPackets === sources && s.connections === sources && s.evicted === sources - Math.min(sources, MAX_FLOWS);
console.log(JSON.stringify({ sources, seconds: +seconds.toFixed(2), peakRssMb, boundMb, addsUp, records: report.packets, ...s }));
if (peakRssMb > boundMb || !addsUp) process.exit(1);
