// The ABI between the AssemblyScript core and the TypeScript host: every enum and constant both
// compilers need. This file is compiled by both `asc` (assembly/ imports it) and `tsc`, so it holds
// plain enums only. Changing the meaning of any member means bumping `Abi.Version`.

export enum Abi {
  Version = 17,
  /** Rows in one output batch; the host turns each full batch into one Arrow RecordBatch. */
  BatchRows = 8192,
  /** Room past BatchRows in the output region: one frame may end two rows after the batch filled. */
  BatchSlack = 8,
  /** Bytes of history kept per connection (Zeek's history is log-scaled, so it stays short). */
  HistoryBytes = 40,
  /** Events in one output batch. */
  BatchEvents = 16384,
  /** Rows of the packets table in one output batch (a frame writes at most one). */
  BatchPackets = 8192,
  /** Packets whose sizes and directions `packetStats` keeps per connection (first_packets). */
  FirstPackets = 10,
  /** Bytes before each segment record of a cluster's map task: its frame's time and clock (i64 each). */
  StampBytes = 16,
  /** Bytes of a segment record before its two addresses (assembly/parallel/parts.ts mapSegment). */
  RecordFixed = 64,
}

/** Options passed to `reset()` as bit flags. */
export enum Flag {
  VerifyChecksums = 1,
  /** Write the events table (one row per lifecycle transition). */
  Events = 2,
  /** Every segment takes the exact step-by-step path (assembly/flow/path.ts): for tests. */
  ExactPathOnly = 4,
  /** Zeek's VLAN-aware connection key: the outer and inner 802.1Q tags are part of it (connKey "vlan"). */
  VlanKey = 8,
  /** Write the packets table (one row per TCP segment of a connection). */
  Packets = 16,
  /** Per-direction packet size and inter-arrival statistics in the rows (packetStats). */
  PacketStats = 32,
}

/** What `feed()` / `finish()` stopped on. */
export enum Status {
  /** Every whole record of the input was consumed; give more bytes (keep the unconsumed tail). */
  NeedMore = 0,
  /** The output batch is full: drain it, then call again with the unconsumed bytes. */
  OutputFull = 1,
  /** The input is not a capture we can read; see `errorCode()` and `errorOffset()`. */
  Error = 2,
  /** `finish()` emitted every remaining connection. */
  Done = 3,
}

/** Fatal input errors: the capture cannot be read on from this point. */
export enum ErrorCode {
  None = 0,
  /** The first bytes are neither a pcap magic nor a pcapng Section Header Block. */
  NotACapture = 1,
  /** The input ended inside the file header (or the input is empty). */
  TruncatedFileHeader = 2,
  /** A pcap record header claims more captured bytes than any capture can hold. */
  ImpossibleRecordLength = 3,
  /** A pcapng block length is below the minimum or not a multiple of 4. */
  BadBlockLength = 4,
  /** A pcapng block's trailing length differs from its leading length. */
  BlockLengthMismatch = 5,
  /** A pcapng Section Header Block with an unknown byte-order magic or major version. */
  BadSectionHeader = 6,
  /** wasm memory cannot hold `maxFlows` flow records within the memory limit. */
  OutOfMemory = 7,
  /** A record of a link type the capture filter cannot be applied to (as tcpdump refuses it). */
  FilterRefused = 8,
}

/**
 * Accounting: every record read lands in exactly one of the buckets `TcpPackets`..`UnknownInterface`,
 * `BadRecord` and `Filtered`, so they add up to `Records`. The remaining counters are informational.
 */
export enum Stat {
  /** Packet records read (pcap records; pcapng EPB, SPB and PB). */
  Records = 0,
  /** TCP segments that reached a connection's state machine. */
  TcpPackets = 1,
  /** IP packets carrying another protocol (UDP, ICMP, GRE, …). */
  NonTcpIp = 2,
  /** Frames that carry no IP packet (ARP, LLDP, other ethertypes). */
  NonIp = 3,
  /** IP fragments that are not a first fragment holding a whole TCP header. */
  IpFragment = 4,
  /** Frames cut (by the snap length) before the IP or TCP fixed header was whole. */
  TruncatedHeader = 5,
  /** Impossible header fields (IP version, header lengths, total length, TCP data offset). */
  BadHeader = 6,
  /** Frames of a link type the decoder does not handle. */
  UnsupportedLinkType = 7,
  /** Packets dropped for a bad IPv4 header, TCP or tunnel-carrying UDP checksum (only with VerifyChecksums). */
  BadChecksum = 8,
  /** Packet records cut short by the end of the file. */
  TruncatedRecord = 9,
  /** pcapng packet blocks naming an interface that no IDB declared. */
  UnknownInterface = 10,
  // --- informational, not part of the sum ---
  /** Bytes of input consumed. */
  Bytes = 11,
  /** Connections emitted. */
  Connections = 12,
  /** Non-packet pcapng blocks skipped (NRB, ISB, custom, unknown, …). */
  SkippedBlocks = 13,
  /** Sections (pcapng SHBs) or files (pcap) read. */
  Sections = 14,
  /** Largest number of connections alive at once. */
  PeakFlows = 15,
  /** Connections ended early to stay within maxFlows. */
  Evicted = 16,
  /** Bucket: pcapng packet blocks, well framed, whose fields do not fit inside the block. */
  BadRecord = 17,
  // --- damage: where framing broke, reading resumed at the next plausible record ---
  /** pcap records or pcapng blocks with an impossible length (pcap caplen; pcapng block length). */
  DamagedLength = 18,
  /** pcapng blocks whose trailing length differs from the leading one. */
  DamagedTrailer = 19,
  /** pcapng sections with an unknown byte order or version, skipped to the next section. */
  DamagedSection = 20,
  /** Bytes skipped while looking for the next plausible record after damage. */
  DamagedBytes = 21,
  /** Bucket: records the capture filter rejected (`filter`); the rest never saw them. */
  Filtered = 22,
  Count = 23,
}

/**
 * The compiled capture filter the host hands the core (src/filter/, assembly/filter.ts): a u32
 * count of entries, the entries (link-type key, first instruction, instruction count), then the
 * instructions, each classic BPF (Bpf below) with 32-bit jump offsets. All u32, little-endian.
 */
export enum FilterAbi {
  EntryBytes = 12,
  InstructionBytes = 16,
  /** The instruction count of an entry whose link type the filter cannot be applied to. */
  Refused = 0xffffffff,
  /** Added to the key of a BSD loopback link (null, 0) in a big-endian file or section. */
  BigEndianKey = 0x80000000,
  /** BPF scratch memory words (M[0]..M[15]). */
  ScratchWords = 16,
}

/** The classic BPF instructions the filter compiler emits (bpf.h's codes). */
export enum Bpf {
  LdImm = 0x00, LdW = 0x20, LdH = 0x28, LdB = 0x30, LdIndW = 0x40, LdIndH = 0x48, LdIndB = 0x50,
  LdMem = 0x60, LdLen = 0x80,
  LdxImm = 0x01, LdxMem = 0x61, LdxMsh = 0xb1,
  St = 0x02, Stx = 0x03,
  AddK = 0x04, SubK = 0x14, MulK = 0x24, DivK = 0x34, OrK = 0x44, AndK = 0x54, LshK = 0x64, RshK = 0x74, ModK = 0x94, XorK = 0xa4,
  AddX = 0x0c, SubX = 0x1c, MulX = 0x2c, DivX = 0x3c, OrX = 0x4c, AndX = 0x5c, LshX = 0x6c, RshX = 0x7c, ModX = 0x9c, XorX = 0xac,
  Neg = 0x84,
  Ja = 0x05, JeqK = 0x15, JgtK = 0x25, JgeK = 0x35, JsetK = 0x45,
  JeqX = 0x1d, JgtX = 0x2d, JgeX = 0x3d,
  RetK = 0x06,
  Tax = 0x07, Txa = 0x87,
}

/** Zeek's conn_state codes, in a fixed order (names in src/output/schema.ts). */
export enum ConnState {
  S0 = 0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH,
}

/** An endpoint's inferred RFC 9293 state at the end of the connection. */
export enum TcpState {
  UNKNOWN = 0, SYN_SENT, SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING,
  LAST_ACK, TIME_WAIT, CLOSED,
}

/** Who started the close. */
export enum Closer {
  None = 0, Orig, Resp, Both,
}

/** Why a connection's row was written. */
export enum EndReason {
  /** Both sides sent FIN. */
  Fin = 0,
  /** A RST ended it. */
  Rst,
  /** No packet for the inactivity timeout (Zeek's tcp_inactivity_timeout, 5 min). */
  IdleTimeout,
  /** An unanswered attempt expired (Zeek's tcp_attempt_delay, 5 s). */
  AttemptTimeout,
  /** A new SYN on the same 4-tuple started a new connection (Zeek's port reuse rule). */
  Reuse,
  /** The capture ended while the connection was still open. */
  Eof,
  /** Evicted to keep the number of live connections within maxFlows. */
  Evicted,
}

/** The outermost encapsulation a connection's first packet came in. */
export enum Tunnel {
  None = 0, Mpls, Pppoe, Pbb, FabricPath, VnTag, Gre, Erspan, Vxlan, Geneve, GtpU, Teredo, Ayiya, IpInIp,
}

/** Lifecycle transitions in the events table. */
export enum Event {
  /** A SYN (without ACK); every one, so retransmitted SYNs show. */
  Syn = 0,
  /** A SYN-ACK; every one. */
  SynAck,
  /** The originator's ACK of the SYN-ACK completed the handshake. */
  Established,
  /** The first segment with payload in this direction. */
  FirstData,
  /** This side's first FIN. */
  Fin,
  /** The peer acknowledged this side's FIN. */
  FinAcked,
  /** A RST; every one. */
  Rst,
  /** Both FINs acknowledged, or a RST: the connection is closed. */
  Closed,
  /** Zeek swapped originator and responder (history '^'): earlier directions are reversed. */
  Flip,
  /** The row ended: nothing for the inactivity timeout. */
  IdleTimeout,
  /** The row ended: an attempt unanswered for 5 s. */
  AttemptTimeout,
  /** The row ended: a new SYN on the same 4-tuple starts a new connection. */
  Reuse,
  /** The row ended: the input ended. */
  Eof,
  /** The row ended: evicted to stay within maxFlows. */
  Evicted,
  /**
   * An endpoint's state changed with no other event for the segment: a handshake completed again
   * after a reset, or a side first seen mid-stream.
   */
  State,
}

/** Output columns of the events table. */
export enum EventCol {
  /** i64 group */
  ConnId = 0, Ts, Packet,
  /** u8 group (indices from 0 again) */
  Direction = 0, Event, OrigState, RespState,
}

/** Output columns of the packets table. */
export enum PacketCol {
  /** i64 group */
  ConnId = 0, Ts, Packet, RttNs,
  /** u32 group (indices from 0 again); SackEdge0..7: left and right edge of up to 4 SACK blocks, relative */
  Seq = 0, Ack, SeqRaw, AckRaw, Len, Window, DupAckNum, SackEdge0, SackEdge1, SackEdge2, SackEdge3, SackEdge4, SackEdge5, SackEdge6, SackEdge7,
  /** u16 group */
  Present = 0, Analysis, WindowRaw,
  /** u8 group; SackBlocks: how many SACK blocks the segment carries (0: no SACK option) */
  Direction = 0, Flags, SackBlocks,
}

/** Bits of PacketCol.Present: which nullable u32 columns of a packets row hold a value. */
export enum PacketPresent {
  /** Len: Wireshark analysed the segment (it does not when the TCP header is short to it). */
  Analysed = 1,
  /** Ack: the ACK flag is set. */
  Ack = 2,
  /** DupAckNum: the segment is a duplicate ACK. */
  DupAckNum = 4,
}

/**
 * Wireshark's per-segment analysis flags (packet-tcp.c TCP_A_*), the bits of PacketCol.Analysis.
 * Retransmission here is the plain kind only; tshark shows tcp.analysis.retransmission on fast
 * and spurious retransmissions too.
 */
export enum TcpAnalysis {
  Retransmission = 0x0001,
  LostPacket = 0x0002,
  AckLostPacket = 0x0004,
  KeepAlive = 0x0008,
  DuplicateAck = 0x0010,
  ZeroWindow = 0x0020,
  ZeroWindowProbe = 0x0040,
  ZeroWindowProbeAck = 0x0080,
  KeepAliveAck = 0x0100,
  OutOfOrder = 0x0200,
  FastRetransmission = 0x0400,
  WindowUpdate = 0x0800,
  WindowFull = 0x1000,
  SpuriousRetransmission = 0x4000,
}

/** Output columns of 8-byte values (i64 timestamps use NullTime for null). */
export enum ColI64 {
  ConnId = 0, FirstPacket, Ts, LastTs, DurationNs, SynTs, SynAckTs, EstablishedTs,
  OrigFirstDataTs, RespFirstDataTs, OrigFinTs, RespFinTs, RstTs, ClosedTs,
  RttSynSynAck, RttSynAckAck,
  OrigPkts, RespPkts, OrigBytes, RespBytes, OrigIpBytes, RespIpBytes, MissedBytes,
  OrigRetransmits, RespRetransmits, OrigFastRetransmits, RespFastRetransmits,
  OrigSpuriousRetransmits, RespSpuriousRetransmits, OrigOutOfOrder, RespOutOfOrder,
  OrigLostSegments, RespLostSegments, OrigAckLostSegments, RespAckLostSegments,
  OrigDupAcks, RespDupAcks, OrigZeroWindows, RespZeroWindows,
  OrigZeroWindowProbes, RespZeroWindowProbes, OrigWindowFull, RespWindowFull,
  OrigKeepalives, RespKeepalives,
  OrigRttMin, OrigRttAvg, OrigRttMax, RespRttMin, RespRttAvg, RespRttMax,
  /** With Flag.PacketStats: sizes' mean and sample std as f64 bits (NaN: none), inter-arrival times in ns (null: none). */
  OrigSizeMean, OrigSizeStd, RespSizeMean, RespSizeStd,
  OrigIatMean, OrigIatStd, OrigIatMin, OrigIatMax, RespIatMean, RespIatStd, RespIatMin, RespIatMax,
  /**
   * Not in the schema: where the row was written, for merging partitions back into single-pass
   * order. EmitAt is the index of the frame being processed (i64 max at the end of the input);
   * EmitKey the firing timer's deadline (i64 max for rows the frame itself ended); EmitTie the
   * flow's first packet (for timers and the end of input) or the row's number within the frame.
   */
  EmitAt, EmitKey, EmitTie,
  Count,
}

/** Column groups of the output, as numbered by the core's `columnAddress` export. */
export enum Group { I64 = 0, U32 = 1, U16 = 2, U8 = 3, Bytes = 4 }

/** Output columns of 4-byte values. */
export enum ColU32 {
  OrigIsn = 0, RespIsn, Interface,
  /** With Flag.PacketStats (present: Present.OrigSizes, RespSizes). */
  OrigSizeMin, OrigSizeMax, RespSizeMin, RespSizeMax,
  Count,
}

/** Output columns of 2-byte values. */
export enum ColU16 {
  OrigPort = 0, RespPort, Vlan, InnerVlan, OrigMss, RespMss,
  /** Bit set of which nullable non-timestamp columns are present (see Present). */
  Present,
  Count,
}

/** Output columns of 1-byte values. */
export enum ColU8 {
  IpVersion = 0, ConnState, OrigState, RespState, Closer, EndReason, Completeness,
  OrigWscale, RespWscale, OrigSackOk, RespSackOk, OrigTsOk, RespTsOk, Ecn, Tunnel, HistoryLen,
  Count,
}

/** Bits of the ColU16.Present column. */
export enum Present {
  Vlan = 1, OrigMss = 2, RespMss = 4, OrigWscale = 8, RespWscale = 16, OrigIsn = 32, RespIsn = 64,
  Interface = 128, InnerVlan = 256,
  /** The side sent a packet: its size statistics are set (packetStats). */
  OrigSizes = 512, RespSizes = 1024,
}

/** Output columns of fixed-width byte strings. */
export enum ColBytes {
  /** 16 bytes; IPv4 addresses in the first 4. */
  OrigAddr = 0, RespAddr, History,
  /**
   * With Flag.PacketStats, Abi.FirstPackets × 4 bytes: each of the first packets as a u16 size
   * and a u16 direction (0 orig, 1 resp; 0xffff: no packet).
   */
  FirstPackets,
  Count,
}
