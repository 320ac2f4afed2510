// `npm start`: writes a small demo capture with synfin's own synthesizer (seeded, so the same
// every time) under the OS's temporary directory, never in the checkout, and runs the synfin
// command on it.

import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writePcap } from "../synth/capture.js";
import { LINKTYPE } from "../synth/packet.js";
import { synthPackets } from "../synth/synth.js";
import { main } from "./command.js";

const DEMO_CONNECTIONS = 300;
const dir = join(tmpdir(), "synfin-demo");
const path = join(dir, "demo.pcap");
mkdirSync(dir, { recursive: true });
writeFileSync(path, writePcap(synthPackets({ seed: 2026, connections: DEMO_CONNECTIONS, concurrency: 32 }), { linkType: LINKTYPE.ETHERNET }));
process.stdout.write(`Wrote ${path} (${DEMO_CONNECTIONS} synthetic connections); analysing it:\n\n`);
process.exitCode = await main([path, ...process.argv.slice(2)]);
