// What users of the package see, in one module that imports nothing of synfin's internals (its
// declarations are what a consumer's compiler reads): the options and results of `analyze` and
// `connections`, the accounting, the inputs, and the rows' types. The column types are checked
// against the schema (src/output/schema.ts) by test/schema.test.ts.

import type {
  Bool, Dictionary, DurationNanosecond, Float64, Int32, Int64, Int8, RecordBatch, StructRowProxy, Table,
  TimestampNanosecond, Uint16, Uint32, Uint64, Uint8, Utf8,
} from "apache-arrow";

/** Options of `analyze` and `connections`. */
export interface AnalyzeOptions {
  /**
   * What makes two packets one connection: "five-tuple" (the default, as Zeek's default key and
   * Wireshark's tcp.stream: addresses and ports; VLAN tags are not part of it) or "vlan" (Zeek's
   * conn_key/vlan_fivetuple: the outer and inner 802.1Q tags too, a tag with id 0 counting as none).
   */
  connKey?: "five-tuple" | "vlan";
  /**
   * A capture filter in tcpdump's language (pcap-filter(7); docs/filters.md lists the part synfin
   * implements), e.g. "host 10.0.0.1 and tcp port 443". Records it rejects are counted in
   * `stats.filtered` and are otherwise as if absent: the rows are those of `tcpdump -r FILE -w -
   * 'EXPR'`. A bad expression throws SynfinError BAD_FILTER naming the position.
   */
  filter?: string;
  /** Verify IPv4 header and TCP checksums and drop bad packets, as Zeek does without -C. Default false. */
  verifyChecksums?: boolean;
  /** Bytes read per step into wasm memory: 64 KiB (less is read as 64 KiB) to 256 MiB. Default 8 MiB. */
  chunkSize?: number;
  /** Called after each read with the bytes read so far. */
  onProgress?: (progress: Progress) => void;
  /**
   * Most connections tracked at once; beyond it the least recently active connection is ended
   * (unanswered attempts first) with end_reason "evicted". Default 500,000 (about 1 GB).
   */
  maxFlows?: number;
  /**
   * Bytes of wasm memory the core may use (its WebAssembly.Memory maximum). Going past it is a
   * SynfinError OUT_OF_MEMORY, never a crash. Default 4 GiB (wasm32's limit); maxFlows is what
   * bounds memory by default.
   */
  memoryLimit?: number;
  /** Also produce the events table (one row per lifecycle transition). Default false. */
  events?: boolean;
  /**
   * Receives the events batches as they are produced (with `events`). The run waits for a
   * promise it returns (a consumer writing them out sets the pace).
   */
  onEvents?: (batch: RecordBatch<EventColumns>) => void | Promise<void>;
  /**
   * Per-direction packet statistics in every row, after its usual columns (PACKET_STATS_COLUMNS):
   * IP packet size mean, standard deviation, min and max, inter-arrival time mean, standard
   * deviation, min and max, and the sizes and directions of the first 10 packets. Default false
   * (the default row stays lean); with it a run is a single pass in one thread.
   */
  packetStats?: boolean;
  /**
   * Also produce the packets table: one row per TCP segment of a connection, with its sequence
   * numbers as Wireshark shows them and its Wireshark analysis flags (docs/columns.md, "Packets"). Default
   * false. With `filter`, a cheap way to pull one conversation out of a large capture.
   */
  packets?: boolean;
  /**
   * Receives the packets batches as they are produced (with `packets`), at most 8,192 rows each;
   * the run waits for a promise it returns. Memory stays bounded when it does not keep them.
   */
  onPackets?: (batch: RecordBatch<PacketColumns>) => void | Promise<void>;
  /**
   * Seconds: the rows of connections ended so far are emitted at least this often, in a batch
   * shorter than 8,192 rows if need be, also while the input waits for bytes (a live capture
   * through a pipe). Default: none, every batch but the last has 8,192 rows. A single pass only
   * (with it, `workers` is 1).
   */
  flushInterval?: number;
  /**
   * Worker threads for decoding and connection state (docs/workers.md); 0 or 1 runs everything
   * in this thread. Default: the available cores minus one with 4 or more cores, else one thread;
   * one thread for inputs under two chunks and with `events`, `packets` or `packetStats`. The output is the same for any number.
   */
  workers?: number;
  /** @internal For tests only: see TestHooks. */
  testHooks?: TestHooks;
}

/** @internal How tests reach inside a run. */
export interface TestHooks {
  killWorkerAfterBatches?: number;
  /**
   * Run the workers' code in this thread, called directly instead of through threads (the same
   * protocol, buffers and merge): a property test can then try many more cases.
   */
  inThreadWorkers?: boolean;
  /** Every segment takes the core's exact step-by-step path, none the one-step path (assembly/flow/path.ts). */
  exactPathOnly?: boolean;
  /** A single pass over files reads them through a read-ahead buffer, with a copy, even where it could read them straight into shared memory. */
  copyReads?: boolean;
  /**
   * The parallel design: "shuffle" forces map/shuffle/reduce; by default a run over files or Blobs
   * uses replicated decode (src/run/replica.ts), one over streams or bytes map/shuffle/reduce.
   */
  design?: "shuffle";
}

export interface Progress {
  /** The source being read. */
  file: string;
  /** Bytes read so far, over all sources. */
  bytesRead: number;
  /** Total bytes of all sources, when every size is known. */
  totalBytes: number | undefined;
}

export interface AnalyzeResult {
  /**
   * One row per TCP connection (docs/columns.md has the columns); with `packetStats`, also the
   * PacketStatsColumns (read it as `Table<ConnectionColumns & PacketStatsColumns>`).
   */
  table: Table<ConnectionColumns>;
  /** With `events: true`: one row per lifecycle transition. */
  events?: Table<EventColumns>;
  /** With `packets: true`: one row per TCP segment of a connection. */
  packets?: Table<PacketColumns>;
  /** Accounting of every record read. */
  stats: Stats;
}

/** A stream of connection batches; `stats` is set once the stream has been read to the end. */
export interface ConnectionStream extends AsyncIterable<RecordBatch<ConnectionColumns>> {
  readonly stats: Stats | undefined;
}

/** Accounting for one run: `records` equals the sum of the per-reason counts. */
export interface Stats {
  /** Packet records read from the input. */
  records: number;
  /** TCP segments used for connection state. */
  tcpPackets: number;
  /** IP packets of other protocols (UDP, ICMP, tunnels not decoded, …). */
  nonTcpIp: number;
  /** Frames without an IP packet (ARP, LLDP, …). */
  nonIp: number;
  /** IP fragments other than a first fragment with a whole TCP header. */
  ipFragments: number;
  /** Frames cut by the snap length before the IP or TCP fixed header. */
  truncatedHeaders: number;
  /** Frames with impossible IP or TCP header fields. */
  badHeaders: number;
  /** Frames of a link type synfin does not decode. */
  unsupportedLinkType: number;
  /** Packets dropped for a bad IPv4, TCP or tunnel-carrying UDP checksum (with verifyChecksums). */
  badChecksums: number;
  /** Records cut short by the end of a file. */
  truncatedRecords: number;
  /** pcapng packet blocks naming an undeclared interface. */
  unknownInterface: number;
  /** Input bytes consumed. */
  bytes: number;
  /** Connection rows produced. */
  connections: number;
  /** Non-packet pcapng blocks skipped. */
  skippedBlocks: number;
  /** pcap files and pcapng sections read. */
  sections: number;
  /** Most connections tracked at once. */
  peakFlows: number;
  /** Connections ended early (end_reason "evicted") to stay within maxFlows. */
  evicted: number;
  /** pcapng packet blocks, well framed, whose fields do not fit inside the block (skipped). */
  badRecords: number;
  /** Damage: pcap records or pcapng blocks with an impossible length (reading resumed after it). */
  damagedLength: number;
  /** Damage: pcapng blocks whose trailing length differs from the leading one. */
  damagedTrailer: number;
  /** Damage: pcapng sections of unknown byte order or version (skipped to the next section). */
  damagedSection: number;
  /** Bytes skipped while looking for the next plausible record after damage. */
  damagedBytes: number;
  /** Records the capture filter (`filter`) rejected; 0 without one. */
  filtered: number;
}

/** The per-reason buckets whose sum is `records`. */
export const RECORD_BUCKETS: ReadonlyArray<keyof Stats> = [
  "tcpPackets", "nonTcpIp", "nonIp", "ipFragments", "truncatedHeaders", "badHeaders",
  "unsupportedLinkType", "badChecksums", "truncatedRecords", "unknownInterface", "badRecords", "filtered",
];

/** One capture file's bytes, in any form a browser or Node hands out. */
export type CaptureInput =
  | Uint8Array
  | ArrayBuffer
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

/** A sequential reader of one capture file's bytes. */
export interface ByteSource {
  /** Named in error messages. */
  readonly name: string;
  /** Total bytes, when known (for progress). */
  readonly size: number | undefined;
  /** Fills `into` from the front with up to `into.length` bytes; resolves to the count, 0 at the end. */
  read(into: Uint8Array): Promise<number>;
  close(): Promise<void>;
  /** How another thread can open the same bytes on its own (absent for streams). */
  readonly replica?: SourceReplica;
  /**
   * Its bytes are in memory or fetched ahead already (bytes, chunks of a stream): `readAhead`
   * would only add a copy, and is skipped.
   */
  readonly inMemory?: boolean;
}

/**
 * A source another thread can open again and read from the start by itself (replicated decode,
 * src/run/replica.ts): a file path (Node) or a Blob (browsers; cloned to a worker without copying).
 */
export type SourceReplica = { readonly path: string; readonly name: string } | { readonly blob: Blob; readonly name: string };

/** The connection table's columns and their Arrow types (docs/columns.md). */
export type ConnectionColumns = {
  conn_id: Uint64;
  community_id: Utf8;
  ip_version: Uint8;
  vlan: Uint16;
  inner_vlan: Uint16;
  tunnel: Dictionary<Utf8, Int8>;
  orig_h: Utf8;
  orig_p: Uint16;
  resp_h: Utf8;
  resp_p: Uint16;
  ts: TimestampNanosecond;
  last_ts: TimestampNanosecond;
  duration: Float64;
  syn_ts: TimestampNanosecond;
  synack_ts: TimestampNanosecond;
  established_ts: TimestampNanosecond;
  orig_first_data_ts: TimestampNanosecond;
  resp_first_data_ts: TimestampNanosecond;
  orig_fin_ts: TimestampNanosecond;
  resp_fin_ts: TimestampNanosecond;
  rst_ts: TimestampNanosecond;
  closed_ts: TimestampNanosecond;
  rtt_syn_synack: DurationNanosecond;
  rtt_synack_ack: DurationNanosecond;
  conn_state: Dictionary<Utf8, Int8>;
  history: Dictionary<Utf8, Int32>;
  orig_state: Dictionary<Utf8, Int8>;
  resp_state: Dictionary<Utf8, Int8>;
  closer: Dictionary<Utf8, Int8>;
  end_reason: Dictionary<Utf8, Int8>;
  completeness: Uint8;
  orig_pkts: Uint64;
  resp_pkts: Uint64;
  orig_bytes: Uint64;
  resp_bytes: Uint64;
  orig_ip_bytes: Uint64;
  resp_ip_bytes: Uint64;
  missed_bytes: Uint64;
  orig_retransmits: Uint64;
  resp_retransmits: Uint64;
  orig_fast_retransmits: Uint64;
  resp_fast_retransmits: Uint64;
  orig_spurious_retransmits: Uint64;
  resp_spurious_retransmits: Uint64;
  orig_out_of_order: Uint64;
  resp_out_of_order: Uint64;
  orig_lost_segments: Uint64;
  resp_lost_segments: Uint64;
  orig_ack_lost_segments: Uint64;
  resp_ack_lost_segments: Uint64;
  orig_dup_acks: Uint64;
  resp_dup_acks: Uint64;
  orig_zero_windows: Uint64;
  resp_zero_windows: Uint64;
  orig_zero_window_probes: Uint64;
  resp_zero_window_probes: Uint64;
  orig_window_full: Uint64;
  resp_window_full: Uint64;
  orig_keepalives: Uint64;
  resp_keepalives: Uint64;
  orig_rtt_min: DurationNanosecond;
  orig_rtt_avg: DurationNanosecond;
  orig_rtt_max: DurationNanosecond;
  resp_rtt_min: DurationNanosecond;
  resp_rtt_avg: DurationNanosecond;
  resp_rtt_max: DurationNanosecond;
  orig_mss: Uint16;
  resp_mss: Uint16;
  orig_wscale: Uint8;
  resp_wscale: Uint8;
  orig_sack_ok: Bool;
  resp_sack_ok: Bool;
  orig_ts_ok: Bool;
  resp_ts_ok: Bool;
  ecn: Bool;
  orig_isn: Uint32;
  resp_isn: Uint32;
  first_packet: Uint64;
  interface: Uint32;
};
/** The events table's columns and their Arrow types. */
export type EventColumns = {
  conn_id: Uint64;
  ts: TimestampNanosecond;
  packet: Int64;
  direction: Dictionary<Utf8, Int8>;
  event: Dictionary<Utf8, Int8>;
  orig_state: Dictionary<Utf8, Int8>;
  resp_state: Dictionary<Utf8, Int8>;
};

/** The columns `packetStats` adds after ConnectionColumns, and their Arrow types. */
export type PacketStatsColumns = {
  orig_size_mean: Float64;
  orig_size_std: Float64;
  orig_size_min: Uint32;
  orig_size_max: Uint32;
  resp_size_mean: Float64;
  resp_size_std: Float64;
  resp_size_min: Uint32;
  resp_size_max: Uint32;
  orig_iat_mean: DurationNanosecond;
  orig_iat_std: DurationNanosecond;
  orig_iat_min: DurationNanosecond;
  orig_iat_max: DurationNanosecond;
  resp_iat_mean: DurationNanosecond;
  resp_iat_std: DurationNanosecond;
  resp_iat_min: DurationNanosecond;
  resp_iat_max: DurationNanosecond;
  first_packets: Utf8;
};

/** The packets table's columns and their Arrow types. */
export type PacketColumns = {
  conn_id: Uint64;
  packet: Int64;
  ts: TimestampNanosecond;
  direction: Dictionary<Utf8, Int8>;
  seq: Uint32;
  ack: Uint32;
  seq_raw: Uint32;
  ack_raw: Uint32;
  len: Uint32;
  window: Uint32;
  window_raw: Uint16;
  flags: Uint8;
  sack: Utf8;
  retransmission: Bool;
  fast_retransmission: Bool;
  spurious_retransmission: Bool;
  out_of_order: Bool;
  lost_segment: Bool;
  ack_lost_segment: Bool;
  duplicate_ack: Bool;
  duplicate_ack_num: Uint32;
  zero_window: Bool;
  zero_window_probe: Bool;
  zero_window_probe_ack: Bool;
  keep_alive: Bool;
  keep_alive_ack: Bool;
  window_full: Bool;
  window_update: Bool;
  rtt: DurationNanosecond;
};

/** One row of the connection table, as `table.get(i)` returns it. */
export type Connection = StructRowProxy<ConnectionColumns>;
/** One row of the events table. */
export type ConnectionEvent = StructRowProxy<EventColumns>;
/** One row of the packets table. */
export type PacketRow = StructRowProxy<PacketColumns>;
