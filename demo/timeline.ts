// The lifecycle timeline: one bar per connection (in the table's order), from its first packet to
// its close, coloured by phase, with marks for SYN retransmissions, RSTs and zero windows. Drawn
// on one canvas, only the rows in view; zoomed in time with the buttons, Ctrl+wheel, or the wheel
// over the time axis; panned by dragging or Shift+wheel.

import type { Connections } from "./model.js";
import { DAY_MS, formatBytes, formatDate, formatMs } from "./units.js";

export type Phase = "before" | "handshake" | "established" | "midstream" | "closing" | "time_wait";

export const PHASE_COLORS: Record<Phase, string> = {
  before: "#c9ced6",
  handshake: "#e8a33d",
  established: "#3f9b5a",
  midstream: "#9ccfa9",
  closing: "#4a7fd1",
  time_wait: "#8b76c2",
};
export const PHASE_LABELS: Record<Phase, string> = {
  before: "before the SYN",
  handshake: "handshake (SYN → ACK)",
  established: "established",
  midstream: "no handshake seen",
  closing: "half-closed / closing (first FIN → close)",
  time_wait: "TIME_WAIT (close → last packet)",
};
export const MARK_COLORS = { synRetransmit: "#d9480f", rst: "#d6336c", zeroWindow: "#7b2cbf" } as const;

export interface Segment { phase: Phase; from: number; to: number }

const AXIS_HEIGHT = 22;
const MIN_ROW_HEIGHT = 4;
const MAX_ROW_HEIGHT = 18;
const TIME_WAIT_MIN_PX = 4;
/** A connection is drawn at least this wide, however long the time axis: every one stays visible. */
const MIN_BAR_PX = 2;
/** Beyond this span the axis reads as calendar time (UTC) instead of time since the first packet. */
const CALENDAR_SPAN_MS = 2 * DAY_MS;
/**
 * A capture spanning more than this many times the span of its first screenful of connections
 * opens on that screenful (with a note), not on the whole capture, whose bars would be slivers.
 */
const SPARSE_FACTOR = 1000;

const finite = Number.isFinite;
function earliest(...times: number[]): number {
  let min = NaN;
  for (const t of times) if (finite(t) && !(t >= min)) min = t;
  return min;
}

/** A connection's phases, in time order (ms since the capture's first packet). */
export function phasesOf(c: Connections, row: number): Segment[] {
  const last = c.lastMs[row]!;
  const end = finite(c.closedMs[row]!) ? c.closedMs[row]! : last;
  const syn = c.synMs[row]!, established = c.establishedMs[row]!;
  const firstFin = earliest(c.origFinMs[row]!, c.respFinMs[row]!);
  const segments: Segment[] = [];
  let at = c.tsMs[row]!;
  const push = (phase: Phase, to: number) => { if (to >= at) segments.push({ phase, from: at, to }); at = Math.max(at, to); };
  if (finite(syn)) {
    if (syn > at) push("before", syn);
    push("handshake", finite(established) ? established : earliest(c.rstMs[row]!, firstFin, end));
  }
  if (finite(established) || !finite(syn)) push(finite(established) ? "established" : "midstream", earliest(firstFin, c.rstMs[row]!, end));
  if (finite(firstFin)) push("closing", end);
  if (c.origState[row] === "TIME_WAIT" || c.respState[row] === "TIME_WAIT") push("time_wait", Math.max(last, end));
  return segments;
}

export class Timeline {
  readonly element: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly spacer: HTMLElement;
  private readonly tip: HTMLElement;
  private readonly windowLabel: HTMLElement;
  private readonly note: HTMLElement;
  private conns: Connections | null = null;
  private rows: Uint32Array = new Uint32Array(0);
  private rowHeight = MAX_ROW_HEIGHT;
  private fullFrom = 0;
  private fullTo = 1;
  private from = 0;
  private to = 1;
  private selected = -1;
  private frame = 0;
  private drag: { x: number; from: number; to: number; moved: boolean } | null = null;

  constructor(host: HTMLElement, private readonly onSelect: (row: number) => void) {
    this.element = host;
    host.querySelector<HTMLButtonElement>("[data-zoom=in]")!.addEventListener("click", () => this.zoom(0.5));
    host.querySelector<HTMLButtonElement>("[data-zoom=out]")!.addEventListener("click", () => this.zoom(2));
    host.querySelector<HTMLButtonElement>("[data-zoom=fit]")!.addEventListener("click", () => this.fit());
    host.querySelector<HTMLButtonElement>("[data-zoom=rows]")!.addEventListener("click", () => this.fitRowsInView());
    this.windowLabel = host.querySelector<HTMLElement>(".timeline-window")!;
    this.note = host.querySelector<HTMLElement>(".timeline-note")!;
    this.scroller = host.querySelector<HTMLElement>(".timeline-scroll")!;
    this.canvas = this.scroller.querySelector("canvas")!;
    this.spacer = this.scroller.querySelector<HTMLElement>(".timeline-spacer")!;
    this.tip = host.querySelector<HTMLElement>(".timeline-tip")!;
    this.scroller.addEventListener("scroll", () => this.schedule());
    this.canvas.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    this.canvas.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    this.canvas.addEventListener("pointermove", (e) => this.onPointerMove(e));
    this.canvas.addEventListener("pointerup", (e) => this.onPointerUp(e));
    this.canvas.addEventListener("pointerleave", () => { this.tip.hidden = true; });
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
  }

  show(conns: Connections, rows: Uint32Array): void {
    this.conns = conns;
    this.rows = rows;
    const lanes = this.scroller.clientHeight - AXIS_HEIGHT;
    this.rowHeight = Math.max(MIN_ROW_HEIGHT, Math.min(MAX_ROW_HEIGHT, Math.floor(lanes / Math.max(1, rows.length))));
    this.spacer.style.height = `${Math.max(0, rows.length * this.rowHeight + AXIS_HEIGHT - this.scroller.clientHeight)}px`;
    [this.fullFrom, this.fullTo] = this.extent(rows);
    const count = Math.ceil(lanes / this.rowHeight);
    const [from, to] = this.extent(rows.subarray(0, count));
    const sparse = rows.length > count && (this.fullTo - this.fullFrom) > SPARSE_FACTOR * (to - from);
    this.note.textContent = sparse
      ? `The capture spans ${formatMs(this.fullTo - this.fullFrom)}: shown are the first connections' ${formatMs(to - from)}; "all" shows the whole capture (each connection at least ${MIN_BAR_PX} px wide).`
      : "";
    this.note.hidden = !sparse;
    if (sparse) this.setWindow(from, to); else this.fit();
  }

  /** From the first packet to the last of `rows`, with a little room on both sides. */
  private extent(rows: Uint32Array): [number, number] {
    const conns = this.conns!;
    let from = Infinity, to = -Infinity;
    for (const row of rows) {
      from = Math.min(from, conns.tsMs[row]!);
      to = Math.max(to, conns.lastMs[row]!, finite(conns.closedMs[row]!) ? conns.closedMs[row]! : -Infinity);
    }
    if (!finite(from)) return [0, 1];
    const pad = Math.max((to - from) * 0.02, 0.001);
    return [from - pad, to + pad];
  }

  /** Zooms to the time span of the rows now scrolled into view. */
  fitRowsInView(): void {
    if (!this.conns) return;
    const first = Math.floor(this.scroller.scrollTop / this.rowHeight);
    const count = Math.ceil((this.scroller.clientHeight - AXIS_HEIGHT) / this.rowHeight);
    this.setWindow(...this.extent(this.rows.subarray(first, first + count)));
  }

  select(row: number): void {
    this.selected = row;
    this.schedule();
  }

  fit(): void {
    this.setWindow(this.fullFrom, this.fullTo);
  }

  /** Scales the visible time span by `factor` around the instant at canvas x `atX` (centre by default). */
  zoom(factor: number, atX = this.canvas.clientWidth / 2): void {
    const t = this.timeAt(atX);
    this.setWindow(t - (t - this.from) * factor, t + (this.to - t) * factor);
  }

  private setWindow(from: number, to: number): void {
    const span = Math.max(to - from, 1e-6); // a nanosecond, the data's resolution
    this.from = from;
    this.to = from + span;
    const origin = this.conns?.originNs ?? 0n;
    this.windowLabel.textContent = span > CALENDAR_SPAN_MS
      ? `${formatDate(origin, this.from, false)} – ${formatDate(origin, this.to, false)} UTC (span ${formatMs(span)})`
      : `${formatMs(this.from) || "0"} – ${formatMs(this.to)} after the first packet (span ${formatMs(span)})`;
    this.schedule();
  }

  private timeAt(x: number): number {
    return this.from + (x / Math.max(1, this.canvas.clientWidth)) * (this.to - this.from);
  }

  private xOf(t: number, width: number): number {
    return ((t - this.from) / (this.to - this.from)) * width;
  }

  /** The connection row under canvas y, or -1. */
  private rowAt(y: number): number {
    if (y < AXIS_HEIGHT) return -1;
    const at = Math.floor((y - AXIS_HEIGHT + this.scroller.scrollTop) / this.rowHeight);
    return at >= 0 && at < this.rows.length ? this.rows[at]! : -1;
  }

  private onWheel(e: WheelEvent): void {
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    if (e.ctrlKey || e.metaKey || e.clientY - rect.top < AXIS_HEIGHT) {
      e.preventDefault();
      this.zoom(Math.exp(e.deltaY * 0.002), x);
    } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      e.preventDefault();
      const shift = ((e.shiftKey ? e.deltaY : e.deltaX) / rect.width) * (this.to - this.from);
      this.setWindow(this.from + shift, this.to + shift);
    }
  }

  private onPointerDown(e: PointerEvent): void {
    this.drag = { x: e.clientX, from: this.from, to: this.to, moved: false };
    this.canvas.setPointerCapture(e.pointerId);
  }

  private onPointerMove(e: PointerEvent): void {
    const drag = this.drag;
    if (drag) {
      const dx = e.clientX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (drag.moved) {
        const shift = (-dx / this.canvas.clientWidth) * (drag.to - drag.from);
        this.setWindow(drag.from + shift, drag.to + shift);
      }
      return;
    }
    this.showTip(e);
  }

  private onPointerUp(e: PointerEvent): void {
    const drag = this.drag;
    this.drag = null;
    if (drag && !drag.moved) {
      const row = this.rowAt(e.clientY - this.canvas.getBoundingClientRect().top);
      if (row >= 0) this.onSelect(row);
    }
  }

  private showTip(e: PointerEvent): void {
    const conns = this.conns;
    const rect = this.canvas.getBoundingClientRect();
    const row = conns ? this.rowAt(e.clientY - rect.top) : -1;
    if (!conns || row < 0) { this.tip.hidden = true; return; }
    const syn = conns.synRetransmitsMs.get(row)?.length ?? 0;
    this.tip.textContent = [
      `#${conns.connId[row]}  ${conns.origH[row]}:${conns.origP[row]} → ${conns.respH[row]}:${conns.respP[row]}`,
      `${conns.connState[row]}  ${conns.history[row]}  ${conns.origState[row]}/${conns.respState[row]}  ended: ${conns.endReason[row]}`,
      `start ${formatMs(conns.tsMs[row]!)}  duration ${formatMs(conns.durationS[row]! * 1000) || "0"}  bytes ${formatBytes(conns.origBytes[row]!)} / ${formatBytes(conns.respBytes[row]!)}`,
      `handshake ${formatMs(conns.rttSynSynackMs[row]!) || "–"} + ${formatMs(conns.rttSynackAckMs[row]!) || "–"}` +
        `${syn ? `  SYN retransmissions ${syn}` : ""}${conns.zeroWindows[row] ? `  zero windows ${conns.zeroWindows[row]}` : ""}`,
    ].join("\n");
    this.tip.hidden = false;
    this.tip.style.left = `${Math.min(e.clientX - rect.left + 14, rect.width - 360)}px`;
    this.tip.style.top = `${e.clientY - rect.top + 14}px`;
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  private draw(): void {
    const width = this.scroller.clientWidth;
    const height = this.scroller.clientHeight;
    const ratio = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(width * ratio) || this.canvas.height !== Math.round(height * ratio)) {
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const g = this.canvas.getContext("2d")!;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    this.drawRows(g, width, height);
    this.drawAxis(g, width, height);
  }

  private drawRows(g: CanvasRenderingContext2D, width: number, height: number): void {
    const conns = this.conns;
    if (!conns) return;
    const h = this.rowHeight;
    const bar = Math.max(2, h - (h > 6 ? 3 : 1));
    const first = Math.floor(this.scroller.scrollTop / h);
    const last = Math.min(this.rows.length, first + Math.ceil((height - AXIS_HEIGHT) / h) + 1);
    const clampX = (x: number) => Math.max(-10, Math.min(width + 10, x));
    for (let at = first; at < last; at++) {
      const row = this.rows[at]!;
      const y = AXIS_HEIGHT + at * h - this.scroller.scrollTop;
      if (row === this.selected) { g.fillStyle = "#fff3bf"; g.fillRect(0, y, width, h); }
      const top = y + (h - bar) / 2;
      let right = -Infinity;
      for (const s of phasesOf(conns, row)) {
        const x0 = clampX(this.xOf(s.from, width));
        let x1 = clampX(this.xOf(s.to, width));
        if (s.phase === "time_wait") x1 = Math.max(x1, x0 + TIME_WAIT_MIN_PX);
        g.fillStyle = PHASE_COLORS[s.phase];
        g.fillRect(x0, top, Math.max(1, x1 - x0), bar);
        right = Math.max(right, x1);
      }
      // However long the axis, the connection shows: a bar narrower than MIN_BAR_PX is widened.
      const x0 = clampX(this.xOf(conns.tsMs[row]!, width));
      if (finite(right) && right - x0 < MIN_BAR_PX) { g.fillStyle = PHASE_COLORS[phasesOf(conns, row).at(-1)?.phase ?? "before"]; g.fillRect(x0, top, MIN_BAR_PX, bar); }
      const rst = conns.rstMs[row]!;
      if (finite(rst)) { g.fillStyle = MARK_COLORS.rst; g.fillRect(this.xOf(rst, width) - 1, y, 2.5, h); }
      g.fillStyle = MARK_COLORS.synRetransmit;
      for (const t of conns.synRetransmitsMs.get(row) ?? []) triangle(g, this.xOf(t, width), top, bar);
      if (conns.zeroWindows[row]! > 0 && finite(right)) { g.fillStyle = MARK_COLORS.zeroWindow; diamond(g, right + 4, y + h / 2, Math.min(4, h / 2)); }
    }
  }

  private drawAxis(g: CanvasRenderingContext2D, width: number, height: number): void {
    g.fillStyle = "#f8f9fb";
    g.fillRect(0, 0, width, AXIS_HEIGHT);
    g.strokeStyle = "#d5d9e0";
    g.beginPath();
    g.moveTo(0, AXIS_HEIGHT - 0.5);
    g.lineTo(width, AXIS_HEIGHT - 0.5);
    g.stroke();
    const calendar = this.to - this.from > CALENDAR_SPAN_MS;
    const step = calendar ? calendarStep((this.to - this.from) / Math.max(1, width / 130)) : niceStep((this.to - this.from) / Math.max(1, width / 110));
    const origin = this.conns?.originNs ?? 0n;
    // Calendar ticks fall on whole UTC days (or hours) of wall time, not of time since the first packet.
    const offset = calendar ? Number((origin / 1_000_000n) % BigInt(step)) : 0;
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "middle";
    for (let t = Math.ceil((this.from + offset) / step) * step - offset; t <= this.to; t += step) {
      const x = Math.round(this.xOf(t, width)) + 0.5;
      g.strokeStyle = "rgba(0,0,0,0.07)";
      g.beginPath();
      g.moveTo(x, AXIS_HEIGHT);
      g.lineTo(x, height);
      g.stroke();
      g.fillStyle = "#495057";
      g.fillText(calendar ? formatDate(origin, t, step >= DAY_MS) : formatMs(t) || "0", x + 3, AXIS_HEIGHT / 2);
    }
  }
}

/** A calendar step of at least `raw` ms: hours, days, weeks, 30 or 365 days. */
function calendarStep(raw: number): number {
  const HOUR = 3_600_000;
  for (const step of [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY_MS, 2 * DAY_MS, 7 * DAY_MS, 14 * DAY_MS, 30 * DAY_MS, 91 * DAY_MS, 182 * DAY_MS]) if (step >= raw) return step;
  return 365 * DAY_MS * Math.ceil(raw / (365 * DAY_MS));
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function triangle(g: CanvasRenderingContext2D, x: number, top: number, size: number): void {
  const s = Math.max(3, Math.min(7, size));
  g.beginPath();
  g.moveTo(x, top + size);
  g.lineTo(x - s / 2, top + size - s);
  g.lineTo(x + s / 2, top + size - s);
  g.closePath();
  g.fill();
}

function diamond(g: CanvasRenderingContext2D, x: number, y: number, r: number): void {
  g.beginPath();
  g.moveTo(x, y - r);
  g.lineTo(x + r, y);
  g.lineTo(x, y + r);
  g.lineTo(x - r, y);
  g.closePath();
  g.fill();
}
