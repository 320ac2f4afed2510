// Numbers as people read them: bytes, durations, counts and capture-relative times.

const BYTE_UNITS = ["B", "kB", "MB", "GB", "TB"];

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "";
  let unit = 0;
  while (Math.abs(n) >= 1000 && unit < BYTE_UNITS.length - 1) { n /= 1000; unit++; }
  return `${unit === 0 ? Math.round(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${BYTE_UNITS[unit]}`;
}

export const DAY_MS = 86_400_000;
const YEAR_MS = 365.25 * DAY_MS;

/** A duration given in milliseconds, in the unit that suits it. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "";
  const a = Math.abs(ms);
  if (a === 0) return "0";
  if (a < 1) return `${(ms * 1000).toPrecision(3)} µs`;
  if (a < 1000) return `${ms.toPrecision(3)} ms`;
  if (a < 60_000) return `${(ms / 1000).toPrecision(3)} s`;
  if (a < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (a < 2 * DAY_MS) return `${(ms / 3_600_000).toFixed(1)} h`;
  if (a < 2 * YEAR_MS) return `${(ms / DAY_MS).toFixed(1)} days`;
  return `${(ms / YEAR_MS).toFixed(1)} years`;
}

export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "";
}

/** A rate such as packets/s: 3.93 M, 812 k. */
export function formatRate(n: number): string {
  if (!Number.isFinite(n)) return "–";
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

/** An instant `ms` after the capture's first packet as a UTC calendar date, with hours and minutes unless `dayOnly`. */
export function formatDate(originNs: bigint, ms: number, dayOnly: boolean): string {
  if (!Number.isFinite(ms)) return "";
  const iso = new Date(Number(originNs / 1_000_000n) + ms).toISOString();
  return dayOnly ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** An instant `ms` after the capture's first packet, as UTC wall time with microseconds. */
export function formatInstant(originNs: bigint, ms: number): string {
  if (!Number.isFinite(ms)) return "";
  const ns = originNs + BigInt(Math.round(ms * 1e6));
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  const micros = ((ns % 1_000_000_000n) / 1000n).toString().padStart(6, "0");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${micros}`;
}
