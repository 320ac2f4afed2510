// Per-direction totals of Wireshark's TCP analysis flags, against tshark 4.0 (Debian's) on the
// kernel captures and ten Zeek traces. A tcp.stream lasts the whole file, while Zeek's timers and
// port-reuse rule may end a connection and start the next inside it: so each stream's totals
// are compared with the sum over the synfin connections that start inside that stream, direction
// by direction.

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { rowsOf } from "../support/rows.js";
import { ANALYSIS_FLAGS, tsharkStreams, tsharkVersion, type AnalysisFlag, type FrameStreams } from "../support/tshark.js";

const TSHARK = HAS_CAPTURES ? tsharkVersion() : null;
const SKIP = SKIP_NOTE || (TSHARK ? "" : " (skipped: tshark is not installed; .ci/run installs it)");

const COMPARED = Object.keys(ANALYSIS_FLAGS) as AnalysisFlag[];

const KERNEL = ["sf_client_close", "sf_server_close", "rej", "s0", "rsto", "rstr", "ipv6", "many", "loss"].flatMap((s) =>
  [".pcap", ".pcapng", ".ns.pcap", ".snap96.pcap"].map((v) => join("kernel", s + v)));
/** The Zeek traces where tshark raises the most analysis flags. */
const ZEEK = [
  "pppoe-over-qinq.pcap", "ssh.pcap", "cwd-navigation.pcap", "ssh.client-side-half-duplex.pcap", "ctu-64702-888.pcap",
  "modbus-and-non-modbus-p502.pcap", "connect-with-smtp.pcap", "miss_end_data.pcap", "fin_retransmission.pcap", "no_crlf.pcap",
].map((t) => join("zeek", t));

describe.skipIf(!HAS_CAPTURES || !TSHARK)(`Wireshark analysis totals against ${TSHARK ?? "tshark"}${SKIP}`, () => {
  for (const capture of [...KERNEL, ...ZEEK]) {
    it(capture, async () => {
      const file = join(CAPTURES, capture);
      const frameStreams: FrameStreams = new Map();
      const streams = tsharkStreams(file, frameStreams);
      const rows = rowsOf((await analyze(file)).table);
      const ours = new Map<number, Map<string, Record<AnalysisFlag, number>>>();
      const differences: string[] = [];
      for (const row of rows) {
        const stream = frameStreams.get((row.first_packet as number) + 1);
        if (stream === undefined) { differences.push(`conn ${row.conn_id}: frame ${(row.first_packet as number) + 1} is in no tcp.stream`); continue; }
        const bySender = ours.get(stream) ?? new Map<string, Record<AnalysisFlag, number>>();
        ours.set(stream, bySender);
        for (const side of ["orig", "resp"] as const) {
          const sender = `${row[`${side}_h`]}:${row[`${side}_p`]}`;
          const totals = bySender.get(sender) ?? (Object.fromEntries(COMPARED.map((f) => [f, 0])) as Record<AnalysisFlag, number>);
          for (const flag of COMPARED) totals[flag] += row[`${side}_${flag}`] as number;
          bySender.set(sender, totals);
        }
      }
      for (const [id, stream] of streams) {
        const senders = new Set([...stream.bySender.keys(), ...(ours.get(id)?.keys() ?? [])]);
        for (const sender of senders) {
          for (const flag of COMPARED) {
            const want = stream.bySender.get(sender)?.[flag] ?? 0;
            const got = ours.get(id)?.get(sender)?.[flag] ?? 0;
            if (got !== want) differences.push(`stream ${id} ${sender} ${flag}: synfin ${got}, tshark ${want}`);
          }
        }
      }
      expect(differences).toEqual([]);
    });
  }
});
