// The library's resource bounds as the page takes them from its URL (`?maxFlows=100000&memoryLimit=64M`),
// passed to `connections()` in the worker. Only the spelling is checked here; the ranges are the
// library's to check (a RangeError when a file is analysed).

import { formatCount } from "./units.js";

/** The options of `connections()` that the URL may set; absent ones keep the library's defaults. */
export interface Limits {
  /** Most connections tracked at once (library default 500,000). */
  maxFlows?: number;
  /** Bytes of wasm memory the core may use (library default 4 GiB). */
  memoryLimit?: number;
}

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 };

/** "64M", "1.5G", "16MiB", "1048576": bytes, binary units (as the CLI's --memory-limit). */
function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new RangeError(`the URL's memoryLimit takes bytes or a size such as 64M or 2G, got '${text}'`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!);
}

function parseCount(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new RangeError(`the URL's maxFlows takes a whole number, got '${text}'`);
  return Number(text);
}

/** The limits in a query string; throws a RangeError naming a value it cannot read. */
export function limitsFromQuery(search: string): Limits {
  const query = new URLSearchParams(search);
  const limits: Limits = {};
  const maxFlows = query.get("maxFlows");
  const memoryLimit = query.get("memoryLimit");
  if (maxFlows !== null) limits.maxFlows = parseCount(maxFlows);
  if (memoryLimit !== null) limits.memoryLimit = parseSize(memoryLimit);
  return limits;
}

/** Bytes in the binary unit the limit was likely written in: "16 MiB", "1.5 GiB". */
function formatBinaryBytes(n: number): string {
  const [unit, size] = n >= SIZE_UNITS.G! ? ["GiB", SIZE_UNITS.G!] : n >= SIZE_UNITS.M! ? ["MiB", SIZE_UNITS.M!] : ["bytes", 1];
  return `${Number((n / size).toFixed(2))} ${unit}`;
}

/** "maxFlows 100,000 · memoryLimit 16 MiB", or "" when the URL sets neither. */
export function describeLimits(limits: Limits): string {
  const parts: string[] = [];
  if (limits.maxFlows !== undefined) parts.push(`maxFlows ${formatCount(limits.maxFlows)}`);
  if (limits.memoryLimit !== undefined) parts.push(`memoryLimit ${formatBinaryBytes(limits.memoryLimit)}`);
  return parts.join(" · ");
}
