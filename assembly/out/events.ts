// The events output: one row per lifecycle transition, column-major like the connection batch,
// written only when the run asked for events.

import { Abi, Event } from "../../src/core/abi";

const ROWS: usize = <usize>Abi.BatchEvents;
const I64_COLUMNS: usize = 3;
const U8_COLUMNS: usize = 4;
/** Event direction: the originator, the responder, or neither (timers, end of input). */
export const DIR_ORIG: u32 = 0;
export const DIR_RESP: u32 = 1;
export const DIR_NONE: u32 = 2;
/** The most events one segment can write (SYN-ACK, ESTABLISHED, data, FIN acked, FIN, RST, CLOSED: flow/lifecycle.ts). */
export const MAX_EVENTS_PER_SEGMENT: u32 = 7;

let regionI64: usize = 0;
let regionU8: usize = 0;
export let eventRows: u32 = 0;
export let eventsEnabled: bool = false;

export function initEvents(enabled: bool): void {
  eventsEnabled = enabled;
  eventRows = 0;
  if (!enabled || regionI64 != 0) return;
  regionI64 = heap.alloc(ROWS * 8 * I64_COLUMNS);
  regionU8 = heap.alloc(ROWS * U8_COLUMNS);
}

/** Whether the events batch has room for `n` more. */
@inline export function eventsRoom(n: u32): bool {
  return !eventsEnabled || eventRows + n <= <u32>Abi.BatchEvents;
}

export function clearEvents(): void { eventRows = 0; }

/** Base address of an events column: group 0 i64 (conn_id, ts, packet), 1 u8. */
export function eventColumnAddress(group: u32, col: u32): usize {
  return group == 0 ? regionI64 + <usize>col * ROWS * 8 : regionU8 + <usize>col * ROWS;
}

export function putEvent(connId: i64, tsNs: i64, packet: i64, direction: u32, event: Event, origState: i32, respState: i32): void {
  if (!eventsEnabled) return;
  const i = <usize>eventRows;
  store<i64>(regionI64 + i * 8, connId);
  store<i64>(regionI64 + (ROWS + i) * 8, tsNs);
  store<i64>(regionI64 + (2 * ROWS + i) * 8, packet);
  store<u8>(regionU8 + i, <u8>direction);
  store<u8>(regionU8 + ROWS + i, <u8>event);
  store<u8>(regionU8 + 2 * ROWS + i, <u8>origState);
  store<u8>(regionU8 + 3 * ROWS + i, <u8>respState);
  eventRows++;
}
