// The invariant that ties the packets table to the connection table: each connection's packets
// rows are its packets, in capture order, and their analysis flags add up to its totals.

import type { Row } from "./rows.js";

/** The analysis flags and the connection-row totals they add up to (both directions). */
const TOTALS: ReadonlyArray<[string, string]> = [
  ["retransmission", "retransmits"], ["fast_retransmission", "fast_retransmits"], ["spurious_retransmission", "spurious_retransmits"],
  ["out_of_order", "out_of_order"], ["lost_segment", "lost_segments"], ["ack_lost_segment", "ack_lost_segments"],
  ["duplicate_ack", "dup_acks"], ["zero_window", "zero_windows"], ["zero_window_probe", "zero_window_probes"],
  ["window_full", "window_full"], ["keep_alive", "keepalives"],
];

/** Where the packets rows of each connection do not add up to its row. */
export function packetsAgainstRows(connections: Row[], packets: Row[]): string[] {
  const byConn = new Map<number, Row[]>();
  let lastPacket = -1;
  const differences: string[] = [];
  for (const p of packets) {
    if ((p.packet as number) <= lastPacket) differences.push(`packet ${p.packet} after ${lastPacket}: not in capture order`);
    lastPacket = p.packet as number;
    const list = byConn.get(p.conn_id as number) ?? [];
    list.push(p);
    byConn.set(p.conn_id as number, list);
  }
  for (const c of connections) {
    const rows = byConn.get(c.conn_id as number) ?? [];
    byConn.delete(c.conn_id as number);
    const pkts = (c.orig_pkts as number) + (c.resp_pkts as number);
    if (rows.length !== pkts) differences.push(`conn ${c.conn_id}: ${rows.length} packets rows, ${pkts} packets`);
    for (const [flag, total] of TOTALS) {
      const want = (c[`orig_${total}`] as number) + (c[`resp_${total}`] as number);
      const got = rows.filter((r) => r[flag] === true).length;
      if (got !== want) differences.push(`conn ${c.conn_id} ${flag}: ${got} rows, total ${want}`);
    }
  }
  for (const id of byConn.keys()) differences.push(`packets rows of conn ${id}, which has no row`);
  return differences;
}
