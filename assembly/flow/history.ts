// Zeek's history string (TCPSessionAdapter.cc update_history, TCP_Endpoint::CheckHistory,
// Session::ScaledHistoryEntry): upper case for the originator, lower case for the responder.

import { Abi } from "../../src/core/abi";
import { Flow, historyOf } from "./record";

// hist_seen masks (TCP_Endpoint.h HIST_*); the responder's are shifted left by 16.
export const HIST_SYN: u32 = 0x1;
export const HIST_FIN: u32 = 0x2;
export const HIST_RST: u32 = 0x4;
export const HIST_FIN_RST: u32 = 0x8;
export const HIST_DATA: u32 = 0x10;
export const HIST_ACK: u32 = 0x20;
export const HIST_MULTI_FLAG: u32 = 0x40;

const LOWER: u32 = 0x20;

/** Appends a letter in the sender's case. */
export function addHistory(f: Flow, isOrig: bool, code: u32): void {
  appendLetter(f, isOrig ? code : code | LOWER);
}

export function appendLetter(f: Flow, letter: u32): void {
  if (<u32>f.historyLen >= <u32>Abi.HistoryBytes) return;
  store<u8>(historyOf(f) + f.historyLen, <u8>letter);
  f.historyLen++;
}

/** Records a once-per-direction letter; returns true if it had been seen before. */
export function checkHistory(f: Flow, isOrig: bool, mask: u32, code: u32): bool {
  const m = isOrig ? mask : mask << 16;
  if ((f.histSeen & m) != 0) return true;
  f.histSeen |= m;
  addHistory(f, isOrig, code);
  return false;
}

/**
 * Session::ScaledHistoryEntry: counts an occurrence and adds the letter at the 1st, 10th, 100th …
 * Returns the new threshold (the caller stores count and threshold back).
 */
export function scaledHistory(f: Flow, isOrig: bool, code: u32, count: u32, threshold: u32): u32 {
  if (count != threshold) return threshold;
  addHistory(f, isOrig, code);
  const next = <u64>threshold * 10;
  return next > <u64>u32.MAX_VALUE ? u32.MAX_VALUE : <u32>next;
}

/** Whether the history is exactly the one letter `letter`. */
export function historyIs(f: Flow, letter: u32): bool {
  return f.historyLen == 1 && <u32>load<u8>(historyOf(f)) == letter;
}

/** Replaces the history with the given two letters (the "^h" of the second-packet flip). */
export function setHistory2(f: Flow, a: u32, b: u32): void {
  const h = historyOf(f);
  store<u8>(h, <u8>a);
  store<u8>(h + 1, <u8>b);
  f.historyLen = 2;
}
