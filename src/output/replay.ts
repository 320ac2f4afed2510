// A connection's row read off its events alone: the lifecycle instants, the final endpoint
// states, the role flips and how it ended. The events table promises this (docs/columns.md, Events); the
// conformance test and the fuzzer hold the core to it with this one reading.

/** One event as a plain object (an NDJSON line or a decoded Arrow row); `T` is its time type. */
export interface EventRow<T> {
  event: string;
  direction: string | null;
  ts: T;
  orig_state: string;
  resp_state: string;
}

export interface Replayed<T> {
  syn_ts: T | null; synack_ts: T | null; established_ts: T | null;
  orig_first_data_ts: T | null; resp_first_data_ts: T | null;
  orig_fin_ts: T | null; resp_fin_ts: T | null; rst_ts: T | null; closed_ts: T | null;
  orig_state: string; resp_state: string;
  /** FLIP events: history letters '^'. */
  flips: number;
  /** The end_reason, with fin and rst both "closed" (the events tell a close, not its kind). */
  end: string;
}

const END_EVENTS: Record<string, string> = {
  IDLE_TIMEOUT: "idle_timeout", ATTEMPT_TIMEOUT: "attempt_timeout", REUSE: "reuse", EOF: "eof", EVICTED: "evicted",
};

/** Replays one connection's events, in table order; directions are mapped to the final roles. */
export function replayEvents<T>(events: ReadonlyArray<EventRow<T>>): Replayed<T> {
  // A FLIP swaps the roles of everything before it: count the flips after each event.
  let flipsAfter = 0;
  const finalDirection: Array<string | null> = new Array(events.length);
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.event === "FLIP") { flipsAfter++; finalDirection[i] = null; continue; }
    const d = e.direction;
    finalDirection[i] = d === null ? null : flipsAfter % 2 === 0 ? d : d === "orig" ? "resp" : "orig";
  }
  const first = (pred: (e: EventRow<T>, dir: string | null) => boolean): T | null => {
    const i = events.findIndex((e, k) => pred(e, finalDirection[k]!));
    return i < 0 ? null : events[i]!.ts;
  };
  const isSyn = (e: EventRow<T>) => e.event === "SYN" || e.event === "SYN_ACK";
  const last = events.at(-1);
  return {
    syn_ts: first((e, d) => isSyn(e) && d === "orig"),
    synack_ts: first((e, d) => isSyn(e) && d === "resp"),
    established_ts: first((e) => e.event === "ESTABLISHED"),
    orig_first_data_ts: first((e, d) => e.event === "FIRST_DATA" && d === "orig"),
    resp_first_data_ts: first((e, d) => e.event === "FIRST_DATA" && d === "resp"),
    orig_fin_ts: first((e, d) => e.event === "FIN" && d === "orig"),
    resp_fin_ts: first((e, d) => e.event === "FIN" && d === "resp"),
    rst_ts: first((e) => e.event === "RST"),
    closed_ts: first((e) => e.event === "CLOSED"),
    orig_state: last?.orig_state ?? "UNKNOWN",
    resp_state: last?.resp_state ?? "UNKNOWN",
    flips: events.filter((e) => e.event === "FLIP").length,
    end: last && END_EVENTS[last.event] ? END_EVENTS[last.event]! : "closed",
  };
}
