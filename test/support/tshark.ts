// Wireshark's per-packet tcp.analysis flags, totalled per tcp.stream and direction by running
// tshark (single pass, default preferences), for comparison with synfin's per-connection counts.

import { spawnSync } from "node:child_process";

/** synfin column suffix → tshark field. */
export const ANALYSIS_FLAGS = {
  retransmits: "tcp.analysis.retransmission",
  fast_retransmits: "tcp.analysis.fast_retransmission",
  spurious_retransmits: "tcp.analysis.spurious_retransmission",
  out_of_order: "tcp.analysis.out_of_order",
  lost_segments: "tcp.analysis.lost_segment",
  ack_lost_segments: "tcp.analysis.ack_lost_segment",
  dup_acks: "tcp.analysis.duplicate_ack",
  zero_windows: "tcp.analysis.zero_window",
  zero_window_probes: "tcp.analysis.zero_window_probe",
  window_full: "tcp.analysis.window_full",
  keepalives: "tcp.analysis.keep_alive",
} as const;
export type AnalysisFlag = keyof typeof ANALYSIS_FLAGS;

export interface StreamTotals {
  stream: number;
  /** Frame number (from 1) of the stream's first packet. */
  firstFrame: number;
  /** "addr:port" of the stream's first packet's sender. */
  firstSender: string;
  /** Totals per flag, keyed by "addr:port" of the sender. */
  bySender: Map<string, Record<AnalysisFlag, number>>;
}

export function tsharkVersion(): string | null {
  const p = spawnSync("tshark", ["--version"], { encoding: "utf8" });
  return p.status === 0 ? p.stdout.split("\n")[0]! : null;
}

function zero(): Record<AnalysisFlag, number> {
  return Object.fromEntries(Object.keys(ANALYSIS_FLAGS).map((k) => [k, 0])) as Record<AnalysisFlag, number>;
}

/** The tcp.stream of every TCP frame (by frame number), filled by tsharkStreams. */
export type FrameStreams = Map<number, number>;

export function tsharkStreams(file: string, frameStreams: FrameStreams = new Map()): Map<number, StreamTotals> {
  const flags = Object.keys(ANALYSIS_FLAGS) as AnalysisFlag[];
  const fields = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", ...flags.map((f) => ANALYSIS_FLAGS[f])];
  const args = ["-r", file, "-n", "-Y", "tcp", "-T", "fields", "-E", "separator=;", "-E", "occurrence=l", ...fields.flatMap((f) => ["-e", f])];
  const p = spawnSync("tshark", args, { encoding: "utf8", maxBuffer: 1 << 28 });
  if (p.status !== 0) throw new Error(`tshark failed on ${file}: ${p.stderr}`);
  const streams = new Map<number, StreamTotals>();
  for (const line of p.stdout.split("\n")) {
    if (!line) continue;
    const cells = line.split(";");
    const [frame, stream, ip4, ip6, port] = cells;
    // Tunnelled packets list the outer and inner addresses: the last occurrence is the inner one.
    const sender = `${ip6 || ip4}:${port}`;
    const id = Number(stream);
    frameStreams.set(Number(frame), id);
    let totals = streams.get(id);
    if (!totals) {
      totals = { stream: id, firstFrame: Number(frame), firstSender: sender, bySender: new Map() };
      streams.set(id, totals);
    }
    let counts = totals.bySender.get(sender);
    if (!counts) totals.bySender.set(sender, (counts = zero()));
    flags.forEach((flag, i) => { if (cells[5 + i]) counts![flag]++; });
  }
  return streams;
}
