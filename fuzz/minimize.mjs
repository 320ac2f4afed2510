// Shrinks a failing input while it keeps failing the same way: whole records first (keeping the
// framing consistent), then byte ranges of halving size, within a time budget; then drops the
// options of its config that it does not need.

import { concat, parseCapture, writeCapture } from "./capture.mjs";

/** The smallest input found for which `fails` (async) stays true. */
export async function minimize(bytes, fails, budgetMs) {
  const deadline = performance.now() + budgetMs;
  const timeLeft = () => performance.now() < deadline;
  let best = bytes;
  const c = parseCapture(best);
  if (c && (await fails(writeCapture(c)))) {
    for (let i = c.items.length - 1; i >= 0 && timeLeft(); i--) {
      const items = c.items.filter((_, j) => j !== i);
      const candidate = writeCapture({ ...c, items });
      if (await fails(candidate)) { c.items = items; best = candidate; }
    }
  }
  for (let size = 1 << Math.floor(Math.log2(Math.max(1, best.length / 2))); size >= 1 && timeLeft(); size >>= 1) {
    for (let at = 0; at + size <= best.length && timeLeft();) {
      const candidate = concat([best.subarray(0, at), best.subarray(at + size)]);
      if (await fails(candidate)) best = candidate;
      else at += size;
    }
  }
  return best;
}

/** The config with every option that `fails(config)` does not need set back to its default. */
export async function simplifyConfig(config, defaults, fails) {
  let best = config;
  for (const key of Object.keys(defaults)) {
    if (best[key] === defaults[key]) continue;
    const candidate = { ...best, [key]: defaults[key] };
    if (await fails(candidate)) best = candidate;
  }
  return best;
}
