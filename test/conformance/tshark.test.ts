// Per-direction totals of Wireshark's TCP analysis flags, against tshark 4.0 (Debian's) on the
// kernel captures and ten Zeek traces. A tcp.stream lasts the whole file, while Zeek's timers and
// port-reuse rule may end a connection and start the next inside it: so each stream's totals
// are compared with the sum over the synfin connections that start inside that stream, direction
// by direction.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CapturedPacket } from "../../src/synth/capture.js";
import { Conversation } from "../../src/synth/conversation.js";
import { NS_PER_SECOND, pcapOf } from "../support/fixtures.js";
import { describe, expect, it } from "vitest";
import { analyze } from "../../src/node.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";
import { rowsOf } from "../support/rows.js";
import { ANALYSIS_FLAGS, KERNEL, ZEEK, tsharkStreams, tsharkVersion, type AnalysisFlag, type FrameStreams } from "../support/tshark.js";

const TSHARK = tsharkVersion();
const SKIP = SKIP_NOTE || (TSHARK ? "" : " (skipped: tshark is not installed; .ci/run installs it)");

const COMPARED = Object.keys(ANALYSIS_FLAGS) as AnalysisFlag[];

/** Where synfin's per-stream totals differ from tshark's, for the capture at `file`. */
async function differencesFromTshark(file: string): Promise<string[]> {
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
  return differences;
}

describe.skipIf(!HAS_CAPTURES || !TSHARK)(`Wireshark analysis totals against ${TSHARK ?? "tshark"}${SKIP}`, () => {
  for (const capture of [...KERNEL, ...ZEEK]) {
    it(capture, async () => {
      expect(await differencesFromTshark(join(CAPTURES, capture))).toEqual([]);
    });
  }
});

// Streams that outlive a row of ours: Wireshark's state carries over to the next row of the key.
const T0 = 1_700_000_000n * NS_PER_SECOND;
const MS = 1_000_000n;
const conv = (o: Partial<ConstructorParameters<typeof Conversation>[0]> = {}) =>
  new Conversation({ client: "10.0.0.1", server: "10.0.0.2", clientPort: 40000, serverPort: 80, startNs: T0, ...o });
const CARRIED: Record<string, CapturedPacket[]> = {
  "SYN, RST, SYN with the same ISN, RST, SYN, RST": conv().syn().rst("server", { withAck: true })
    .syn({ after: 1000n * MS }).rst("server", { withAck: true }).syn({ after: 1000n * MS }).rst("server", { withAck: true }).packets(),
  "data resent after the inactivity timer ended the row": conv().handshake().data("client", 100).ack("server").data("client", 100)
    .retransmit("client", { after: 360_000n * MS }).ack("server").data("server", 50).packets(),
  "a close, then ACKs and data after the row ended": conv().handshake().data("client", 100).ack("server").close("client")
    .ack("client", { after: 8_000n * MS }).data("server", 10).data("server", 10).packets(),
  "a closed connection, then a new ISN": [...conv().handshake().data("client", 100).ack("server").close("client").packets(),
    ...conv({ clientIsn: 7_000_000, serverIsn: 9_000_000, startNs: T0 + 2_000n * MS }).handshake().data("client", 100).ack("server").packets()],
};

describe.skipIf(!TSHARK)(`streams that outlive a row, against ${TSHARK ?? "tshark"}${TSHARK ? "" : " (skipped: tshark is not installed)"}`, () => {
  for (const [name, packets] of Object.entries(CARRIED)) {
    it(name, async () => {
      const dir = mkdtempSync(join(tmpdir(), "synfin-carry-"));
      const file = join(dir, "capture.pcap");
      try {
        writeFileSync(file, pcapOf(packets));
        expect((await analyze(file)).table.numRows).toBeGreaterThan(1);
        expect(await differencesFromTshark(file)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
