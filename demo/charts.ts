// Summary charts: conn_state counts (HTML bars, with the test hooks `state-count-<STATE>`) and
// log-binned histograms on canvas for the handshake RTT legs, durations and bytes.

import type { Connections } from "./model.js";
import { formatBytes, formatCount, formatMs } from "./units.js";

export interface Series {
  label: string;
  color: string;
  values: (c: Connections, row: number) => number;
}

export interface HistogramSpec {
  series: Series[];
  /** Formats a bin edge (in the values' unit). */
  unit: (v: number) => string;
  /** What the x axis measures (its bins are logarithmic). */
  axis: string;
}

const BINS_PER_DECADE = 4;

export const HISTOGRAMS: Record<string, HistogramSpec> = {
  rtt: {
    series: [
      { label: "SYN → SYN-ACK", color: "#e8a33d", values: (c, r) => c.rttSynSynackMs[r]! },
      { label: "SYN-ACK → ACK", color: "#4a7fd1", values: (c, r) => c.rttSynackAckMs[r]! },
    ],
    unit: formatMs,
    axis: "handshake leg (log scale)",
  },
  duration: { series: [{ label: "duration", color: "#3f9b5a", values: (c, r) => c.durationS[r]! * 1000 }], unit: formatMs, axis: "Zeek's duration (log scale)" },
  bytes: {
    series: [
      { label: "orig_bytes", color: "#4a7fd1", values: (c, r) => c.origBytes[r]! },
      { label: "resp_bytes", color: "#8b76c2", values: (c, r) => c.respBytes[r]! },
    ],
    unit: formatBytes,
    axis: "payload bytes each way (log scale)",
  },
};

/** Bar per conn_state; clicking a state's name filters by it. */
export function renderStateCounts(host: HTMLElement, counts: [string, number][], onPick: (state: string) => void): void {
  const max = Math.max(1, ...counts.map(([, n]) => n));
  host.replaceChildren(...counts.map(([state, n]) => {
    const row = document.createElement("div");
    row.className = "state-row";
    const name = document.createElement("button");
    name.textContent = state;
    name.title = `Show only ${state}`;
    name.addEventListener("click", () => onPick(state));
    const bar = document.createElement("div");
    bar.className = "state-bar";
    bar.style.width = `${(100 * n) / max}%`;
    const track = document.createElement("div");
    track.className = "state-track";
    track.append(bar);
    const count = document.createElement("span");
    count.className = "state-count";
    count.dataset.testid = `state-count-${state}`;
    count.textContent = formatCount(n);
    row.append(name, track, count);
    return row;
  }));
}

interface Binned {
  /** log10 of the first bin's lower edge. */
  lowDecade: number;
  bins: number;
  /** Per series: [zero count, then one count per bin]. */
  counts: number[][];
  /** Rows without a value (null), per series. */
  missing: number[];
}

function bin(conns: Connections, rows: Uint32Array, spec: HistogramSpec): Binned {
  let min = Infinity, max = -Infinity;
  for (const s of spec.series) {
    for (const row of rows) {
      const v = s.values(conns, row);
      if (v > 0) { min = Math.min(min, v); max = Math.max(max, v); }
    }
  }
  const lowDecade = Number.isFinite(min) ? Math.floor(Math.log10(min)) : 0;
  const bins = Number.isFinite(max) ? Math.max(1, Math.ceil((Math.log10(max) - lowDecade) * BINS_PER_DECADE + 1e-9)) : 1;
  const counts = spec.series.map(() => new Array<number>(bins + 1).fill(0));
  const missing = spec.series.map(() => 0);
  spec.series.forEach((s, i) => {
    for (const row of rows) {
      const v = s.values(conns, row);
      if (!Number.isFinite(v)) missing[i]!++;
      else if (v <= 0) counts[i]![0]!++;
      else counts[i]![1 + Math.min(bins - 1, Math.floor((Math.log10(v) - lowDecade) * BINS_PER_DECADE))]!++;
    }
  });
  return { lowDecade, bins, counts, missing };
}

/** Draws a log-binned histogram of `rows` (the first bar counts zeros). */
export function drawHistogram(canvas: HTMLCanvasElement, conns: Connections, rows: Uint32Array, spec: HistogramSpec): void {
  const { lowDecade, bins, counts, missing } = bin(conns, rows, spec);
  const width = canvas.clientWidth, height = canvas.clientHeight;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d")!;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = "11px system-ui, sans-serif";
  const max = Math.max(1, ...counts.flat());
  const legend = legendLayout(g, spec, missing, width - 8);
  // Left: the y axis caption (rotated) and the largest count; below the bars: bin edges, the x axis caption, the legend.
  const left = 14 + Math.max(24, g.measureText(formatCount(max)).width + 8), bottom = height - 35 - 13 * legend.lines, top = 8, right = width - 8;
  const slots = bins + 1;
  const slot = (right - left) / slots;
  g.fillStyle = "#868e96";
  g.textAlign = "right";
  g.textBaseline = "middle";
  g.fillText(formatCount(max), left - 4, top + 4);
  g.fillText("0", left - 4, bottom);
  spec.series.forEach((s, i) => {
    g.fillStyle = s.color;
    const w = Math.max(1, (slot - 2) / spec.series.length);
    counts[i]!.forEach((n, b) => {
      if (!n) return;
      const h = Math.max(1, ((bottom - top) * n) / max);
      g.fillRect(left + b * slot + 1 + i * w, bottom - h, w - (spec.series.length > 1 ? 0.5 : 0), h);
    });
  });
  g.strokeStyle = "#adb5bd";
  g.beginPath();
  g.moveTo(left, bottom + 0.5);
  g.lineTo(right, bottom + 0.5);
  g.stroke();
  g.fillStyle = "#495057";
  g.textAlign = "center";
  g.textBaseline = "top";
  // Bin edges at each power of ten, skipping any label that would overlap the one before it.
  let labelledTo = -Infinity;
  const label = (text: string, x: number) => {
    const half = g.measureText(text).width / 2;
    if (x - half < labelledTo + 6 || x + half > width) return;
    g.fillText(text, x, bottom + 3);
    labelledTo = x + half;
  };
  label("0", left + slot / 2);
  for (let b = 0; b <= bins; b += BINS_PER_DECADE) label(spec.unit(10 ** (lowDecade + b / BINS_PER_DECADE)), left + (b + 1) * slot);
  g.fillStyle = "#868e96";
  g.fillText(spec.axis, (left + right) / 2, bottom + 16);
  g.save();
  g.translate(4, (top + bottom) / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = "top";
  g.fillText("connections", 0, 0);
  g.restore();
  g.textAlign = "left";
  for (const item of legend.items) {
    const y = height - 13 * (legend.lines - item.line);
    g.fillStyle = item.color;
    g.fillRect(item.x, y + 1, 9, 9);
    g.fillStyle = "#495057";
    g.fillText(item.label, item.x + 12, y);
  }
}

/** The series' names (with how many rows have no value), placed left to right, wrapping at `right`. */
function legendLayout(g: CanvasRenderingContext2D, spec: HistogramSpec, missing: number[], right: number) {
  g.font = "11px system-ui, sans-serif";
  const items: { label: string; color: string; x: number; line: number }[] = [];
  const start = 8;
  let x = start, line = 0;
  spec.series.forEach((s, i) => {
    const label = `${s.label}${missing[i] ? ` (${formatCount(missing[i]!)} ${missing[i] === 1 ? "connection" : "connections"} without one)` : ""}`;
    const w = g.measureText(label).width + 12;
    if (x + w > right && x > start) { x = start; line++; }
    items.push({ label, color: s.color, x, line });
    x += w + 16;
  });
  return { items, lines: line + 1 };
}
