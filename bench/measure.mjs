// One measured process for the benchmarks: `read FILE` (a plain fs.read loop into one reused
// buffer) or `cli ARGS…` (the synfin command). Reports peak RSS and packets as JSON on stderr.

import { openSync, readSync, closeSync } from "node:fs";

const [mode, ...args] = process.argv.slice(2);
let packets = 0;
const stats = {};
if (mode === "read") {
  const fd = openSync(args[0], "r");
  const buf = new Uint8Array(8 << 20);
  let position = 0;
  for (let n; (n = readSync(fd, buf, 0, buf.length, position)) > 0; ) position += n;
  closeSync(fd);
} else {
  const { main } = await import("../dist/command.js");
  const write = process.stderr.write.bind(process.stderr);
  let captured = "";
  process.stderr.write = (chunk, ...rest) => { captured += chunk; return true; };
  const code = await main(args);
  process.stderr.write = write;
  if (code !== 0) { process.stderr.write(captured); process.exit(code); }
  packets = Number(/= records\s+(\d+)/.exec(captured)?.[1] ?? 0);
  for (const m of captured.matchAll(/^(\w+)\s+(\d+)$/gm)) stats[m[1]] = Number(m[2]);
}
process.stderr.write("\n" + JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024, packets, stats }) + "\n");
