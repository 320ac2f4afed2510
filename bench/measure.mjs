// One measured process for the benchmarks. Modes:
//   read FILE                  a plain fs.read loop into one reused 8 MiB buffer (the physical limit)
//   walk FILE                  the same loop, also walking the libpcap record headers (counts packets)
//   lib FILE OUT WORKERS       the library: analyze(FILE, { workers }) and the table as an Arrow IPC file
//   cli ARGS…                  the synfin command, in this process (bench/syn-flood.mjs)
// Reports peak RSS, packets and (cli) the --stats accounting as one JSON line on stderr.

import { closeSync, openSync, readSync, writeFileSync } from "node:fs";

const CHUNK_BYTES = 8 << 20;
const PCAP_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;

const [mode, ...args] = process.argv.slice(2);
let packets = 0;
let rows;
const stats = {};
if (mode === "read") {
  const fd = openSync(args[0], "r");
  const buf = new Uint8Array(CHUNK_BYTES);
  let position = 0;
  for (let n; (n = readSync(fd, buf, 0, buf.length, position)) > 0; ) position += n;
  closeSync(fd);
} else if (mode === "walk") {
  packets = walkRecords(args[0]);
} else if (mode === "lib") {
  const [file, out, workers] = args;
  const { analyze } = await import("../dist/node.js");
  const { tableToIPC } = await import("apache-arrow");
  const { table, stats: accounting } = await analyze(file, { workers: Number(workers) });
  writeFileSync(out, tableToIPC(table, "file"));
  packets = accounting.records;
  rows = table.numRows;
} else if (mode === "cli") {
  const { main } = await import("../dist/cli/command.js");
  const write = process.stderr.write.bind(process.stderr);
  let captured = "";
  process.stderr.write = (chunk) => { captured += chunk; return true; };
  const code = await main(args);
  process.stderr.write = write;
  if (code !== 0) { process.stderr.write(captured); process.exit(code); }
  packets = Number(/= records\s+(\d+)/.exec(captured)?.[1] ?? 0);
  for (const m of captured.matchAll(/^(\w+)\s+(\d+)$/gm)) stats[m[1]] = Number(m[2]);
} else {
  process.stderr.write(`measure.mjs: unknown mode '${mode}' (read, walk, lib, cli)\n`);
  process.exit(2);
}
process.stderr.write("\n" + JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024, packets, rows, stats }) + "\n");

/**
 * Reads a little-endian libpcap file in 8 MiB steps and steps over every record header; returns
 * the record count. Each step starts at the next record header (a few bytes are read twice).
 */
function walkRecords(path) {
  const fd = openSync(path, "r");
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let count = 0;
  let base = 0; // file offset of buf[0]
  let at = PCAP_HEADER_LEN;
  for (let filled; (filled = readSync(fd, buf, 0, buf.length, base)) >= at + RECORD_HEADER_LEN; ) {
    while (at + RECORD_HEADER_LEN <= filled) {
      at += RECORD_HEADER_LEN + buf.readUInt32LE(at + 8);
      count++;
    }
    base += at;
    at = 0;
  }
  closeSync(fd);
  return count;
}
