// The side tables a run may ask for besides the connections (events, packets): whether any is on,
// and whether both have room for what one frame may write. With neither on, the per-frame check is
// one test of a flag.

import { Abi } from "../../src/core/abi";
import { eventsEnabled, eventRows, MAX_EVENTS_PER_SEGMENT } from "./events";
import { packetsEnabled, packetsRoom } from "./packets";

export let sideTables: bool = false;

export function initSideTables(): void {
  sideTables = eventsEnabled || packetsEnabled;
}

/** Room for the events one frame may write (a segment's, and rows a port reuse or eviction end) and its packet row. */
@inline export function frameRoom(): bool {
  return !sideTables || sideRoom();
}

function sideRoom(): bool {
  return (!eventsEnabled || eventRows + MAX_EVENTS_PER_SEGMENT + 4 <= <u32>Abi.BatchEvents) && packetsRoom();
}
