// A mapper of a parallel run (parts.ts): decodes framed chunks into the partitions.

import { setFrame } from "../capture/frame";
import { decodeFrame, setDecodeClock } from "../engine";
import { count } from "../stats";
import { DESC_SIZE, LINKTYPE_FILTERED, STAT_DEFERRED, noteDeferred, setDeferFragments, setMapIndex, setStamp } from "./parts";
import { Stat } from "../../src/core/abi";

/**
 * A mapper: decodes `n` framed frames (descriptors at `desc`, data offsets from `chunk`) into the
 * partitions. With `defer`, fragments and UDP tunnels are not decoded but listed (deferredIndex) for the framer.
 * `firstIndex` numbers the frames for index-keyed state; `indexes`, when not 0, gives each
 * frame's index within its chunk (the framer's deferred frames), else it is its position.
 */
export function mapFrames(desc: usize, n: u32, chunk: usize, defer: bool, indexes: usize): void {
  setDeferFragments(defer);
  for (let i: u32 = 0; i < n; i++) {
    const d = desc + <usize>i * DESC_SIZE;
    setMapIndex(indexes != 0 ? load<u32>(indexes + (<usize>i << 2)) : i);
    const tsNs = load<i64>(d);
    const capLen = load<u32>(d, 12), origLen = load<u32>(d, 16), linkType = load<u32>(d, 20);
    const data = chunk + <usize>load<u32>(d, 8);
    setFrame(tsNs, load<u32>(d, 24), load<u32>(d, 28) != 0);
    setDecodeClock(load<i64>(d, 32));
    setStamp(tsNs, load<i64>(d, 32));
    // The framer's filter rejected it (engine.ts skipRecord).
    if (linkType == LINKTYPE_FILTERED) { count(Stat.Filtered); continue; }
    const stat = decodeFrame(tsNs, capLen, origLen, linkType, data);
    if (stat == STAT_DEFERRED) noteDeferred(i); else count(stat);
  }
  setDeferFragments(false);
}

