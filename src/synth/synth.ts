// Seeded synthetic Ethernet traffic of interleaved TCP connections (RFC 9293 over RFC 791/8200), generated packet by packet.

import type { CapturedPacket } from "./capture.js";
import {
  ACK, CLIENT_MAC, ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, FIN, IPPROTO_TCP,
  IPV4_HEADER_LEN, IPV6_HEADER_LEN, PSH, RST, SERVER_MAC, SYN, TCP_HEADER_LEN, VLAN_TAG_LEN,
  arpFrame, checksumSum, finishChecksum, frame, icmpEcho, patternChecksumSum, pseudoHeaderSum,
  putU16, putU32, udpPacket, writeTcpOptions,
} from "./packet.js";
import { ConnTally, SEGMENT_NEW, SEGMENT_OUT_OF_ORDER, SEGMENT_RETRANSMIT, connTruth } from "./synth-truth.js";
import type { ConnTruth } from "./synth-truth.js";

export interface SynthOptions {
  seed?: number;
  snaplen?: number;
  connections?: number;   // total connections to start (default 1000; Infinity for an endless stream)
  concurrency?: number;   // live at once (default 64)
  nanos?: boolean;        // nanosecond timestamps; otherwise every timestamp is a whole microsecond
  startNs?: bigint;       // time of the first packet's second (default 2023-11-14T22:13:20Z)
  reuseBuffers?: boolean; // yield one reused CapturedPacket whose data is valid only until the next step
  outOfOrderRate?: number; // share of two-segment bursts sent later segment first (default 0: none)
  /** The largest response of a round, in bytes (default 400,000; at least 200): small values give many short connections. */
  maxResponseBytes?: number;
  /** Receives each connection's truth once its last packet is kept, and the rest at `finish()`. */
  onConnection?: (truth: ConnTruth) => void;
}

const DEFAULT_SEED = 1;
const DEFAULT_SNAPLEN = 262144;
const DEFAULT_CONNECTIONS = 1000;
const DEFAULT_CONCURRENCY = 64;
const DEFAULT_START_NS = 1_700_000_000_000_000_000n;

const IPV6_RATE = 0.05;
const VLAN_RATE = 0.05;
const NON_TCP_RATE = 0.02;
const UNANSWERED_SYN_RATE = 0.03;
const RST_CLOSE_RATE = 0.05;
const LEFT_OPEN_RATE = 0.01;
const CLIENT_CLOSES_RATE = 0.5;
const TIMESTAMPS_RATE = 0.9;
const RETRANSMIT_RATE = 0.01;
const SMALL_SEGMENT_RATE = 0.05;
const SYN_RETRY_GAPS_US = [1_000_000, 2_000_000]; // retries 1 s and 3 s after the first SYN

const MSS_IPV4 = 1460;
const MSS_IPV6 = 1440;
const TCP_TIMESTAMP_OPTION_LEN = 12; // NOP, NOP, kind 8, len 10, TSval, TSecr
const TCPOPT_NOP = 1;
const TCPOPT_TIMESTAMPS = 8;
const TCPOPT_TIMESTAMPS_LEN = 10;
const TIMESTAMP_OPTION_WORDS_SUM = ((TCPOPT_NOP << 8) | TCPOPT_NOP) + ((TCPOPT_TIMESTAMPS << 8) | TCPOPT_TIMESTAMPS_LEN);
const CLIENT_TSVAL_BASE = 1_000;
const SERVER_TSVAL_BASE = 7_000_000;
const NS_PER_MS = 1_000_000;
const MAX_ROUNDS = 3;
const REQUEST_BYTES = [60, 2000] as const;
/** A response's size is log-uniform between these (the upper one SynthOptions.maxResponseBytes). */
export const MIN_RESPONSE_BYTES = 200;
export const DEFAULT_MAX_RESPONSE_BYTES = 400_000;
const RTT_US = [200, 80_000] as const;
const RTO_US = 200_000;
const SERVER_PORTS = [443, 443, 443, 443, 80, 80, 22, 8080, 5432, 6379];
const SERVER_POOL = 256;
const NON_TCP_POOL = 64;
const TTL = 64;
const IPV4_FLAG_DONT_FRAGMENT = 0x4000;

const SCRATCH_FRAME_AREA = 2048;
const PATTERN_AREA = SCRATCH_FRAME_AREA; // pattern bytes live after the frame area and are copied in
const PATTERN_AREA_LEN = 2048;

const PHASE_SYN = 0;
const PHASE_SYN_ACK = 1;
const PHASE_HANDSHAKE_ACK = 2;
const PHASE_SEND = 3;
const PHASE_ACK = 4;
const PHASE_CLOSE = 5;
const PHASE_DONE = 6;

const CLOSE_FIN = 0;
const CLOSE_RST = 1;
const CLOSE_NONE = 2;

/** mulberry32: a small, fast, seedable 32-bit PRNG. */
class Rng {
  private state: number;
  constructor(seed: number) { this.state = seed >>> 0; }

  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  float(): number { return this.u32() / 0x1_0000_0000; }
  chance(probability: number): boolean { return this.float() < probability; }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number { return lo + Math.floor(this.float() * (hi - lo + 1)); }
  logUniform(lo: number, hi: number): number { return Math.floor(lo * Math.pow(hi / lo, this.float())); }
}

/** One synthetic connection's addresses, precomputed header templates and sequence state. */
class Conn {
  dueNs = 0;
  phase = PHASE_SYN;
  synTries = 0;
  clientNxt = 0;              // relative to clientIsn
  serverNxt = 0;              // relative to serverIsn
  clientTsval = 0;            // last TSval each side sent, echoed by the other
  serverTsval = 0;
  clientIpId: number;
  serverIpId: number;
  roundsLeft: number;
  senderIsClient = true;
  remaining = 0;
  segmentsUnacked = 0;
  retransmitPending = false;
  reorderPending = false;     // the earlier segment of an out-of-order pair is still to be sent
  lastSeqRel = 0;
  lastLen = 0;
  lastFlags = 0;
  closeStep = 0;

  readonly c2s: Uint8Array;   // Ethernet [+ VLAN] + IP header + TCP ports, client to server
  readonly s2c: Uint8Array;
  readonly ipOffset: number;
  readonly tcpOffset: number;
  readonly ipv4HeaderSum: number;  // symmetric in direction; excludes total length and id
  readonly tcpBaseSum: number;     // pseudo-header addresses + protocol (no length), also symmetric
  readonly portsSum: number;       // the TCP header's port words, symmetric too
  readonly clientIsn: number;
  readonly serverIsn: number;
  readonly clientPort: number;
  readonly serverPort: number;
  readonly useTimestamps: boolean;
  readonly mssPayload: number;
  readonly windowClient: number;
  readonly windowServer: number;
  readonly wscale: number;
  readonly rttUs: number;
  readonly startedNs: number;
  readonly unanswered: boolean;
  readonly closeKind: number;
  readonly closerIsClient: boolean;
  readonly clientAddr: Uint8Array;
  readonly serverAddr: Uint8Array;
  readonly tally: ConnTally | null;

  constructor(readonly id: number, readonly isV6: boolean, readonly vlanId: number, rng: Rng, nowNs: number, tracked: boolean) {
    const clientAddr = (this.clientAddr = clientAddress(id, isV6));
    const serverAddr = (this.serverAddr = serverAddress(rng.int(1, SERVER_POOL), isV6));
    this.tally = tracked ? new ConnTally() : null;
    this.clientPort = rng.int(32768, 60999);
    this.serverPort = SERVER_PORTS[rng.int(0, SERVER_PORTS.length - 1)];
    this.ipOffset = ETHERNET_HEADER_LEN + (vlanId ? VLAN_TAG_LEN : 0);
    this.tcpOffset = this.ipOffset + (isV6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN);
    this.c2s = this.buildTemplate(true, vlanId, clientAddr, serverAddr);
    this.s2c = this.buildTemplate(false, vlanId, serverAddr, clientAddr);
    this.ipv4HeaderSum = isV6 ? 0 : checksumSum(this.c2s, this.ipOffset, this.tcpOffset);
    this.tcpBaseSum = pseudoHeaderSum(clientAddr, serverAddr, IPPROTO_TCP, 0);
    this.portsSum = this.clientPort + this.serverPort;
    this.clientIsn = rng.u32();
    this.serverIsn = rng.u32();
    this.clientIpId = rng.int(0, 0xffff);
    this.serverIpId = rng.int(0, 0xffff);
    this.useTimestamps = rng.chance(TIMESTAMPS_RATE);
    this.mssPayload = (isV6 ? MSS_IPV6 : MSS_IPV4) - (this.useTimestamps ? TCP_TIMESTAMP_OPTION_LEN : 0);
    this.windowClient = rng.int(500, 65535);
    this.windowServer = rng.int(500, 65535);
    this.wscale = rng.int(0, 10);
    this.rttUs = rng.logUniform(RTT_US[0], RTT_US[1]);
    this.startedNs = nowNs;
    this.unanswered = rng.chance(UNANSWERED_SYN_RATE);
    this.roundsLeft = rng.int(1, MAX_ROUNDS);
    this.closeKind = rng.chance(RST_CLOSE_RATE) ? CLOSE_RST : rng.chance(LEFT_OPEN_RATE) ? CLOSE_NONE : CLOSE_FIN;
    this.closerIsClient = rng.chance(CLIENT_CLOSES_RATE);
  }

  private buildTemplate(fromClient: boolean, vlanId: number, src: Uint8Array, dst: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.tcpOffset + 4);
    out.set(fromClient ? SERVER_MAC : CLIENT_MAC, 0);
    out.set(fromClient ? CLIENT_MAC : SERVER_MAC, 6);
    if (vlanId) {
      putU16(out, 12, ETHERTYPE_VLAN);
      putU16(out, 14, vlanId);
    }
    putU16(out, this.ipOffset - 2, this.isV6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
    const ip = this.ipOffset;
    if (this.isV6) {
      out[ip] = 0x60;
      out[ip + 6] = IPPROTO_TCP;
      out[ip + 7] = TTL;
      out.set(src, ip + 8);
      out.set(dst, ip + 24);
    } else {
      out[ip] = 0x45;
      putU16(out, ip + 6, IPV4_FLAG_DONT_FRAGMENT);
      out[ip + 8] = TTL;
      out[ip + 9] = IPPROTO_TCP;
      out.set(src, ip + 12);
      out.set(dst, ip + 16);
    }
    putU16(out, this.tcpOffset, fromClient ? this.clientPort : this.serverPort);
    putU16(out, this.tcpOffset + 2, fromClient ? this.serverPort : this.clientPort);
    return out;
  }
}

/** Unique per connection id (up to 2^24 ids for IPv4), so concurrent 4-tuples never collide. */
function clientAddress(id: number, isV6: boolean): Uint8Array {
  if (!isV6) return Uint8Array.of(10, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff);
  const addr = new Uint8Array(16);
  addr[0] = 0xfd;
  putU32(addr, 12, id);
  return addr;
}

function serverAddress(index: number, isV6: boolean): Uint8Array {
  if (!isV6) return Uint8Array.of(172, 16, index >>> 8, index & 0xff);
  const addr = new Uint8Array(16);
  addr[0] = 0xfd;
  addr[1] = 0x01;
  putU16(addr, 14, index);
  return addr;
}

/** A binary min-heap of connections ordered by due time, then id. */
class DueHeap {
  private readonly items: Conn[] = [];
  get size(): number { return this.items.length; }
  peek(): Conn | undefined { return this.items[0]; }

  push(conn: Conn): void {
    const items = this.items;
    let i = items.length;
    items.push(conn);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(conn, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = conn;
  }

  /** Empties the heap, returning its connections in no particular order. */
  drain(): Conn[] {
    return this.items.splice(0);
  }

  pop(): Conn | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0 && last !== undefined) this.siftDown(last);
    return top;
  }

  /** Restores order after the top item's due time grew. */
  updateTop(): void {
    if (this.items.length > 0) this.siftDown(this.items[0]);
  }

  private siftDown(item: Conn): void {
    const items = this.items;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= items.length) break;
      if (child + 1 < items.length && before(items[child + 1], items[child])) child++;
      if (!before(items[child], item)) break;
      items[i] = items[child];
      i = child;
    }
    items[i] = item;
  }
}

function before(a: Conn, b: Conn): boolean {
  return a.dueNs < b.dueNs || (a.dueNs === b.dueNs && a.id < b.id);
}

/** DNS-like UDP queries (60%), ICMP echo requests (25%) and ARP requests (15%) from assorted hosts. */
function buildNonTcpFrames(rng: Rng): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < NON_TCP_POOL; i++) {
    const host = `10.255.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    const kind = rng.int(0, 99);
    frames.push(kind < 60
      ? frame(udpPacket(host, "10.255.0.53", rng.int(32768, 60999), 53, rng.int(20, 80)), { link: "ethernet" })
      : kind < 85 ? frame(icmpEcho(host, "172.16.0.1", rng.int(1, 0xffff), rng.int(1, 100)), { link: "ethernet" })
      : arpFrame(host, "10.255.0.1"));
  }
  return frames;
}

/**
 * Drives the connections; each `next()` writes one frame into a scratch buffer and returns it,
 * or null once every connection has finished. `synthPackets` wraps this; `writeSynthFile` calls
 * `nextFrame()` directly to skip the generator protocol and the per-packet BigInt.
 */
export class SynthStream {
  /** The current frame's captured bytes (a view valid until the next step), its full length and its time after `startNs`. */
  data: Uint8Array = new Uint8Array(0);
  origLen = 0;
  relNs = 0;
  readonly startNs: bigint;

  private readonly rng: Rng;
  private readonly heap = new DueHeap();
  private readonly scratch = new Uint8Array(SCRATCH_FRAME_AREA + PATTERN_AREA_LEN);
  private readonly views: Uint8Array[] = [];
  private readonly snaplen: number;
  private readonly totalConnections: number;
  private readonly nanos: boolean;
  private readonly reuse: boolean;
  private readonly outOfOrderRate: number;
  private readonly maxResponseBytes: number;
  private readonly onConnection: ((truth: ConnTruth) => void) | null;
  private readonly nonTcpFrames: Uint8Array[];
  private readonly reused: CapturedPacket = { tsNs: 0n, data: new Uint8Array(0), origLen: 0 };
  private started = 0;
  private nowNs = 0;
  // The last TCP segment written, counted into its connection's tally only when the caller asks
  // for the next one (or finishes keeping it), so a segment the caller drops is never counted.
  private pendingConn: Conn | null = null;
  private pendingFromClient = false;
  private pendingFlags = 0;
  private pendingPayloadLen = 0;
  private pendingIpLen = 0;
  private pendingKind = SEGMENT_NEW;
  private pendingHeaderCut = false;
  private segmentKind = SEGMENT_NEW;
  private optionsSum = 0; // 16-bit word sum of the TCP options writeOptions last wrote

  constructor(opts: SynthOptions) {
    this.rng = new Rng(opts.seed ?? DEFAULT_SEED);
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    this.totalConnections = opts.connections ?? DEFAULT_CONNECTIONS;
    this.nanos = opts.nanos ?? false;
    this.startNs = opts.startNs ?? DEFAULT_START_NS;
    this.reuse = opts.reuseBuffers ?? false;
    this.outOfOrderRate = opts.outOfOrderRate ?? 0;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!(Number.isInteger(this.maxResponseBytes) && this.maxResponseBytes >= MIN_RESPONSE_BYTES)) {
      throw new RangeError(`synth: maxResponseBytes must be a whole number of at least ${MIN_RESPONSE_BYTES}, got ${this.maxResponseBytes}`);
    }
    this.onConnection = opts.onConnection ?? null;
    for (let i = 0; i < PATTERN_AREA_LEN; i++) this.scratch[PATTERN_AREA + i] = i & 0xff;
    this.nonTcpFrames = buildNonTcpFrames(this.rng);
    const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
    for (let i = 0; i < concurrency && this.started < this.totalConnections; i++) this.startConnection(this.gapNs(0, 10_000));
  }

  /** The next frame as a CapturedPacket, or null once every connection has finished. */
  next(): CapturedPacket | null {
    if (!this.nextFrame()) return null;
    const tsNs = this.startNs + BigInt(this.relNs);
    if (!this.reuse) return { tsNs, data: this.data.slice(), origLen: this.origLen };
    this.reused.tsNs = tsNs;
    this.reused.data = this.data;
    this.reused.origLen = this.origLen;
    return this.reused;
  }

  /**
   * Steps to the next frame and sets `data`, `origLen` and `relNs` (no allocation: the file writer's
   * loop); returns false once every connection has finished.
   */
  nextFrame(): boolean {
    if (this.pendingConn !== null) this.commitPending();
    const conn = this.heap.peek();
    if (conn === undefined) return false;
    if (this.rng.chance(NON_TCP_RATE)) {
      this.nonTcpFrame(conn.dueNs);
      return true;
    }
    this.nowNs = conn.dueNs;
    const frameLen = this.step(conn);
    if (conn.phase !== PHASE_DONE) {
      this.heap.updateTop();
    } else {
      this.heap.pop();
      if (this.started < this.totalConnections) this.startConnection(this.gapNs(0, 2_000));
    }
    const capLen = Math.min(frameLen, this.snaplen);
    this.data = this.views[capLen] ?? (this.views[capLen] = this.scratch.subarray(0, capLen));
    this.origLen = frameLen;
    this.relNs = this.nowNs;
    return true;
  }

  /**
   * Ends the stream early and reports the truth of every connection not yet reported (those
   * still in flight, `finished: false`). `keepLast` false: the caller dropped the last frame, so
   * it is not counted.
   */
  finish(keepLast = true): void {
    const last = this.pendingConn;
    if (last !== null && keepLast) this.commitPending();
    this.pendingConn = null;
    if (this.onConnection === null) return;
    if (last !== null && !keepLast && last.phase === PHASE_DONE) this.report(last, false);
    for (const conn of this.heap.drain()) this.report(conn, false);
  }

  private commitPending(): void {
    const conn = this.pendingConn!;
    this.pendingConn = null;
    conn.tally!.count(this.pendingFromClient, this.pendingFlags, this.pendingPayloadLen, this.pendingIpLen, this.pendingKind, this.pendingHeaderCut);
    if (conn.phase === PHASE_DONE) this.report(conn, true);
  }

  private report(conn: Conn, finished: boolean): void {
    if (conn.tally!.packets > 0) this.onConnection!(connTruth(conn, conn.tally!, finished));
  }

  private startConnection(delayNs: number): void {
    const isV6 = this.rng.chance(IPV6_RATE);
    const vlanId = this.rng.chance(VLAN_RATE) ? this.rng.int(1, 4094) : 0;
    const conn = new Conn(this.started++, isV6, vlanId, this.rng, this.nowNs + delayNs, this.onConnection !== null);
    conn.dueNs = this.nowNs + delayNs;
    this.heap.push(conn);
  }

  /** A random gap in [loUs, hiUs] microseconds, with nanosecond jitter only when nanos is set. */
  private gapNs(loUs: number, hiUs: number): number {
    return this.nanos ? this.rng.int(loUs * 1000, hiUs * 1000) : this.rng.int(loUs, hiUs) * 1000;
  }

  private schedule(conn: Conn, loUs: number, hiUs: number): void {
    conn.dueNs = this.nowNs + this.gapNs(loUs, hiUs);
  }

  /** A pooled UDP, ICMP or ARP frame, timed no later than the next TCP packet so time stays monotonic. */
  private nonTcpFrame(nextTcpDueNs: number): void {
    this.nowNs = Math.min(this.nowNs + this.gapNs(0, 50), nextTcpDueNs);
    const data = this.nonTcpFrames[this.rng.int(0, this.nonTcpFrames.length - 1)];
    this.data = data.length > this.snaplen ? data.subarray(0, this.snaplen) : data;
    this.origLen = data.length;
    this.relNs = this.nowNs;
  }

  /** Emits the connection's next packet and schedules the one after; returns the full frame length. */
  private step(conn: Conn): number {
    if (conn.retransmitPending) {
      conn.retransmitPending = false;
      this.schedule(conn, 1, 40);
      this.segmentKind = SEGMENT_RETRANSMIT;
      return this.writeSegment(conn, conn.senderIsClient, conn.lastFlags, conn.lastSeqRel, conn.lastLen);
    }
    if (conn.reorderPending) return this.stepReorderedEarlier(conn);
    this.segmentKind = SEGMENT_NEW;
    switch (conn.phase) {
      case PHASE_SYN: return this.stepSyn(conn);
      case PHASE_SYN_ACK: return this.stepSynAck(conn);
      case PHASE_HANDSHAKE_ACK: return this.stepHandshakeAck(conn);
      case PHASE_SEND: return this.stepSend(conn);
      case PHASE_ACK: return this.stepAck(conn);
      default: return this.stepClose(conn);
    }
  }

  private stepSyn(conn: Conn): number {
    if (conn.synTries > 0) this.segmentKind = SEGMENT_RETRANSMIT; // a retried SYN, as Wireshark marks it
    const frameLen = this.writeSegment(conn, true, SYN, 0, 0);
    conn.clientNxt = 1;
    if (!conn.unanswered) {
      conn.phase = PHASE_SYN_ACK;
      this.schedule(conn, conn.rttUs, conn.rttUs + 100);
    } else if (conn.synTries < SYN_RETRY_GAPS_US.length) {
      const gapUs = SYN_RETRY_GAPS_US[conn.synTries++];
      this.schedule(conn, gapUs, gapUs);
    } else {
      conn.phase = PHASE_DONE;
    }
    return frameLen;
  }

  private stepSynAck(conn: Conn): number {
    const frameLen = this.writeSegment(conn, false, SYN | ACK, 0, 0);
    conn.serverNxt = 1;
    conn.phase = PHASE_HANDSHAKE_ACK;
    this.schedule(conn, 5, 100);
    return frameLen;
  }

  private stepHandshakeAck(conn: Conn): number {
    const frameLen = this.writeSegment(conn, true, ACK, conn.clientNxt, 0);
    this.startRequest(conn);
    this.schedule(conn, 1, 200);
    return frameLen;
  }

  private startRequest(conn: Conn): void {
    conn.senderIsClient = true;
    conn.remaining = this.rng.logUniform(REQUEST_BYTES[0], REQUEST_BYTES[1]);
    conn.segmentsUnacked = 0;
    conn.phase = PHASE_SEND;
  }

  /** One data segment from the current sender: full-sized, occasionally small, PSH on the last. */
  private stepSend(conn: Conn): number {
    const fromClient = conn.senderIsClient;
    if (this.outOfOrderRate > 0 && conn.segmentsUnacked === 0 && conn.remaining >= 2 * conn.mssPayload && this.rng.chance(this.outOfOrderRate)) {
      return this.stepReorderedLater(conn);
    }
    const small = this.rng.chance(SMALL_SEGMENT_RATE);
    const segmentLen = Math.min(conn.remaining, small ? this.rng.int(1, conn.mssPayload) : conn.mssPayload);
    const isLast = segmentLen === conn.remaining;
    const flags = isLast ? PSH | ACK : ACK;
    const seqRel = fromClient ? conn.clientNxt : conn.serverNxt;
    const frameLen = this.writeSegment(conn, fromClient, flags, seqRel, segmentLen);
    if (fromClient) conn.clientNxt += segmentLen;
    else conn.serverNxt += segmentLen;
    conn.remaining -= segmentLen;
    conn.segmentsUnacked++;
    if (isLast || conn.segmentsUnacked >= 2) conn.phase = PHASE_ACK;
    if (this.rng.chance(RETRANSMIT_RATE)) {
      conn.retransmitPending = true;
      conn.lastSeqRel = seqRel;
      conn.lastLen = segmentLen;
      conn.lastFlags = flags;
      this.schedule(conn, RTO_US + conn.rttUs, RTO_US + 2 * conn.rttUs);
    } else if (conn.phase === PHASE_ACK) {
      this.schedule(conn, conn.rttUs >> 1, conn.rttUs);
    } else {
      this.schedule(conn, 1, 40);
    }
    return frameLen;
  }

  /**
   * Out of order: of two full segments, the later one first (the earlier follows within 40 µs,
   * well inside the RTT, so Wireshark calls it out-of-order rather than a retransmission).
   */
  private stepReorderedLater(conn: Conn): number {
    const fromClient = conn.senderIsClient;
    const mss = conn.mssPayload;
    const seqRel = fromClient ? conn.clientNxt : conn.serverNxt;
    const isLast = conn.remaining === 2 * mss;
    const frameLen = this.writeSegment(conn, fromClient, isLast ? PSH | ACK : ACK, seqRel + mss, mss);
    if (fromClient) conn.clientNxt += 2 * mss;
    else conn.serverNxt += 2 * mss;
    conn.remaining -= 2 * mss;
    conn.segmentsUnacked = 2;
    conn.reorderPending = true;
    conn.lastSeqRel = seqRel;
    conn.lastLen = mss;
    conn.lastFlags = ACK;
    conn.phase = PHASE_ACK;
    this.schedule(conn, 1, 40);
    return frameLen;
  }

  private stepReorderedEarlier(conn: Conn): number {
    conn.reorderPending = false;
    this.segmentKind = SEGMENT_OUT_OF_ORDER;
    this.schedule(conn, conn.rttUs >> 1, conn.rttUs);
    return this.writeSegment(conn, conn.senderIsClient, conn.lastFlags, conn.lastSeqRel, conn.lastLen);
  }

  /** The receiver's ACK; then more data, the response, the next round, or the close. */
  private stepAck(conn: Conn): number {
    const fromClient = !conn.senderIsClient;
    const frameLen = this.writeSegment(conn, fromClient, ACK, fromClient ? conn.clientNxt : conn.serverNxt, 0);
    conn.segmentsUnacked = 0;
    if (conn.remaining > 0) {
      conn.phase = PHASE_SEND;
      this.schedule(conn, 1, 40);
    } else if (conn.senderIsClient) {
      conn.senderIsClient = false;
      conn.remaining = this.rng.logUniform(MIN_RESPONSE_BYTES, this.maxResponseBytes);
      conn.phase = PHASE_SEND;
      this.schedule(conn, 20, 2_000);
    } else if (--conn.roundsLeft > 0) {
      this.startRequest(conn);
      this.schedule(conn, 100, 50_000);
    } else {
      conn.phase = conn.closeKind === CLOSE_NONE ? PHASE_DONE : PHASE_CLOSE;
      this.schedule(conn, 100, 20_000);
    }
    return frameLen;
  }

  /** FIN close: closer FIN, peer ACK, peer FIN, closer ACK. RST close: one RST|ACK from the closer. */
  private stepClose(conn: Conn): number {
    const step = conn.closeStep++;
    const fromClient = step === 0 || step === 3 ? conn.closerIsClient : !conn.closerIsClient;
    const seqRel = fromClient ? conn.clientNxt : conn.serverNxt;
    if (conn.closeKind === CLOSE_RST) {
      conn.phase = PHASE_DONE;
      return this.writeSegment(conn, fromClient, RST | ACK, seqRel, 0);
    }
    const isFin = step === 0 || step === 2;
    const frameLen = this.writeSegment(conn, fromClient, isFin ? FIN | ACK : ACK, seqRel, 0);
    if (isFin && fromClient) conn.clientNxt++;
    else if (isFin) conn.serverNxt++;
    if (step === 3) conn.phase = PHASE_DONE;
    else this.schedule(conn, conn.rttUs >> 2, conn.rttUs >> 1);
    return frameLen;
  }

  /** Writes the full frame header and the captured part of the pattern payload; returns the full frame length. */
  private writeSegment(conn: Conn, fromClient: boolean, flags: number, seqRel: number, payloadLen: number): number {
    const out = this.scratch;
    const tcp = conn.tcpOffset;
    out.set(fromClient ? conn.c2s : conn.s2c, 0);
    const optionsLen = this.writeOptions(conn, fromClient, flags, tcp + TCP_HEADER_LEN);
    const tcpHeaderLen = TCP_HEADER_LEN + optionsLen;
    const tcpLen = tcpHeaderLen + payloadLen;
    const ackRel = fromClient ? conn.serverNxt : conn.clientNxt;
    const ackIsn = fromClient ? conn.serverIsn : conn.clientIsn;
    const seq = ((fromClient ? conn.clientIsn : conn.serverIsn) + seqRel) >>> 0;
    const ack = flags & ACK ? (ackIsn + ackRel) >>> 0 : 0;
    const offsetAndFlags = (((tcpHeaderLen >>> 2) << 4) << 8) | flags;
    const window = fromClient ? conn.windowClient : conn.windowServer;
    putU32(out, tcp + 4, seq);
    putU32(out, tcp + 8, ack);
    putU16(out, tcp + 12, offsetAndFlags);
    putU16(out, tcp + 14, window);
    putU32(out, tcp + 16, 0); // checksum and urgent pointer
    this.writeIpLengths(conn, fromClient, tcpLen);
    // The header's 16-bit words summed from the values just written (no loop over the bytes).
    const headerSum = conn.portsSum + (seq >>> 16) + (seq & 0xffff) + (ack >>> 16) + (ack & 0xffff) + offsetAndFlags + window + this.optionsSum;
    const sum = conn.tcpBaseSum + tcpLen + headerSum + patternChecksumSum(payloadLen);
    putU16(out, tcp + 16, finishChecksum(sum));
    const frameLen = tcp + tcpLen;
    const payloadOffset = tcp + tcpHeaderLen;
    if (conn.tally !== null) this.holdForTally(conn, fromClient, flags, payloadLen, frameLen - conn.ipOffset, payloadOffset > this.snaplen);
    const capturedPayload = Math.min(frameLen, this.snaplen) - payloadOffset;
    if (capturedPayload > 0) out.copyWithin(payloadOffset, PATTERN_AREA, PATTERN_AREA + capturedPayload);
    return frameLen;
  }

  private holdForTally(conn: Conn, fromClient: boolean, flags: number, payloadLen: number, ipLen: number, headerCut: boolean): void {
    this.pendingHeaderCut = headerCut;
    this.pendingConn = conn;
    this.pendingFromClient = fromClient;
    this.pendingFlags = flags;
    this.pendingPayloadLen = payloadLen;
    this.pendingIpLen = ipLen;
    this.pendingKind = this.segmentKind;
  }

  private writeIpLengths(conn: Conn, fromClient: boolean, tcpLen: number): void {
    const ip = conn.ipOffset;
    if (conn.isV6) {
      putU16(this.scratch, ip + 4, tcpLen);
      return;
    }
    const totalLen = IPV4_HEADER_LEN + tcpLen;
    const ipId = fromClient ? conn.clientIpId : conn.serverIpId;
    if (fromClient) conn.clientIpId = (ipId + 1) & 0xffff;
    else conn.serverIpId = (ipId + 1) & 0xffff;
    putU16(this.scratch, ip + 2, totalLen);
    putU16(this.scratch, ip + 4, ipId);
    putU16(this.scratch, ip + 10, finishChecksum(conn.ipv4HeaderSum + totalLen + ipId));
  }

  /** SYNs carry MSS, SACK-permitted, timestamps and window scale; other segments NOP, NOP, timestamps. */
  private writeOptions(conn: Conn, fromClient: boolean, flags: number, at: number): number {
    this.optionsSum = 0;
    if (!conn.useTimestamps && !(flags & SYN)) return 0;
    const tsval = ((fromClient ? CLIENT_TSVAL_BASE : SERVER_TSVAL_BASE) + Math.floor((this.nowNs - conn.startedNs) / NS_PER_MS)) >>> 0;
    const tsecr = flags & ACK ? (fromClient ? conn.serverTsval : conn.clientTsval) : 0;
    if (fromClient) conn.clientTsval = tsval;
    else conn.serverTsval = tsval;
    if (flags & SYN) {
      const ts: [number, number] | undefined = conn.useTimestamps ? [tsval, tsecr] : undefined;
      const len = writeTcpOptions(this.scratch, at, { mss: conn.mssPayload + (ts ? TCP_TIMESTAMP_OPTION_LEN : 0), sackOk: true, ts, wscale: conn.wscale });
      this.optionsSum = checksumSum(this.scratch, at, at + len);
      return len;
    }
    const out = this.scratch;
    out[at] = TCPOPT_NOP;
    out[at + 1] = TCPOPT_NOP;
    out[at + 2] = TCPOPT_TIMESTAMPS;
    out[at + 3] = TCPOPT_TIMESTAMPS_LEN;
    putU32(out, at + 4, tsval);
    putU32(out, at + 8, tsecr);
    this.optionsSum = TIMESTAMP_OPTION_WORDS_SUM + (tsval >>> 16) + (tsval & 0xffff) + (tsecr >>> 16) + (tsecr & 0xffff);
    return TCP_TIMESTAMP_OPTION_LEN;
  }
}

/** Streams seeded synthetic Ethernet traffic; the same seed and options always yield the same bytes. */
export function* synthPackets(opts: SynthOptions = {}): Generator<CapturedPacket> {
  const synth = new SynthStream(opts);
  for (let packet = synth.next(); packet !== null; packet = synth.next()) yield packet;
}
