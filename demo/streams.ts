// Stream graphs of one connection, Wireshark/tcptrace style, from its packets table: the
// time-sequence graph (segments as bars, the ACK line, the receive-window line, SACK blocks,
// retransmission marks), throughput, RTT samples and window sizes over time. The four share one time axis,
// zoomed with the wheel, panned by dragging, reset by a double click; the connection's lifecycle
// events are marked on every one of them.

import type { ConnectionDetail, EventRow } from "./protocol.js";
import { formatBytes, formatMs } from "./units.js";

const PAD = { left: 84, right: 12, top: 10, bottom: 24 };
const COLORS = {
  segment: "#1c7ed6",
  retransmit: "#e03131",
  ack: "#2f9e44",
  sack: "#ae3ec9",
  window: "#f08c00",
  orig: "#1c7ed6",
  resp: "#8b76c2",
  event: "#868e96",
  grid: "#f1f3f5",
  axis: "#495057",
} as const;
/** Short names of the lifecycle events marked on the graphs. */
const EVENT_LABELS: Record<string, string> = {
  SYN: "SYN", SYN_ACK: "SYN-ACK", ESTABLISHED: "EST", FIN: "FIN", FIN_ACKED: "FIN ACKed", RST: "RST", CLOSED: "CLOSED",
  IDLE_TIMEOUT: "idle", ATTEMPT_TIMEOUT: "attempt timeout", REUSE: "reuse", EOF: "end of input", EVICTED: "evicted",
};

/** A connection's packets, as the graphs read them: times in ms from its first packet. */
interface Series {
  t: Float64Array;
  detail: ConnectionDetail;
  events: { t: number; label: string }[];
  /** The sender whose data the time-sequence and throughput graphs follow: 0 orig, 1 resp. */
  data: number;
}

type GraphName = "sequence" | "throughput" | "rtt" | "window";
const GRAPHS: { name: GraphName; title: string }[] = [
  { name: "sequence", title: "Time–sequence (relative sequence numbers)" },
  { name: "throughput", title: "Throughput" },
  { name: "rtt", title: "RTT samples" },
  { name: "window", title: "Window size" },
];

export class StreamGraphs {
  private series: Series | null = null;
  private view = { from: 0, to: 1 };
  private readonly canvases = new Map<GraphName, HTMLCanvasElement>();
  private drag: { x: number; from: number; to: number } | null = null;

  constructor(private readonly host: HTMLElement, private readonly caption: HTMLElement, private readonly swap: HTMLButtonElement) {
    for (const g of GRAPHS) {
      const figure = document.createElement("figure");
      const title = document.createElement("figcaption");
      title.textContent = g.title;
      const canvas = document.createElement("canvas");
      canvas.dataset.graph = g.name;
      figure.append(title, canvas);
      host.append(figure);
      this.canvases.set(g.name, canvas);
      canvas.addEventListener("wheel", (e) => this.onWheel(e, canvas), { passive: false });
      canvas.addEventListener("pointerdown", (e) => { this.drag = { x: e.clientX, ...this.view }; canvas.setPointerCapture(e.pointerId); });
      canvas.addEventListener("pointermove", (e) => this.onDrag(e, canvas));
      canvas.addEventListener("pointerup", () => { this.drag = null; });
      canvas.addEventListener("dblclick", () => this.fit());
    }
    swap.addEventListener("click", () => {
      if (!this.series) return;
      this.series.data ^= 1;
      this.draw();
    });
  }

  /** Shows one connection's graphs; `originNs` is its first packet's time. */
  show(detail: ConnectionDetail, originNs: bigint): void {
    const t = Float64Array.from(detail.tsNs, (ns) => Number(ns - originNs) / 1e6);
    const events = detail.events.filter((e) => e.tsNs !== null && EVENT_LABELS[e.event] !== undefined)
      .map((e: EventRow) => ({ t: Number(e.tsNs! - originNs) / 1e6, label: EVENT_LABELS[e.event]! }));
    // Follow the direction that sent more payload.
    const bytes = [0, 0];
    for (let i = 0; i < t.length; i++) bytes[detail.direction[i]!]! += detail.len[i]!;
    this.series = { t, detail, events, data: bytes[1]! > bytes[0]! ? 1 : 0 };
    this.fitData();
  }

  /** The span of the segments that carry payload (the whole connection when none does). */
  private fitData(): void {
    const s = this.series!;
    let first = Infinity, last = -Infinity;
    for (let i = 0; i < s.t.length; i++) {
      if (s.detail.len[i] === 0) continue;
      first = Math.min(first, s.t[i]!);
      last = Math.max(last, s.t[i]!);
    }
    if (!(last > first)) { this.fit(); return; }
    // To the connection's last packet, if that comes soon after (the close).
    const end = Math.max(last, s.t[s.t.length - 1]!);
    const to = end - last < (last - first) * 0.5 ? end : last;
    const margin = (to - first) * 0.03;
    this.view = { from: first - margin, to: to + margin };
    this.draw();
  }

  clear(): void {
    this.series = null;
    this.host.dataset.retransmitPackets = "";
    for (const canvas of this.canvases.values()) canvas.getContext("2d")?.clearRect(0, 0, canvas.width, canvas.height);
  }

  fit(): void {
    if (!this.series) return;
    const { t } = this.series;
    const last = t.length > 0 ? t[t.length - 1]! : 1;
    const span = last > 0 ? last : 1;
    this.view = { from: -span * 0.02, to: span * 1.02 };
    this.draw();
  }

  private onWheel(e: WheelEvent, canvas: HTMLCanvasElement): void {
    if (!this.series) return;
    e.preventDefault();
    const at = this.timeAt(e.offsetX, canvas);
    const factor = Math.exp(e.deltaY * 0.002);
    this.view = { from: at - (at - this.view.from) * factor, to: at + (this.view.to - at) * factor };
    this.draw();
  }

  private onDrag(e: PointerEvent, canvas: HTMLCanvasElement): void {
    if (!this.drag) return;
    const width = canvas.clientWidth - PAD.left - PAD.right;
    const shift = ((e.clientX - this.drag.x) / width) * (this.drag.to - this.drag.from);
    this.view = { from: this.drag.from - shift, to: this.drag.to - shift };
    this.draw();
  }

  private timeAt(x: number, canvas: HTMLCanvasElement): number {
    const width = canvas.clientWidth - PAD.left - PAD.right;
    return this.view.from + ((x - PAD.left) / width) * (this.view.to - this.view.from);
  }

  draw(): void {
    const s = this.series;
    if (!s) return;
    const sender = s.data === 0 ? "originator" : "responder";
    this.caption.textContent = `${sender}'s data (${formatBytes(this.bytesOf(s))}); ${formatMs(this.view.to - this.view.from)} shown. ` +
      "Wheel: zoom; drag: pan; double click: the whole connection.";
    this.swap.textContent = `show the ${s.data === 0 ? "responder" : "originator"}'s data`;
    this.drawSequence(s);
    this.drawThroughput(s);
    this.drawRtt(s);
    this.drawWindow(s);
  }

  private bytesOf(s: Series): number {
    let n = 0;
    for (let i = 0; i < s.t.length; i++) if (s.detail.direction[i] === s.data) n += s.detail.len[i]!;
    return n;
  }

  private drawSequence(s: Series): void {
    const { detail: d, t } = s;
    const other = s.data ^ 1;
    let top = 1;
    for (let i = 0; i < t.length; i++) {
      if (d.direction[i] === s.data) top = Math.max(top, d.seq[i]! + d.len[i]!);
      else if (d.hasAck[i]) top = Math.max(top, d.ack[i]! + d.window[i]!);
    }
    const plot = this.frame("sequence", s, 0, top, (v) => formatBytes(v));
    if (!plot) return;
    const { g, x, y } = plot;
    // The ACK line and the receive-window line: steps at each ACK of the other side.
    for (const [color, valueOf] of [[COLORS.window, (i: number) => d.ack[i]! + d.window[i]!], [COLORS.ack, (i: number) => d.ack[i]!]] as const) {
      g.strokeStyle = color;
      g.lineWidth = 1;
      g.beginPath();
      let started = false, last = 0;
      for (let i = 0; i < t.length; i++) {
        if (d.direction[i] !== other || !d.hasAck[i]) continue;
        const v = valueOf(i);
        if (!started) { g.moveTo(x(t[i]!), y(v)); started = true; } else { g.lineTo(x(t[i]!), y(last)); g.lineTo(x(t[i]!), y(v)); }
        last = v;
      }
      if (started) g.lineTo(x(t[t.length - 1]!), y(last));
      g.stroke();
    }
    // SACK blocks of the other side's ACKs: what the receiver holds above the ACK line.
    g.strokeStyle = COLORS.sack;
    g.lineWidth = 2;
    g.beginPath();
    const sacks: number[] = [];
    for (let i = 0; i < t.length; i++) {
      const blocks = d.sack[i]!;
      if (d.direction[i] !== other || blocks.length === 0) continue;
      sacks.push(d.packet[i]!);
      const px = x(t[i]!);
      for (let b = 0; b + 1 < blocks.length; b += 2) {
        g.moveTo(px, y(blocks[b]!));
        g.lineTo(px, Math.min(y(blocks[b + 1]!), y(blocks[b]!) - 2));
      }
    }
    g.stroke();
    // Segments: a bar from seq to seq + len; retransmissions red, with a mark above.
    const marks: number[] = [];
    for (let i = 0; i < t.length; i++) {
      if (d.direction[i] !== s.data) continue;
      const resent = d.retransmission[i] === 1;
      if (resent) marks.push(d.packet[i]!);
      if (d.len[i] === 0 && !resent) continue;
      const px = x(t[i]!);
      g.strokeStyle = resent ? COLORS.retransmit : COLORS.segment;
      g.lineWidth = resent ? 2 : 1;
      g.beginPath();
      g.moveTo(px, y(d.seq[i]!));
      g.lineTo(px, Math.min(y(d.seq[i]! + d.len[i]!), y(d.seq[i]!) - 2));
      g.stroke();
      if (resent) {
        g.fillStyle = COLORS.retransmit;
        const py = y(d.seq[i]! + d.len[i]!) - 4;
        g.beginPath();
        g.moveTo(px, py);
        g.lineTo(px - 3, py - 5);
        g.lineTo(px + 3, py - 5);
        g.fill();
      }
    }
    // The test hook: which packets the graph marks as retransmissions.
    this.host.dataset.retransmitPackets = marks.join(",");
    this.host.dataset.sackPackets = sacks.join(",");
    this.host.dataset.direction = s.data === 0 ? "orig" : "resp";
    legend(g, [[COLORS.segment, "segment"], [COLORS.retransmit, "▼ retransmission"], [COLORS.ack, "ACK"], [COLORS.window, "ACK + window"], [COLORS.sack, "SACK block"]]);
  }

  private drawThroughput(s: Series): void {
    const { detail: d, t } = s;
    const bins = 60;
    const width = (this.view.to - this.view.from) / bins;
    const bits = new Float64Array(bins);
    for (let i = 0; i < t.length; i++) {
      if (d.direction[i] !== s.data) continue;
      const b = Math.floor((t[i]! - this.view.from) / width);
      if (b >= 0 && b < bins) bits[b]! += d.len[i]! * 8;
    }
    const perSecond = bits.map((v) => v / (width / 1000));
    const plot = this.frame("throughput", s, 0, Math.max(1, ...perSecond), formatBits);
    if (!plot) return;
    const { g, x, y } = plot;
    g.fillStyle = COLORS.segment;
    perSecond.forEach((v, b) => {
      if (v === 0) return;
      const x0 = x(this.view.from + b * width), x1 = x(this.view.from + (b + 1) * width);
      g.fillRect(x0, y(v), Math.max(1, x1 - x0 - 1), y(0) - y(v));
    });
    legend(g, [[COLORS.segment, `payload bits/s, ${formatMs(width)} bins`]]);
  }

  private drawRtt(s: Series): void {
    const { detail: d, t } = s;
    // A sample of the data's RTT is credited to the other side's ACK that completed it.
    const other = s.data ^ 1;
    let top = 0;
    for (let i = 0; i < t.length; i++) if (d.direction[i] === other && !Number.isNaN(d.rttMs[i]!)) top = Math.max(top, d.rttMs[i]!);
    const plot = this.frame("rtt", s, 0, Math.max(top * 1.1, 0.001), formatMs);
    if (!plot) return;
    const { g, x, y } = plot;
    g.fillStyle = COLORS.ack;
    let n = 0;
    for (let i = 0; i < t.length; i++) {
      if (d.direction[i] !== other || Number.isNaN(d.rttMs[i]!)) continue;
      g.beginPath();
      g.arc(x(t[i]!), y(d.rttMs[i]!), 2.5, 0, 2 * Math.PI);
      g.fill();
      n++;
    }
    legend(g, [[COLORS.ack, `${n} samples (Karn's rule; at the ACK that gave each)`]]);
  }

  private drawWindow(s: Series): void {
    const { detail: d, t } = s;
    const top = Math.max(1, ...d.window);
    const plot = this.frame("window", s, 0, top, formatBytes);
    if (!plot) return;
    const { g, x, y } = plot;
    for (const [side, color] of [[0, COLORS.orig], [1, COLORS.resp]] as const) {
      g.strokeStyle = color;
      g.beginPath();
      let started = false, last = 0;
      for (let i = 0; i < t.length; i++) {
        if (d.direction[i] !== side) continue;
        const v = d.window[i]!;
        if (!started) { g.moveTo(x(t[i]!), y(v)); started = true; } else { g.lineTo(x(t[i]!), y(last)); g.lineTo(x(t[i]!), y(v)); }
        last = v;
      }
      g.stroke();
    }
    legend(g, [[COLORS.orig, "originator's window"], [COLORS.resp, "responder's window"]]);
  }

  /** Clears a graph, draws its axes and the lifecycle events; returns its scales. */
  private frame(name: GraphName, s: Series, low: number, high: number, unit: (v: number) => string):
    { g: CanvasRenderingContext2D; x: (ms: number) => number; y: (v: number) => number } | null {
    const canvas = this.canvases.get(name)!;
    const ratio = window.devicePixelRatio || 1;
    const cssWidth = canvas.clientWidth, cssHeight = canvas.clientHeight;
    if (cssWidth === 0 || cssHeight === 0) return null;
    canvas.width = Math.round(cssWidth * ratio);
    canvas.height = Math.round(cssHeight * ratio);
    const g = canvas.getContext("2d")!;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, cssWidth, cssHeight);
    const w = cssWidth - PAD.left - PAD.right, h = cssHeight - PAD.top - PAD.bottom;
    const { from, to } = this.view;
    const x = (ms: number) => PAD.left + ((ms - from) / (to - from)) * w;
    const y = (v: number) => PAD.top + h - ((v - low) / (high - low || 1)) * h;
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = COLORS.axis;
    g.strokeStyle = COLORS.grid;
    g.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const v = low + ((high - low) * k) / 4;
      g.beginPath();
      g.moveTo(PAD.left, y(v));
      g.lineTo(PAD.left + w, y(v));
      g.stroke();
      g.textAlign = "right";
      g.fillText(unit(v), PAD.left - 4, y(v) + 4);
    }
    const step = niceStep((to - from) / 8);
    g.textAlign = "center";
    for (let ms = Math.ceil(from / step) * step; ms <= to; ms += step) g.fillText(tickLabel(ms, step), x(ms), PAD.top + h + 16);
    g.save();
    g.beginPath();
    g.rect(PAD.left, PAD.top, w, h);
    g.clip();
    g.strokeStyle = COLORS.event;
    g.fillStyle = COLORS.event;
    g.setLineDash([3, 3]);
    g.textAlign = "left";
    let labelEnd = -Infinity;
    for (const e of s.events) {
      const px = x(e.t);
      if (px < PAD.left || px > PAD.left + w) continue;
      g.beginPath();
      g.moveTo(px, PAD.top);
      g.lineTo(px, PAD.top + h);
      g.stroke();
      // Labels on the time–sequence graph, each only where it does not run into the one before.
      if (name !== "sequence" || px + 2 < labelEnd) continue;
      g.fillText(e.label, px + 2, PAD.top + h - 4);
      labelEnd = px + 2 + g.measureText(e.label).width + 4;
    }
    g.setLineDash([]);
    // Drawing after this stays inside the plot; legend() restores.
    return { g, x, y };
  }
}

/** A legend in the plot's top right corner; ends the clip frame() started. */
function legend(g: CanvasRenderingContext2D, items: [string, string][]): void {
  g.restore();
  g.font = "11px system-ui, sans-serif";
  g.textAlign = "right";
  const right = g.canvas.clientWidth - PAD.right - 4;
  const width = Math.max(...items.map(([, label]) => g.measureText(label).width)) + 24;
  g.fillStyle = "rgba(255, 255, 255, 0.85)";
  g.fillRect(right - width, PAD.top + 1, width + 2, items.length * 14 + 4);
  items.forEach(([color, label], k) => {
    const yy = PAD.top + 12 + k * 14;
    g.fillStyle = COLORS.axis;
    g.fillText(label, right - 14, yy);
    g.fillStyle = color;
    g.fillRect(right - 10, yy - 8, 10, 8);
  });
}

/** A time-axis label, ms from the first packet, with as many decimals as the tick step needs. */
function tickLabel(ms: number, step: number): string {
  if (Math.abs(ms) < step / 2) return "+0";
  const decimals = (unit: number) => Math.max(0, Math.ceil(-Math.log10(step / unit) - 1e-9));
  if (Math.abs(ms) >= 1000) return `+${(ms / 1000).toFixed(decimals(1000))} s`;
  if (Math.abs(ms) >= 1) return `+${ms.toFixed(decimals(1))} ms`;
  return `+${(ms * 1000).toFixed(decimals(0.001))} µs`;
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function formatBits(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toPrecision(3)} Gbit/s`;
  if (v >= 1e6) return `${(v / 1e6).toPrecision(3)} Mbit/s`;
  if (v >= 1e3) return `${(v / 1e3).toPrecision(3)} kbit/s`;
  return `${Math.round(v)} bit/s`;
}
