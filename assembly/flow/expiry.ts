// Zeek's connection timers on packet time (TCPSessionAdapter AttemptTimer, ExpireTimer,
// ConnDeleteTimer; the session inactivity timer). A flow keeps each timer's deadline; the heap in
// timers.ts wakes it at the earliest, and `onWake` runs what is due in deadline order.

import { EndReason } from "../../src/core/abi";
import { Flow, Zeek, NO_TIME, endpointOf } from "./record";
import { armTimer, rearmTimer } from "./timers";

const SECOND_NS: i64 = 1_000_000_000;
/** tcp_attempt_delay, tcp_SYN_timeout, tcp_connection_linger, tcp_close_delay: 5 s. */
const FIVE_S: i64 = 5 * SECOND_NS;
/** tcp_session_timer: 6 s. */
const SIX_S: i64 = 6 * SECOND_NS;

/** Returned by onWake when nothing is to be removed. */
export const STAY: i32 = -1;

/** AttemptTimer: armed by the originator's first SYN. */
export function armAttempt(f: Flow, tsNs: i64): void {
  f.attemptNs = tsNs + FIVE_S;
}

/** First ExpireTimer, tcp_SYN_timeout after the connection is created. */
export function armFirstExpire(f: Flow, nowNs: i64): void {
  f.expireNs = nowNs + FIVE_S;
}

/** ConnectionClosed with the close complete: adapter timers cancelled, delete after 5 s. */
export function onCloseComplete(f: Flow): void {
  f.attemptNs = NO_TIME;
  f.expireNs = NO_TIME;
  f.deleteNs = f.lastNs + FIVE_S;
}

/** ConnectionClosed with one side still open: another ExpireTimer 6 s after the last packet. */
export function onHalfClose(f: Flow): void {
  const at = f.lastNs + SIX_S;
  if (f.expireNs == NO_TIME || at < f.expireNs) f.expireNs = at;
}

function earliestDeadline(f: Flow): i64 {
  let t = f.lastNs + f.inactivityNs;
  if (f.attemptNs != NO_TIME && f.attemptNs < t) t = f.attemptNs;
  if (f.expireNs != NO_TIME && f.expireNs < t) t = f.expireNs;
  if (f.deleteNs != NO_TIME && f.deleteNs < t) t = f.deleteNs;
  return t;
}

/**
 * Makes sure the timer heap wakes the flow at its earliest deadline. Once its close completed, the
 * deadline is final (no packet moves it): the timer is queued at it exactly, as the one queued
 * before (the first ExpireTimer's, often) would wake the flow early, its record long gone cold.
 */
export function scheduleFlow(f: Flow): void {
  if (f.deleteNs != NO_TIME) rearmTimer(f.index, earliestDeadline(f));
  else armTimer(f.index, earliestDeadline(f));
}

/** Runs the flow's timers due at `nowNs`; returns the EndReason to remove it with, or STAY. */
export function onWake(f: Flow, nowNs: i64): i32 {
  while (true) {
    const t = earliestDeadline(f);
    if (t > nowNs) break;
    if (t == f.deleteNs) return EndReason.Eof; // ConnDeleteTimer: the close completed earlier.
    if (t == f.attemptNs) {
      f.attemptNs = NO_TIME;
      if (attemptUnanswered(f)) { f.isActive = false; return EndReason.AttemptTimeout; }
      continue;
    }
    if (t == f.expireNs) {
      const removal = expireTimer(f, nowNs);
      if (removal != STAY) return removal;
      continue;
    }
    // The inactivity timer: nothing for the timeout.
    return EndReason.IdleTimeout;
  }
  scheduleFlow(f);
  return STAY;
}

function attemptUnanswered(f: Flow): bool {
  const o = endpointOf(f, 0).state, r = endpointOf(f, 1).state;
  return f.isActive && (o == Zeek.SynSent || o == Zeek.SynAckSent) && r == Zeek.Inactive;
}

/** ExpireTimer: removes closed or dead connections after tcp_connection_linger, else re-arms. */
function expireTimer(f: Flow, nowNs: i64): i32 {
  if (!f.isActive) { f.expireNs = NO_TIME; return STAY; }
  const o = endpointOf(f, 0), r = endpointOf(f, 1);
  if (f.lastNs + FIVE_S < nowNs) {
    if (o.didClose || r.didClose) {
      const done = (o.didClose && r.didClose) || o.state == Zeek.Reset || r.state == Zeek.Reset ||
        o.state == Zeek.Inactive || r.state == Zeek.Inactive;
      if (done) { f.isActive = false; return EndReason.IdleTimeout; }
    }
    if (o.state == Zeek.Inactive && r.state == Zeek.Inactive) return EndReason.IdleTimeout;
  }
  f.expireNs = nowNs + SIX_S;
  return STAY;
}
