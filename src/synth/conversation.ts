// Scripted TCP conversation builder producing framed packets with consistent seq/ack arithmetic (RFC 9293).

import type { CapturedPacket } from "./capture.js";
import { ACK, FIN, PSH, RST, SYN, frame, ipPacket } from "./packet.js";
import type { LinkSpec, TcpOptionsSpec, TcpSegmentSpec } from "./packet.js";

export type Side = "client" | "server";

export interface ConversationOptions {
  client: string; server: string; clientPort: number; serverPort: number;
  startNs?: bigint; clientIsn?: number; serverIsn?: number;
  link?: LinkSpec; stepNs?: bigint;
  mss?: number; wscale?: number; sackOk?: boolean; timestamps?: boolean;
}

export interface Timing { after?: bigint }

const DEFAULT_START_NS = 1_700_000_000_000_000_000n;
const DEFAULT_STEP_NS = 1_000_000n;
const DEFAULT_CLIENT_ISN = 0x1000_0000;
const DEFAULT_SERVER_ISN = 0x2000_0000;
const DEFAULT_MSS = 1460;
const NS_PER_MS = 1_000_000n;
const CLIENT_TSVAL_BASE = 100_000;
const SERVER_TSVAL_BASE = 900_000;

/** One side's sequence state, kept relative to the ISNs so comparisons never wrap. */
class Endpoint {
  sndNxt = 0;                      // next sequence number to send, relative to own ISN
  rcvNxt = 0;                      // next in-order byte expected from the peer, relative to the peer's ISN
  synReceived = false;
  lastPeerTsval = 0;
  lastData: TcpSegmentSpec | null = null;
  private readonly outOfOrder: Array<[number, number]> = [];

  constructor(readonly addr: string, readonly port: number, readonly isn: number, readonly tsvalBase: number) {}

  wireSeq(relative: number): number {
    return (this.isn + relative) >>> 0;
  }

  /** Maps a wire sequence number to the relative value nearest to sndNxt. */
  relativeSeq(wire: number): number {
    return this.sndNxt + ((wire - this.wireSeq(this.sndNxt)) | 0);
  }

  /** Records the peer's sequence range [start, end) as received, filling holes from earlier out-of-order data. */
  receive(start: number, end: number): void {
    if (end <= start || end <= this.rcvNxt) return;
    if (start > this.rcvNxt) {
      this.outOfOrder.push([start, end]);
      return;
    }
    this.rcvNxt = end;
    this.outOfOrder.sort((a, b) => a[0] - b[0]);
    while (this.outOfOrder.length > 0 && this.outOfOrder[0][0] <= this.rcvNxt) {
      this.rcvNxt = Math.max(this.rcvNxt, this.outOfOrder.shift()![1]);
    }
  }
}

export class Conversation {
  private readonly client: Endpoint;
  private readonly server: Endpoint;
  private readonly link: LinkSpec;
  private readonly startNs: bigint;
  private readonly stepNs: bigint;
  private readonly synOptions: TcpOptionsSpec;
  private readonly timestamps: boolean;
  private readonly list: CapturedPacket[] = [];
  private lastTsNs: bigint | null = null;
  private lastSpec: TcpSegmentSpec | null = null;

  constructor(opts: ConversationOptions) {
    this.client = new Endpoint(opts.client, opts.clientPort, (opts.clientIsn ?? DEFAULT_CLIENT_ISN) >>> 0, CLIENT_TSVAL_BASE);
    this.server = new Endpoint(opts.server, opts.serverPort, (opts.serverIsn ?? DEFAULT_SERVER_ISN) >>> 0, SERVER_TSVAL_BASE);
    this.link = opts.link ?? { link: "ethernet" };
    this.startNs = opts.startNs ?? DEFAULT_START_NS;
    this.stepNs = opts.stepNs ?? DEFAULT_STEP_NS;
    this.timestamps = opts.timestamps ?? false;
    this.synOptions = { mss: opts.mss ?? DEFAULT_MSS, sackOk: opts.sackOk, wscale: opts.wscale };
  }

  /** Client SYN carrying the constructor's options; every SYN (first or `retransmit`) uses the client ISN. */
  syn(o: Timing & { retransmit?: boolean; payload?: number } = {}): this {
    return this.emit("client", SYN, 0, o.after, { payload: o.payload, options: this.synOptions });
  }

  /** Server SYN-ACK acknowledging the client's SYN. */
  synAck(o: Timing & { retransmit?: boolean } = {}): this {
    return this.emit("server", SYN | ACK, 0, o.after, { options: this.synOptions });
  }

  ack(from: Side, o: Timing & { window?: number } = {}): this {
    return this.emit(from, ACK, this.side(from).sndNxt, o.after, { window: o.window });
  }

  /** A PSH|ACK segment of len pattern bytes at the side's next sequence number. */
  data(from: Side, len: number, o: Timing & { window?: number; flags?: number } = {}): this {
    this.emit(from, o.flags ?? (PSH | ACK), this.side(from).sndNxt, o.after, { payload: len, window: o.window });
    this.side(from).lastData = this.lastSpec;
    return this;
  }

  /** Resends the side's last data segment unchanged (same seq, ack, options and payload). */
  retransmit(from: Side, o: Timing = {}): this {
    const last = this.side(from).lastData;
    if (!last) throw new Error(`${from} has sent no data to retransmit`);
    this.send(from, last, this.tick(o.after));
    return this;
  }

  /** Advances the side's sequence number by len without emitting, as if that segment was lost. */
  skip(from: Side, len: number): this {
    this.side(from).sndNxt += len;
    return this;
  }

  fin(from: Side, o: Timing = {}): this {
    return this.emit(from, FIN | ACK, this.side(from).sndNxt, o.after, {});
  }

  rst(from: Side, o: Timing & { withAck?: boolean } = {}): this {
    const flags = o.withAck ? RST | ACK : RST;
    return this.emit(from, flags, this.side(from).sndNxt, o.after, o.withAck ? { options: undefined } : { ack: 0, options: undefined });
  }

  zeroWindow(from: Side, o: Timing = {}): this {
    return this.emit(from, ACK, this.side(from).sndNxt, o.after, { window: 0 });
  }

  /** Keep-alive probe: seq = snd_nxt - 1, no payload. */
  keepAlive(from: Side, o: Timing = {}): this {
    return this.emit(from, ACK, this.side(from).sndNxt - 1, o.after, {});
  }

  /** Any other segment: defaults (addresses, ports, seq = snd_nxt, ack, ACK flag) overridden by spec. */
  raw(from: Side, spec: Partial<TcpSegmentSpec>, o: Timing = {}): this {
    return this.emit(from, spec.flags ?? ACK, this.side(from).sndNxt, o.after, spec);
  }

  handshake(): this {
    return this.syn().synAck().ack("client");
  }

  /** Four-way close: FIN, ACK, FIN, ACK starting with `first`. */
  close(first: Side): this {
    const second = other(first);
    return this.fin(first).ack(second).fin(second).ack(first);
  }

  packets(): CapturedPacket[] {
    return this.list.slice();
  }

  /** The wire sequence number the side will send next. */
  seq(from: Side): number {
    const endpoint = this.side(from);
    return endpoint.wireSeq(endpoint.sndNxt);
  }

  /** The timestamp the next packet gets when no `after` is given. */
  nextTsNs(): bigint {
    return this.lastTsNs === null ? this.startNs : this.lastTsNs + this.stepNs;
  }

  private side(from: Side): Endpoint {
    return from === "client" ? this.client : this.server;
  }

  private tick(after: bigint | undefined): bigint {
    const base = this.lastTsNs ?? this.startNs;
    const tsNs = after !== undefined ? base + after : this.nextTsNs();
    this.lastTsNs = tsNs;
    return tsNs;
  }

  /**
   * Builds the default segment for `from` at seqRel (current ack, timestamps option when enabled),
   * applies the overrides that are set and sends it. Override options merge over the timestamps;
   * `options: undefined` removes all options.
   */
  private emit(from: Side, flags: number, seqRel: number, after: bigint | undefined, overrides: Partial<TcpSegmentSpec>): this {
    const me = this.side(from);
    const peer = this.side(other(from));
    const tsNs = this.tick(after);
    const defaults: TcpSegmentSpec = {
      src: me.addr, dst: peer.addr, sport: me.port, dport: peer.port,
      seq: me.wireSeq(seqRel),
      ack: me.synReceived ? peer.wireSeq(me.rcvNxt) : 0,
      flags,
      options: this.timestamps ? { ts: this.tsPair(me, tsNs) } : undefined,
    };
    const spec: TcpSegmentSpec = { ...defaults, ...definedFields(overrides) };
    if ("options" in overrides) spec.options = overrides.options && { ...defaults.options, ...overrides.options };
    this.send(from, spec, tsNs);
    return this;
  }

  private tsPair(me: Endpoint, tsNs: bigint): [number, number] {
    const tsval = (me.tsvalBase + Number((tsNs - this.startNs) / NS_PER_MS)) >>> 0;
    return [tsval, me.lastPeerTsval];
  }

  /** Frames and records the segment, then updates both endpoints' sequence state. */
  private send(from: Side, spec: TcpSegmentSpec, tsNs: bigint): void {
    const me = this.side(from);
    const peer = this.side(other(from));
    this.list.push({ tsNs, data: frame(ipPacket(spec), this.link) });
    this.lastSpec = spec;
    const payloadLen = typeof spec.payload === "number" ? spec.payload : (spec.payload?.length ?? 0);
    const seqLen = payloadLen + (spec.flags & SYN ? 1 : 0) + (spec.flags & FIN ? 1 : 0);
    const start = me.relativeSeq(spec.seq >>> 0);
    me.sndNxt = Math.max(me.sndNxt, start + seqLen);
    if (spec.flags & SYN) peer.synReceived = true;
    if (spec.flags & RST) return;
    peer.receive(start, start + seqLen);
    if (spec.options?.ts) peer.lastPeerTsval = spec.options.ts[0] >>> 0;
  }
}

function other(side: Side): Side {
  return side === "client" ? "server" : "client";
}

/** The fields of an override that are set; an explicit `options: undefined` is handled by the caller. */
function definedFields(overrides: Partial<TcpSegmentSpec>): Partial<TcpSegmentSpec> {
  return Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined)) as Partial<TcpSegmentSpec>;
}

/** Merges packet lists by timestamp; equal timestamps keep argument order, then list order. */
export function interleave(...convs: CapturedPacket[][]): CapturedPacket[] {
  const merged = convs.flat();
  return merged.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
}
