// Wireshark's per-packet tcp.analysis flags, totalled per tcp.stream and direction by running
// tshark (single pass, default preferences), for comparison with synfin's per-connection counts.

import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** The kernel captures compared with tshark: every scenario in its four variants. */
export const KERNEL = ["sf_client_close", "sf_server_close", "rej", "s0", "rsto", "rstr", "ipv6", "many", "loss"].flatMap((s) =>
  [".pcap", ".pcapng", ".ns.pcap", ".snap96.pcap"].map((v) => join("kernel", s + v)));
/** The Zeek traces where tshark raises the most analysis flags. */
export const ZEEK = [
  "pppoe-over-qinq.pcap", "ssh.pcap", "cwd-navigation.pcap", "ssh.client-side-half-duplex.pcap", "ctu-64702-888.pcap",
  "modbus-and-non-modbus-p502.pcap", "connect-with-smtp.pcap", "miss_end_data.pcap", "fin_retransmission.pcap", "no_crlf.pcap",
  // FabricPath frames whose TCP header reaches into what Wireshark takes for the FCS; the same
  // packets on three VLAN stacks (one tcp.stream, one connection by default).
  "cisco-fabric-path.pcap", "vlan-collisions.pcap",
].map((t) => join("zeek", t));

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

/** What tshark shows of one TCP segment (tcp.* fields of the innermost TCP header). */
export interface TsharkSegment {
  frame: number;
  seq: number | null;
  ack: number | null;
  len: number | null;
  window: number | null;
  /** The tcp.analysis.* flags present in the frame, by field name without the prefix. */
  flags: Set<string>;
  dupAckNum: number | null;
  /** SACK blocks, relative, as "le-re,le-re" (tcp.options.sack_le, sack_re); null without. */
  sack: string | null;
}

/** The per-segment analysis fields the packets table has, as tshark names them (tcp.analysis.*). */
export const SEGMENT_FLAGS = [
  "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order", "lost_segment", "ack_lost_segment",
  "duplicate_ack", "zero_window", "zero_window_probe", "zero_window_probe_ack", "keep_alive", "keep_alive_ack",
  "window_full", "window_update",
] as const;

/**
 * Every frame tshark dissects as a TCP segment of a connection, by frame number: frames whose TCP
 * header is quoted inside an ICMP error are left out, and so are frames with two TCP headers (TCP
 * inside a tunnel over TCP), whose fields cannot be told apart in `-T fields` output; `skipped`
 * counts those.
 */
export function tsharkSegments(file: string): { segments: Map<number, TsharkSegment>; skipped: number } {
  const fields = ["frame.number", "frame.protocols", "tcp.seq", "tcp.ack", "tcp.len", "tcp.window_size", "tcp.analysis.duplicate_ack_num",
    ...SEGMENT_FLAGS.map((f) => `tcp.analysis.${f}`), "tcp.options.sack_le", "tcp.options.sack_re"];
  const args = ["-r", file, "-n", "-Y", "tcp", "-T", "fields", "-E", "separator=;", "-E", "occurrence=a", "-E", "aggregator=|",
    "-o", "tcp.analyze_sequence_numbers:TRUE", "-o", "tcp.relative_sequence_numbers:TRUE", ...fields.flatMap((f) => ["-e", f])];
  const p = spawnSync("tshark", args, { encoding: "utf8", maxBuffer: 1 << 28 });
  if (p.status !== 0) throw new Error(`tshark failed on ${file}: ${p.stderr}`);
  const segments = new Map<number, TsharkSegment>();
  let skipped = 0;
  const number = (cell: string | undefined) => (cell ? Number(cell.split("|")[0]) : null);
  for (const line of p.stdout.split("\n")) {
    if (!line) continue;
    const cells = line.split(";");
    const layers = cells[1]!.split(":");
    const tcpLayers = layers.filter((l) => l === "tcp").length;
    const firstTcp = layers.indexOf("tcp");
    if (tcpLayers !== 1 || layers.slice(0, firstTcp).some((l) => l === "icmp" || l === "icmpv6")) { skipped++; continue; }
    const flags = new Set<string>();
    SEGMENT_FLAGS.forEach((f, i) => { if (cells[7 + i]) flags.add(f); });
    const [le, re] = [cells[7 + SEGMENT_FLAGS.length], cells[8 + SEGMENT_FLAGS.length]].map((c) => (c ? c.split("|") : []));
    segments.set(Number(cells[0]), {
      frame: Number(cells[0]), seq: number(cells[2]), ack: number(cells[3]), len: number(cells[4]), window: number(cells[5]),
      flags, dupAckNum: number(cells[6]), sack: le!.length === 0 ? null : le!.map((l, i) => `${l}-${re![i]}`).join(","),
    });
  }
  return { segments, skipped };
}
