// The connection table's Arrow schema: every column once, with its type, unit and meaning, and
// where the core writes it (src/core/abi.ts). Everything else (Arrow batches, NDJSON, CSV, docs/columns.md's
// schema table) is generated from this list.

import {
  Bool, Dictionary, Duration, Field, Float64, Int32, Int64, Int8, Schema, TimeUnit, Timestamp,
  Uint16, Uint32, Uint64, Uint8, Utf8, type DataType,
} from "apache-arrow";
import { ColBytes, ColI64, ColU16, ColU32, ColU8, ConnState, Closer, EndReason, Event, EventCol, PacketCol, PacketPresent, Present, TcpAnalysis, TcpState, Tunnel } from "../core/abi.js";

/** Where a column's values come from in the core's output batch. */
export type ColumnSource =
  | { kind: "timestamp"; col: ColI64 }
  | { kind: "duration"; col: ColI64 }
  | { kind: "seconds"; col: ColI64 }
  | { kind: "u64"; col: ColI64 }
  | { kind: "u32"; col: ColU32; present?: Present | PacketPresent }
  | { kind: "u16"; col: ColU16; present?: Present }
  | { kind: "u8"; col: ColU8; present?: Present }
  | { kind: "bool"; col: ColU8 }
  /** A bit of a u16 column, as a boolean. */
  | { kind: "flag"; col: ColU16; mask: number }
  | { kind: "enum"; col: ColU8; names: readonly string[]; nullCode?: number }
  | { kind: "address"; col: ColBytes }
  | { kind: "history" }
  | { kind: "community-id" }
  | { kind: "index"; col: ColI64 }
  /** An f64 stored in an i64 column's bits; NaN is null. */
  | { kind: "f64"; col: ColI64 }
  /** ColBytes.FirstPackets, as text. */
  | { kind: "first-packets" }
  /** The packets table's SACK blocks (PacketCol.SackBlocks, SackEdge0..7), as text. */
  | { kind: "sack" };

export interface ColumnDef {
  name: string;
  source: ColumnSource;
  /** Unit and meaning, for the docs. */
  doc: string;
}

const ts = (name: string, col: ColI64, doc: string): ColumnDef => ({ name, source: { kind: "timestamp", col }, doc });
const count = (name: string, col: ColI64, doc: string): ColumnDef => ({ name, source: { kind: "u64", col }, doc });
/** min, avg, max of a direction's data RTT samples (three consecutive core columns). */
const rttColumns = (side: string, first: ColI64, who: string, peer: string): ColumnDef[] =>
  (["min", "avg", "max"] as const).map((stat, i) => ({
    name: `${side}_rtt_${stat}`,
    source: { kind: "duration", col: (first + i) as ColI64 },
    doc: `${stat === "avg" ? "Mean" : stat === "min" ? "Smallest" : "Largest"} RTT of the ${who.toLowerCase()}'s data: from a segment to the ${peer}'s ACK covering it, at the capture point (ns; Karn's rule: one segment timed at a time, none that was retransmitted); null without a sample`,
  }));

/** A Wireshark analysis total for each direction (tshark 4.0's per-packet flags, counted). */
const analysisPair = (name: string, orig: ColI64, resp: ColI64, doc: string): ColumnDef[] => [
  count(`orig_${name}`, orig, `Originator ${doc}`),
  count(`resp_${name}`, resp, `Responder ${doc}`),
];

/** Names of the enums, indexed by their codes in src/core/abi.ts. */
export const CONN_STATE_NAMES = enumNames(ConnState);
export const TCP_STATE_NAMES = enumNames(TcpState);
export const CLOSER_NAMES = ["", "orig", "resp", "both"] as const;
export const TUNNEL_NAMES = ["", "mpls", "pppoe", "pbb", "fabricpath", "vntag", "gre", "erspan", "vxlan", "geneve", "gtpu", "teredo", "ayiya", "ipip"] as const;
export const EVENT_NAMES = enumNames(Event).map((n) => n.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase());
export const DIRECTION_NAMES = ["orig", "resp", ""] as const;
export const END_REASON_NAMES = ["fin", "rst", "idle_timeout", "attempt_timeout", "reuse", "eof", "evicted"] as const;

function enumNames(e: Record<string, string | number>): string[] {
  const names: string[] = [];
  for (const [k, v] of Object.entries(e)) if (typeof v === "number") names[v] = k;
  return names;
}

export const COLUMNS: readonly ColumnDef[] = [
  // identity
  count("conn_id", ColI64.ConnId, "Connection number, from 0, in order of first packet in the input; stable across runs"),
  { name: "community_id", source: { kind: "community-id" }, doc: "Community ID v1 flow hash (seed 0), `1:` + base64" },
  { name: "ip_version", source: { kind: "u8", col: ColU8.IpVersion }, doc: "4 or 6" },
  { name: "vlan", source: { kind: "u16", col: ColU16.Vlan, present: Present.Vlan }, doc: "Outermost 802.1Q/802.1ad VLAN id of the first packet; null when untagged. Part of the connection key only with connKey \"vlan\"" },
  { name: "inner_vlan", source: { kind: "u16", col: ColU16.InnerVlan, present: Present.InnerVlan }, doc: "VLAN id of the first packet's second tag (Q-in-Q; of a third or later, the last, as Zeek); null with fewer than two tags. Part of the key only with connKey \"vlan\"" },
  { name: "tunnel", source: { kind: "enum", col: ColU8.Tunnel, names: TUNNEL_NAMES, nullCode: Tunnel.None }, doc: "Outermost encapsulation of the first packet: mpls, pppoe, pbb, fabricpath, vntag, gre, erspan, vxlan, geneve, gtpu, teredo, ayiya, ipip; null when none" },
  { name: "orig_h", source: { kind: "address", col: ColBytes.OrigAddr }, doc: "Originator address (text)" },
  { name: "orig_p", source: { kind: "u16", col: ColU16.OrigPort }, doc: "Originator port" },
  { name: "resp_h", source: { kind: "address", col: ColBytes.RespAddr }, doc: "Responder address (text)" },
  { name: "resp_p", source: { kind: "u16", col: ColU16.RespPort }, doc: "Responder port" },
  // time
  ts("ts", ColI64.Ts, "First packet (UTC, ns)"),
  ts("last_ts", ColI64.LastTs, "Last packet of the connection, trailing ones included (UTC, ns)"),
  { name: "duration", source: { kind: "seconds", col: ColI64.DurationNs }, doc: "Zeek's duration: first packet to the last one before both sides closed (s)" },
  ts("syn_ts", ColI64.SynTs, "Originator's first SYN; null if not seen"),
  ts("synack_ts", ColI64.SynAckTs, "Responder's first SYN-ACK; null if not seen"),
  ts("established_ts", ColI64.EstablishedTs, "The originator's ACK that completes the three-way handshake; null if not seen"),
  ts("orig_first_data_ts", ColI64.OrigFirstDataTs, "First originator segment with payload; null if none"),
  ts("resp_first_data_ts", ColI64.RespFirstDataTs, "First responder segment with payload; null if none"),
  ts("orig_fin_ts", ColI64.OrigFinTs, "Originator's first FIN; null if none"),
  ts("resp_fin_ts", ColI64.RespFinTs, "Responder's first FIN; null if none"),
  ts("rst_ts", ColI64.RstTs, "First RST from either side; null if none"),
  ts("closed_ts", ColI64.ClosedTs, "When the connection closed: the ACK of the last FIN, or the first RST; null if it did not"),
  // handshake
  { name: "rtt_syn_synack", source: { kind: "duration", col: ColI64.RttSynSynAck }, doc: "SYN → SYN-ACK: capture point to responder and back (ns); null without both" },
  { name: "rtt_synack_ack", source: { kind: "duration", col: ColI64.RttSynAckAck }, doc: "SYN-ACK → ACK: capture point to originator and back (ns); null without both" },
  // state
  { name: "conn_state", source: { kind: "enum", col: ColU8.ConnState, names: CONN_STATE_NAMES }, doc: "Zeek's conn_state (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH)" },
  { name: "history", source: { kind: "history" }, doc: "Zeek's history string (upper case: originator); null when empty" },
  { name: "orig_state", source: { kind: "enum", col: ColU8.OrigState, names: TCP_STATE_NAMES }, doc: "Originator's inferred RFC 9293 state at the end" },
  { name: "resp_state", source: { kind: "enum", col: ColU8.RespState, names: TCP_STATE_NAMES }, doc: "Responder's inferred RFC 9293 state at the end" },
  { name: "closer", source: { kind: "enum", col: ColU8.Closer, names: CLOSER_NAMES, nullCode: Closer.None }, doc: "Who closed first: orig, resp, both (simultaneous close); null if nobody closed" },
  { name: "end_reason", source: { kind: "enum", col: ColU8.EndReason, names: END_REASON_NAMES }, doc: "Why the row ended: fin, rst, idle_timeout, attempt_timeout, reuse, eof, evicted (to stay within maxFlows)" },
  { name: "completeness", source: { kind: "u8", col: ColU8.Completeness }, doc: "Wireshark's tcp.completeness bitmask (1 SYN, 2 SYN-ACK, 4 ACK, 8 DATA, 16 FIN, 32 RST)" },
  // volume
  count("orig_pkts", ColI64.OrigPkts, "Packets from the originator"),
  count("resp_pkts", ColI64.RespPkts, "Packets from the responder"),
  count("orig_bytes", ColI64.OrigBytes, "Originator payload bytes, from sequence numbers (as Zeek)"),
  count("resp_bytes", ColI64.RespBytes, "Responder payload bytes, from sequence numbers (as Zeek)"),
  count("orig_ip_bytes", ColI64.OrigIpBytes, "Originator IP-layer bytes (IP total length)"),
  count("resp_ip_bytes", ColI64.RespIpBytes, "Responder IP-layer bytes (IP total length)"),
  count("missed_bytes", ColI64.MissedBytes, "Bytes in sequence gaps never seen (as Zeek's missed_bytes)"),
  // quality
  ...analysisPair("retransmits", ColI64.OrigRetransmits, ColI64.RespRetransmits, "segments Wireshark marks tcp.analysis.retransmission (fast and spurious ones included)"),
  ...analysisPair("fast_retransmits", ColI64.OrigFastRetransmits, ColI64.RespFastRetransmits, "tcp.analysis.fast_retransmission: within 20 ms of the peer's last segment, after two duplicate ACKs for it"),
  ...analysisPair("spurious_retransmits", ColI64.OrigSpuriousRetransmits, ColI64.RespSpuriousRetransmits, "tcp.analysis.spurious_retransmission: data the peer had already acknowledged"),
  ...analysisPair("out_of_order", ColI64.OrigOutOfOrder, ColI64.RespOutOfOrder, "tcp.analysis.out_of_order: below the highest sequence, within the initial RTT (or 3 ms) of it"),
  ...analysisPair("lost_segments", ColI64.OrigLostSegments, ColI64.RespLostSegments, "tcp.analysis.lost_segment: a gap before this segment (previous segment not captured)"),
  ...analysisPair("ack_lost_segments", ColI64.OrigAckLostSegments, ColI64.RespAckLostSegments, "tcp.analysis.ack_lost_segment: ACKs of data never seen"),
  ...analysisPair("dup_acks", ColI64.OrigDupAcks, ColI64.RespDupAcks, "tcp.analysis.duplicate_ack"),
  ...analysisPair("zero_windows", ColI64.OrigZeroWindows, ColI64.RespZeroWindows, "tcp.analysis.zero_window: a zero window advertised (no SYN/FIN/RST)"),
  ...analysisPair("zero_window_probes", ColI64.OrigZeroWindowProbes, ColI64.RespZeroWindowProbes, "tcp.analysis.zero_window_probe"),
  ...analysisPair("window_full", ColI64.OrigWindowFull, ColI64.RespWindowFull, "tcp.analysis.window_full: a segment filling the peer's window exactly"),
  ...analysisPair("keepalives", ColI64.OrigKeepalives, ColI64.RespKeepalives, "tcp.analysis.keep_alive: 0 or 1 byte at next sequence − 1"),
  ...rttColumns("orig", ColI64.OrigRttMin, "Originator", "responder"),
  ...rttColumns("resp", ColI64.RespRttMin, "Responder", "originator"),
  // options
  { name: "orig_mss", source: { kind: "u16", col: ColU16.OrigMss, present: Present.OrigMss }, doc: "MSS option of the originator's SYN (bytes); null if absent" },
  { name: "resp_mss", source: { kind: "u16", col: ColU16.RespMss, present: Present.RespMss }, doc: "MSS option of the responder's SYN-ACK (bytes); null if absent" },
  { name: "orig_wscale", source: { kind: "u8", col: ColU8.OrigWscale, present: Present.OrigWscale }, doc: "Window scale shift of the originator's SYN; null if absent" },
  { name: "resp_wscale", source: { kind: "u8", col: ColU8.RespWscale, present: Present.RespWscale }, doc: "Window scale shift of the responder's SYN-ACK; null if absent" },
  { name: "orig_sack_ok", source: { kind: "bool", col: ColU8.OrigSackOk }, doc: "SACK permitted on the originator's SYN" },
  { name: "resp_sack_ok", source: { kind: "bool", col: ColU8.RespSackOk }, doc: "SACK permitted on the responder's SYN-ACK" },
  { name: "orig_ts_ok", source: { kind: "bool", col: ColU8.OrigTsOk }, doc: "Timestamps option on the originator's SYN" },
  { name: "resp_ts_ok", source: { kind: "bool", col: ColU8.RespTsOk }, doc: "Timestamps option on the responder's SYN-ACK" },
  { name: "ecn", source: { kind: "bool", col: ColU8.Ecn }, doc: "ECN negotiated (SYN with ECE+CWR answered by SYN-ACK with ECE)" },
  { name: "orig_isn", source: { kind: "u32", col: ColU32.OrigIsn, present: Present.OrigIsn }, doc: "Originator's initial sequence number; null without its SYN" },
  { name: "resp_isn", source: { kind: "u32", col: ColU32.RespIsn, present: Present.RespIsn }, doc: "Responder's initial sequence number; null without its SYN-ACK" },
  // provenance
  count("first_packet", ColI64.FirstPacket, "Index (from 0) of the connection's first packet among all records of the input"),
  { name: "interface", source: { kind: "u32", col: ColU32.Interface, present: Present.Interface }, doc: "pcapng interface id; null for pcap" },
];

/** The events table (option `events`): one row per lifecycle transition of a connection. */
export const EVENT_COLUMNS: readonly ColumnDef[] = [
  { name: "conn_id", source: { kind: "u64", col: EventCol.ConnId as number as ColI64 }, doc: "The connection (its conn_id in the connection table)" },
  { name: "ts", source: { kind: "timestamp", col: EventCol.Ts as number as ColI64 }, doc: "When (UTC, ns): the packet's time, or the time a timer ran out" },
  { name: "packet", source: { kind: "index", col: EventCol.Packet as number as ColI64 }, doc: "Index of the packet that caused it among all records of the input; null for timers and the end of input" },
  { name: "direction", source: { kind: "enum", col: EventCol.Direction as number as ColU8, names: DIRECTION_NAMES, nullCode: 2 }, doc: "Sender of that packet: orig or resp, as the roles stood then (see FLIP); null when no packet" },
  { name: "event", source: { kind: "enum", col: EventCol.Event as number as ColU8, names: EVENT_NAMES }, doc: "SYN, SYN_ACK, ESTABLISHED, FIRST_DATA, FIN, FIN_ACKED, RST, CLOSED, FLIP, IDLE_TIMEOUT, ATTEMPT_TIMEOUT, REUSE, EOF, EVICTED, STATE (an endpoint's state changed with no other event)" },
  { name: "orig_state", source: { kind: "enum", col: EventCol.OrigState as number as ColU8, names: TCP_STATE_NAMES }, doc: "Originator's inferred RFC 9293 state after the event" },
  { name: "resp_state", source: { kind: "enum", col: EventCol.RespState as number as ColU8, names: TCP_STATE_NAMES }, doc: "Responder's inferred RFC 9293 state after the event" },
];

const packetI64 = (col: PacketCol) => col as number as ColI64;
const packetU32 = (col: PacketCol) => col as number as ColU32;
const analysisFlag = (name: string, mask: number, doc: string): ColumnDef =>
  ({ name, source: { kind: "flag", col: PacketCol.Analysis as number as ColU16, mask }, doc: `${doc} (tshark: tcp.analysis.${name})` });

/** The packets table's columns (one row per TCP segment of a connection; docs/columns.md, "Packets"). */
export const PACKET_COLUMNS: readonly ColumnDef[] = [
  { name: "conn_id", source: { kind: "u64", col: packetI64(PacketCol.ConnId) }, doc: "The connection (its conn_id in the connection table)" },
  { name: "packet", source: { kind: "index", col: packetI64(PacketCol.Packet) }, doc: "Index of the packet among all records of the input, from 0 (tshark's frame.number − 1)" },
  { name: "ts", source: { kind: "timestamp", col: packetI64(PacketCol.Ts) }, doc: "The packet's time (UTC, ns)" },
  { name: "direction", source: { kind: "enum", col: PacketCol.Direction as number as ColU8, names: DIRECTION_NAMES }, doc: "Sender: orig or resp, as the roles stood then (Zeek may flip them later; the events table says when)" },
  { name: "seq", source: { kind: "u32", col: packetU32(PacketCol.Seq) }, doc: "Sequence number relative to the sender's base in Wireshark's stream (tshark: tcp.seq); as sent for a segment Wireshark does not analyse (its TCP header reaches into what Wireshark takes for a link trailer), as tshark shows it" },
  { name: "ack", source: { kind: "u32", col: packetU32(PacketCol.Ack), present: PacketPresent.Ack }, doc: "Acknowledgment number relative to the peer's base (tshark: tcp.ack); null without the ACK flag (tshark then shows the field as sent: ack_raw); as sent for a segment Wireshark does not analyse" },
  { name: "seq_raw", source: { kind: "u32", col: packetU32(PacketCol.SeqRaw) }, doc: "Sequence number as sent (tshark: tcp.seq_raw)" },
  { name: "ack_raw", source: { kind: "u32", col: packetU32(PacketCol.AckRaw) }, doc: "Acknowledgment number field as sent, also without the ACK flag" },
  { name: "len", source: { kind: "u32", col: packetU32(PacketCol.Len), present: PacketPresent.Analysed }, doc: "Payload bytes from the IP length (tshark: tcp.len), also when the capture cut them; null for a segment Wireshark does not analyse" },
  { name: "window", source: { kind: "u32", col: packetU32(PacketCol.Window) }, doc: "Receive window in bytes, scaled by the sender's window scale once both SYNs set it (never a SYN's) (tshark: tcp.window_size)" },
  { name: "window_raw", source: { kind: "u16", col: PacketCol.WindowRaw as number as ColU16 }, doc: "Window field as sent (tshark: tcp.window_size_value)" },
  { name: "flags", source: { kind: "u8", col: PacketCol.Flags as number as ColU8 }, doc: "TCP flags byte: CWR 0x80, ECE 0x40, URG 0x20, ACK 0x10, PSH 0x08, RST 0x04, SYN 0x02, FIN 0x01" },
  { name: "sack", source: { kind: "sack" }, doc: "The SACK option's blocks, as left-right edge pairs relative to the peer's base like ack, comma-separated (\"1449-2897,4345-5793\"; tshark: tcp.options.sack_le and sack_re; at most 4); null without a SACK option" },
  analysisFlag("retransmission", TcpAnalysis.Retransmission | TcpAnalysis.FastRetransmission | TcpAnalysis.SpuriousRetransmission, "A retransmission, of any kind: also set with fast_retransmission and spurious_retransmission, as tshark shows it"),
  analysisFlag("fast_retransmission", TcpAnalysis.FastRetransmission, "Resends what two or more duplicate ACKs asked for, within 20 ms of the last"),
  analysisFlag("spurious_retransmission", TcpAnalysis.SpuriousRetransmission, "Resends data the receiver had already ACKed"),
  analysisFlag("out_of_order", TcpAnalysis.OutOfOrder, "Below the next expected sequence number, within the stream's first RTT (3 ms without one) of the segment that set it"),
  analysisFlag("lost_segment", TcpAnalysis.LostPacket, "Above the next expected sequence number: the capture missed data before it"),
  analysisFlag("ack_lost_segment", TcpAnalysis.AckLostPacket, "ACKs data the capture never saw (\"ACKed unseen segment\")"),
  analysisFlag("duplicate_ack", TcpAnalysis.DuplicateAck, "A pure ACK repeating the last ACK and window"),
  { name: "duplicate_ack_num", source: { kind: "u32", col: packetU32(PacketCol.DupAckNum), present: PacketPresent.DupAckNum }, doc: "Which duplicate of its ACK this is, from 1 (tshark: tcp.analysis.duplicate_ack_num); null for other segments" },
  analysisFlag("zero_window", TcpAnalysis.ZeroWindow, "Advertises a zero window"),
  analysisFlag("zero_window_probe", TcpAnalysis.ZeroWindowProbe, "One byte at the next sequence number into the peer's zero window"),
  analysisFlag("zero_window_probe_ack", TcpAnalysis.ZeroWindowProbeAck, "Answers a zero-window probe"),
  analysisFlag("keep_alive", TcpAnalysis.KeepAlive, "At most one byte, one below the next sequence number"),
  analysisFlag("keep_alive_ack", TcpAnalysis.KeepAliveAck, "Answers a keep-alive"),
  analysisFlag("window_full", TcpAnalysis.WindowFull, "Fills the peer's advertised window to its last byte"),
  analysisFlag("window_update", TcpAnalysis.WindowUpdate, "A pure ACK that only changes the window"),
  { name: "rtt", source: { kind: "duration", col: packetI64(PacketCol.RttNs) }, doc: "The data RTT sample this segment's ACK completed, as the connection's rtt columns count them (Karn's rule: one segment timed at a time, none that was retransmitted; ns); null when it completed none" },
];

const sizeStats = (side: "orig" | "resp", who: string): ColumnDef[] => {
  const o = side === "orig";
  return [
    { name: `${side}_size_mean`, source: { kind: "f64", col: o ? ColI64.OrigSizeMean : ColI64.RespSizeMean }, doc: `Mean IP packet size of the ${who}'s packets (bytes; the IP header's length: the packets orig_ip_bytes/resp_ip_bytes add up); null without packets` },
    { name: `${side}_size_std`, source: { kind: "f64", col: o ? ColI64.OrigSizeStd : ColI64.RespSizeStd }, doc: `Sample standard deviation of those sizes (n − 1); null below two packets` },
    { name: `${side}_size_min`, source: { kind: "u32", col: o ? ColU32.OrigSizeMin : ColU32.RespSizeMin, present: o ? Present.OrigSizes : Present.RespSizes }, doc: "Smallest of those sizes; null without packets" },
    { name: `${side}_size_max`, source: { kind: "u32", col: o ? ColU32.OrigSizeMax : ColU32.RespSizeMax, present: o ? Present.OrigSizes : Present.RespSizes }, doc: "Largest of those sizes; null without packets" },
  ];
};
const iatStats = (side: "orig" | "resp", who: string): ColumnDef[] => {
  const o = side === "orig";
  const col = (orig: ColI64, resp: ColI64) => (o ? orig : resp);
  return [
    { name: `${side}_iat_mean`, source: { kind: "duration", col: col(ColI64.OrigIatMean, ColI64.RespIatMean) }, doc: `Mean time between consecutive packets of the ${who}, in capture order (ns, rounded); null below two packets` },
    { name: `${side}_iat_std`, source: { kind: "duration", col: col(ColI64.OrigIatStd, ColI64.RespIatStd) }, doc: "Sample standard deviation of those times (n − 1; ns, rounded); null below three packets" },
    { name: `${side}_iat_min`, source: { kind: "duration", col: col(ColI64.OrigIatMin, ColI64.RespIatMin) }, doc: "Shortest of those times (negative when a packet is stamped before the one captured before it); null below two packets" },
    { name: `${side}_iat_max`, source: { kind: "duration", col: col(ColI64.OrigIatMax, ColI64.RespIatMax) }, doc: "Longest of those times; null below two packets" },
  ];
};

/**
 * The columns `packetStats` adds after the connection table's (nfstream/CICFlowMeter-style flow
 * features, per direction as the roles stand at the row's end, over the packets the row counts).
 */
export const PACKET_STATS_COLUMNS: readonly ColumnDef[] = [
  ...sizeStats("orig", "originator"), ...sizeStats("resp", "responder"),
  ...iatStats("orig", "originator"), ...iatStats("resp", "responder"),
  { name: "first_packets", source: { kind: "first-packets" }, doc: "The connection's first 10 packets (fewer if it has fewer), in capture order, as their IP sizes, positive from the originator and negative from the responder, comma-separated: \"74,-74,66,-1514\"" },
];

/** Arrow dictionaries are keyed by id; these are fixed for the life of the schema. */
export const DICT_ID = { connState: 0, origState: 1, respState: 2, closer: 3, endReason: 4, history: 5, tunnel: 6, direction: 7, event: 8 } as const;

function dictionaryId(name: string): number {
  if (name === "conn_state") return DICT_ID.connState;
  if (name === "orig_state") return DICT_ID.origState;
  if (name === "resp_state") return DICT_ID.respState;
  if (name === "closer") return DICT_ID.closer;
  if (name === "end_reason") return DICT_ID.endReason;
  if (name === "tunnel") return DICT_ID.tunnel;
  if (name === "direction") return DICT_ID.direction;
  if (name === "event") return DICT_ID.event;
  return DICT_ID.history;
}

export function arrowType(def: ColumnDef): DataType {
  const s = def.source;
  switch (s.kind) {
    case "timestamp": return new Timestamp(TimeUnit.NANOSECOND, "UTC");
    case "index": return new Int64();
    case "duration": return new Duration(TimeUnit.NANOSECOND);
    case "seconds":
    case "f64": return new Float64();
    case "u64": return new Uint64();
    case "u32": return new Uint32();
    case "u16": return new Uint16();
    case "u8": return new Uint8();
    case "bool":
    case "flag": return new Bool();
    case "enum": return new Dictionary(new Utf8(), new Int8(), dictionaryId(def.name));
    case "history": return new Dictionary(new Utf8(), new Int32(), DICT_ID.history);
    case "address":
    case "community-id":
    case "first-packets":
    case "sack": return new Utf8();
  }
}

export function isNullable(def: ColumnDef): boolean {
  const s = def.source;
  if (s.kind === "timestamp" || s.kind === "duration" || s.kind === "history" || s.kind === "index" || s.kind === "f64" || s.kind === "sack") return true;
  if (s.kind === "enum") return s.nullCode !== undefined;
  return "present" in s && s.present !== undefined;
}

export const SCHEMA = new Schema(COLUMNS.map((c) => new Field(c.name, arrowType(c), isNullable(c))));
export const EVENT_SCHEMA = new Schema(EVENT_COLUMNS.map((c) => new Field(c.name, arrowType(c), isNullable(c))));
/** The connection table with the packetStats columns after its own. */
export const STATS_COLUMNS: readonly ColumnDef[] = [...COLUMNS, ...PACKET_STATS_COLUMNS];
export const STATS_SCHEMA = new Schema(STATS_COLUMNS.map((c) => new Field(c.name, arrowType(c), isNullable(c))));
export const PACKET_SCHEMA = new Schema(PACKET_COLUMNS.map((c) => new Field(c.name, arrowType(c), isNullable(c))));
