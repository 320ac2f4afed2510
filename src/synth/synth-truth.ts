// What the synthesizer knows about each connection it wrote: the expected connection row, counted from the packets kept.

import { formatAddress } from "../core/address.js";
import { FIN, RST, SYN } from "./packet.js";

/**
 * One synthetic connection as the generator wrote it, named like synfin's columns. The counts
 * cover only the packets that were kept (a file cut at its byte budget drops the last one).
 * `orig_bytes` counts payload once (retransmissions excluded), as synfin and Zeek count it from
 * sequence numbers; `orig_ip_bytes` counts every packet's IP total length.
 */
export interface ConnTruth {
  id: number;
  ip_version: 4 | 6;
  vlan: number | null;
  orig_h: string;
  orig_p: number;
  resp_h: string;
  resp_p: number;
  /** The responder sent a SYN-ACK. */
  answered: boolean;
  /** How it ended in the file: both FINs, an RST, or neither (unanswered, left open, or cut by the file's end). */
  close: "fin" | "rst" | "none";
  /** Who sent the first FIN or the RST; null when nobody did. */
  closer: "orig" | "resp" | null;
  orig_fin: boolean;
  resp_fin: boolean;
  /** The generator played the connection to its end (false: the file ended first). */
  finished: boolean;
  orig_pkts: number;
  resp_pkts: number;
  orig_ip_bytes: number;
  resp_ip_bytes: number;
  orig_bytes: number;
  resp_bytes: number;
  orig_retransmits: number;
  resp_retransmits: number;
  orig_out_of_order: number;
  resp_out_of_order: number;
  /** A resent 1-byte segment sits at the next sequence − 1: Wireshark calls it a keep-alive, not a retransmission. */
  orig_keepalives: number;
  resp_keepalives: number;
  orig_syns: number;
  /** Packets (both ways) whose TCP header the snap length cut: synfin counts them as truncatedHeaders, not as this connection's. */
  headers_cut: number;
}

/** How a segment relates to the ones before it in its direction. */
export const SEGMENT_NEW = 0;
export const SEGMENT_RETRANSMIT = 1;
export const SEGMENT_OUT_OF_ORDER = 2;

const ORIG = 0;
const RESP = 1;

/** Running counts of one connection's kept packets; index 0 is the originator (client), 1 the responder. */
export class ConnTally {
  readonly pkts = [0, 0];
  readonly ipBytes = [0, 0];
  readonly payloadBytes = [0, 0];
  readonly retransmits = [0, 0];
  readonly outOfOrder = [0, 0];
  readonly keepalives = [0, 0];
  readonly fin = [false, false];
  origSyns = 0;
  headersCut = 0;
  answered = false;
  rstBy = -1;
  firstFinBy = -1;

  count(fromClient: boolean, flags: number, payloadLen: number, ipLen: number, kind: number, headerCut: boolean): void {
    const side = fromClient ? ORIG : RESP;
    if (headerCut) this.headersCut++;
    this.pkts[side]++;
    this.ipBytes[side] += ipLen;
    if (kind === SEGMENT_RETRANSMIT && payloadLen === 1) this.keepalives[side]++;
    else if (kind === SEGMENT_RETRANSMIT) this.retransmits[side]++;
    if (kind !== SEGMENT_RETRANSMIT) this.payloadBytes[side] += payloadLen;
    if (kind === SEGMENT_OUT_OF_ORDER) this.outOfOrder[side]++;
    if (flags & SYN) {
      if (fromClient) this.origSyns++;
      else this.answered = true;
    }
    if (flags & FIN) {
      this.fin[side] = true;
      if (this.firstFinBy < 0) this.firstFinBy = side;
    }
    if (flags & RST && this.rstBy < 0) this.rstBy = side;
  }

  get packets(): number { return this.pkts[ORIG] + this.pkts[RESP]; }
}

/** The fixed facts of a connection that its tally does not hold. */
export interface ConnIdentity {
  id: number;
  isV6: boolean;
  vlanId: number;
  clientAddr: Uint8Array;
  serverAddr: Uint8Array;
  clientPort: number;
  serverPort: number;
}

export function connTruth(who: ConnIdentity, tally: ConnTally, finished: boolean): ConnTruth {
  const closeSide = tally.rstBy >= 0 ? tally.rstBy : tally.firstFinBy;
  const addrLen = who.isV6 ? 16 : 4;
  return {
    id: who.id,
    ip_version: who.isV6 ? 6 : 4,
    vlan: who.vlanId === 0 ? null : who.vlanId,
    orig_h: formatAddress(who.clientAddr, 0, addrLen),
    orig_p: who.clientPort,
    resp_h: formatAddress(who.serverAddr, 0, addrLen),
    resp_p: who.serverPort,
    answered: tally.answered,
    close: tally.rstBy >= 0 ? "rst" : tally.fin[ORIG] && tally.fin[RESP] ? "fin" : "none",
    closer: closeSide === ORIG ? "orig" : closeSide === RESP ? "resp" : null,
    orig_fin: tally.fin[ORIG],
    resp_fin: tally.fin[RESP],
    finished,
    orig_pkts: tally.pkts[ORIG],
    resp_pkts: tally.pkts[RESP],
    orig_ip_bytes: tally.ipBytes[ORIG],
    resp_ip_bytes: tally.ipBytes[RESP],
    orig_bytes: tally.payloadBytes[ORIG],
    resp_bytes: tally.payloadBytes[RESP],
    orig_retransmits: tally.retransmits[ORIG],
    resp_retransmits: tally.retransmits[RESP],
    orig_out_of_order: tally.outOfOrder[ORIG],
    resp_out_of_order: tally.outOfOrder[RESP],
    orig_keepalives: tally.keepalives[ORIG],
    resp_keepalives: tally.keepalives[RESP],
    orig_syns: tally.origSyns,
    headers_cut: tally.headersCut,
  };
}
