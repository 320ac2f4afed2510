// Connection lifecycles: one small capture per scenario, named after it, with the expected row
// written from the rules it follows — Zeek's conn_state/history/timers/port reuse
// (shared/reference/SEMANTICS.md), RFC 9293 endpoint states, Wireshark's tcp.analysis counters
// and completeness bits, tcptrace's handshake RTT legs, RFC 3168 ECN and Community ID v1.

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Conversation, type ConversationOptions } from "../src/synth/conversation.js";
import { ACK, CWR, ECE, FIN, PSH, RST, SYN, parseIp } from "../src/synth/packet.js";
import type { CapturedPacket } from "../src/synth/capture.js";
import type { AnalyzeOptions } from "../src/node.js";
import { NS_PER_MS, NS_PER_SECOND, type Row, analyzeRows, onlyRow, pcapOf } from "./support/fixtures.js";

const T0 = 1_700_000_000n * NS_PER_SECOND;
const CLIENT = "10.0.0.1";
const SERVER = "10.0.0.2";
const CLIENT_PORT = 40000; // ephemeral: not one of Zeek's likely_server_ports
const HTTP = 80; // a likely server port
const CLIENT_ISN = 1_000_000;
const SERVER_ISN = 3_000_000_000; // above 2^31, so unsigned handling shows
const MSS = 1460;

const ms = (n: number) => BigInt(Math.round(n * Number(NS_PER_MS))); // milliseconds (fractions allowed), as ns
const seconds = (n: number) => BigInt(n) * NS_PER_SECOND;

function conversation(opts: Partial<ConversationOptions> = {}): Conversation {
  return new Conversation({
    client: CLIENT, server: SERVER, clientPort: CLIENT_PORT, serverPort: HTTP,
    clientIsn: CLIENT_ISN, serverIsn: SERVER_ISN, startNs: T0, mss: MSS, ...opts,
  });
}

async function rowOf(conv: Conversation | CapturedPacket[], options: AnalyzeOptions = {}): Promise<Row> {
  return onlyRow(pcapOf(Array.isArray(conv) ? conv : conv.packets()), options);
}

async function rowsOf(packets: CapturedPacket[], options: AnalyzeOptions = {}): Promise<Row[]> {
  return (await analyzeRows(pcapOf(packets), options)).rows;
}

/** Wireshark's tcp.completeness bits. */
const COMPLETE = { SYN: 1, SYN_ACK: 2, ACK: 4, DATA: 8, FIN: 16, RST: 32 } as const;

/** IPv4 total length of a TCP segment without IP or TCP options. */
const ipv4Bytes = (payload: number, tcpOptions = 0) => 20 + 20 + tcpOptions + payload;
const MSS_OPTION = 4;

describe("complete connections (SF)", () => {
  it("three-way handshake, request, response, client four-way close", async () => {
    // SYN at T0; the SYN-ACK 30 ms later (capture point ↔ server), the ACK 40 ms after that
    // (capture point ↔ client): tcptrace's two handshake RTT legs.
    const conv = conversation()
      .syn()
      .synAck({ after: ms(30) })
      .ack("client", { after: ms(40) }) // T0 + 70 ms: established
      .data("client", 100, { after: ms(1) }) // T0 + 71
      .ack("server", { after: ms(30) }) // T0 + 101
      .data("server", 200, { after: ms(1) }) // T0 + 102
      .ack("client", { after: ms(40) }) // T0 + 142
      .fin("client", { after: ms(100) }) // T0 + 242: FIN-WAIT-1 / CLOSE-WAIT
      .ack("server", { after: ms(30) }) // T0 + 272: FIN-WAIT-2
      .fin("server", { after: ms(1) }) // T0 + 273: TIME-WAIT / LAST-ACK
      .ack("client", { after: ms(40) }); // T0 + 313: the server is CLOSED
    const row = await rowOf(conv);
    expect(row).toMatchObject({
      conn_id: 0, first_packet: 0, ip_version: 4, vlan: null, tunnel: null, interface: null,
      orig_h: CLIENT, orig_p: CLIENT_PORT, resp_h: SERVER, resp_p: HTTP,
      conn_state: "SF",
      // S h A, then the first data (D d) and the responder's first pure ACK (a), F f; repeated A/a are not recorded.
      history: "ShADadFf",
      closer: "orig", orig_state: "TIME_WAIT", resp_state: "CLOSED", end_reason: "fin",
      ts: T0, last_ts: T0 + ms(313),
      syn_ts: T0, synack_ts: T0 + ms(30), established_ts: T0 + ms(70),
      rtt_syn_synack: ms(30), rtt_synack_ack: ms(40),
      orig_first_data_ts: T0 + ms(71), resp_first_data_ts: T0 + ms(102),
      orig_fin_ts: T0 + ms(242), resp_fin_ts: T0 + ms(273),
      rst_ts: null, closed_ts: T0 + ms(313),
      orig_pkts: 6, resp_pkts: 5,
      orig_bytes: 100, resp_bytes: 200, missed_bytes: 0,
      orig_ip_bytes: ipv4Bytes(0, MSS_OPTION) + ipv4Bytes(0) + ipv4Bytes(100) + 3 * ipv4Bytes(0),
      resp_ip_bytes: ipv4Bytes(0, MSS_OPTION) + ipv4Bytes(0) + ipv4Bytes(200) + 2 * ipv4Bytes(0),
      orig_retransmits: 0, resp_retransmits: 0, orig_zero_windows: 0, resp_zero_windows: 0, orig_keepalives: 0, resp_keepalives: 0,
      completeness: COMPLETE.SYN | COMPLETE.SYN_ACK | COMPLETE.ACK | COMPLETE.DATA | COMPLETE.FIN,
      orig_isn: CLIENT_ISN, resp_isn: SERVER_ISN, orig_mss: MSS, resp_mss: MSS,
      orig_wscale: null, resp_wscale: null, orig_sack_ok: false, resp_sack_ok: false, orig_ts_ok: false, resp_ts_ok: false, ecn: false,
    });
    // Zeek's duration stops at the last packet before both sides closed: the server's FIN, not the final ACK.
    expect(row.duration).toBeCloseTo(0.273, 9);
  });

  it("server close: the server's FIN first leaves it in TIME-WAIT", async () => {
    const conv = conversation().handshake()
      .data("client", 100).ack("server").data("server", 200).ack("client")
      .close("server"); // f, A, F, a
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "SF", history: "ShADadfF",
      closer: "resp", orig_state: "CLOSED", resp_state: "TIME_WAIT", end_reason: "fin",
      orig_bytes: 100, resp_bytes: 200,
    });
  });

  it("simultaneous close: both FINs cross, both sides end in TIME-WAIT", async () => {
    const conv = conversation().handshake();
    const clientFinSeq = conv.seq("client");
    conv.fin("client")
      // The server's FIN does not acknowledge the client's: it was sent before that FIN arrived.
      .raw("server", { flags: FIN | ACK, ack: clientFinSeq })
      .ack("client") // acknowledges the server's FIN
      .ack("server"); // acknowledges the client's FIN
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "SF", history: "ShAFfa",
      closer: "both", orig_state: "TIME_WAIT", resp_state: "TIME_WAIT", end_reason: "fin",
    });
  });
});

describe("other ways to close", () => {
  it("three-way close: the server's FIN acknowledges the client's", async () => {
    const conv = conversation().handshake().fin("client").fin("server").ack("client");
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "SF", history: "ShAFf", closer: "orig",
      // RFC 9293 §3.6: FIN-WAIT-1 receiving FIN with the ACK of its own FIN → TIME-WAIT.
      orig_state: "TIME_WAIT", resp_state: "CLOSED",
    });
  });

  it("the capture ends before the last ACK: the server is in LAST-ACK and the close is not complete", async () => {
    const conv = conversation().handshake().fin("client").ack("server").fin("server");
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "SF", history: "ShAFaf", orig_state: "TIME_WAIT", resp_state: "LAST_ACK", closed_ts: null, end_reason: "fin",
    });
  });

  it("a RST after both FINs does not undo the close (Zeek: RST while the peer is CLOSED)", async () => {
    const conv = conversation().handshake().fin("client").ack("server").fin("server").rst("client");
    expect(await rowOf(conv)).toMatchObject({ conn_state: "SF", history: "ShAFafR" });
  });

  it("a half-closed connection outlives a 2-minute silence (tcp_inactivity_timeout is 5 min)", async () => {
    const conv = conversation().handshake().fin("client").ack("server").fin("server", { after: seconds(120) }).ack("client");
    expect(await rowsOf(conv.packets())).toEqual([expect.objectContaining({ conn_state: "SF", closer: "orig", history: "ShAFaf" })]);
  });
});

describe("Wireshark's completeness", () => {
  const { SYN: S, SYN_ACK: SA, ACK: A, DATA: D, FIN: F } = COMPLETE;
  it("accumulates: SYN_SENT 1, CLIENT_ESTABLISHED 3, ESTABLISHED 7, DATA 15, Complete NO_DATA 23, WITH_DATA 31", async () => {
    expect((await rowOf(conversation().syn())).completeness).toBe(S);
    expect((await rowOf(conversation().syn().synAck())).completeness).toBe(S | SA);
    expect((await rowOf(conversation().handshake())).completeness).toBe(S | SA | A);
    expect((await rowOf(conversation().handshake().data("client", 10))).completeness).toBe(S | SA | A | D);
    expect((await rowOf(conversation().handshake().close("client"))).completeness).toBe(S | SA | A | F);
    expect((await rowOf(conversation().handshake().data("client", 10).close("client"))).completeness).toBe(S | SA | A | D | F);
  });
});

describe("attempts", () => {
  it("SYN only: S0", async () => {
    expect(await rowOf(conversation().syn())).toMatchObject({
      conn_state: "S0", history: "S", orig_state: "SYN_SENT", closer: null, end_reason: "eof",
      orig_pkts: 1, resp_pkts: 0, duration: 0, syn_ts: T0, synack_ts: null, established_ts: null,
      rtt_syn_synack: null, rtt_synack_ack: null, resp_isn: null, completeness: COMPLETE.SYN,
    });
  });

  it("SYN retransmitted within tcp_attempt_delay (5 s) is the same attempt", async () => {
    const row = await rowOf(conversation().syn().syn({ after: seconds(1) }));
    expect(row).toMatchObject({
      conn_state: "S0",
      history: "S", // Zeek repeats 'S' only for a SYN at a different relative sequence number
      orig_pkts: 2, syn_ts: T0, last_ts: T0 + seconds(1),
      orig_retransmits: 1, // Wireshark: a SYN with seq < nextseq is a retransmission
    });
  });

  it("SYN unanswered for more than 5 s, then a new SYN: two attempts", async () => {
    // Zeek's AttemptTimer removes the connection at the first SYN + 5 s; the later SYN starts another.
    // In Wireshark's tcp.stream, which goes on, the later SYN (same ISN) is a retransmission.
    const rows = await rowsOf(conversation().syn().syn({ after: seconds(6) }).packets());
    expect(rows).toEqual([
      expect.objectContaining({ conn_id: 0, first_packet: 0, conn_state: "S0", history: "S", end_reason: "attempt_timeout", ts: T0, orig_pkts: 1, orig_retransmits: 0 }),
      expect.objectContaining({ conn_id: 1, first_packet: 1, conn_state: "S0", history: "S", end_reason: "eof", ts: T0 + seconds(6), orig_pkts: 1, orig_retransmits: 1 }),
    ]);
  });

  it("a SYN-ACK within 5 s completes the attempt; one arriving after 5 s is too late", async () => {
    const inTime = conversation().syn().synAck({ after: seconds(3) }).ack("client");
    expect(await rowOf(inTime)).toMatchObject({ conn_state: "S1", history: "ShA", rtt_syn_synack: seconds(3) });
    const late = conversation().syn().synAck({ after: seconds(6) });
    expect(await rowsOf(late.packets())).toEqual([
      expect.objectContaining({ conn_state: "S0", history: "S", end_reason: "attempt_timeout" }),
      // A new, partial connection: the SYN-ACK from port 80 makes its sender the responder.
      expect.objectContaining({ history: "^h", orig_h: CLIENT, resp_p: HTTP, synack_ts: T0 + seconds(6), syn_ts: null }),
    ]);
  });

  it("data on the ACK that completes the handshake", async () => {
    const conv = conversation().syn().synAck({ after: ms(30) }).data("client", 100, { after: ms(40) });
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "S1", history: "ShD", established_ts: T0 + ms(70), rtt_synack_ack: ms(40), orig_first_data_ts: T0 + ms(70),
    });
  });

  it("SYN then RST from the server: REJ", async () => {
    const conv = conversation().syn().rst("server", { withAck: true, after: ms(2) });
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "REJ", history: "Sr", end_reason: "rst", closer: "resp",
      orig_state: "CLOSED", resp_state: "CLOSED", // RFC 9293 §3.10.7.3: SYN-SENT + acceptable RST → CLOSED
      rst_ts: T0 + ms(2), closed_ts: T0 + ms(2), resp_pkts: 1, resp_isn: null, established_ts: null,
    });
  });

  it("SYN then the client's own RST, never answered: RSTOS0", async () => {
    const conv = conversation().syn().rst("client", { after: ms(500) });
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "RSTOS0", history: "SR", end_reason: "rst", closer: "orig", orig_pkts: 2, resp_pkts: 0,
    });
  });

  it("SYN, the server's RST, then the client's RST: still REJ (both reset, no bytes either way)", async () => {
    const conv = conversation().syn().rst("server", { withAck: true }).rst("client");
    expect(await rowOf(conv)).toMatchObject({ conn_state: "REJ", history: "SrR" });
  });

  it("a lone RST: OTH, not RSTOS0 (the history must start with 'S', zeek/zeek#1164)", async () => {
    const conv = conversation();
    conv.raw("client", { flags: RST | ACK, ack: SERVER_ISN + 1 });
    expect(await rowOf(conv)).toMatchObject({ conn_state: "OTH", history: "R", end_reason: "rst" });
  });

  it("SYN then FIN with no reply: SH", async () => {
    expect(await rowOf(conversation().syn().fin("client"))).toMatchObject({ conn_state: "SH", history: "SF" });
  });

  it("attempts whose SYNs were captured out of time order time out in order of their deadlines, then of their first packets", async () => {
    // Packet times go back (as in captures merged from several interfaces): seven SYNs, each
    // earlier than the one before it but for two at the same instant, all within 5 s of the
    // latest, so that every attempt timer is still to run when a SYN 90 s later runs them all.
    const synSeconds = [10, 9, 8, 7, 7, 6, 5.5];
    const packets = synSeconds.flatMap((s, i) => conversation({ clientPort: CLIENT_PORT + 1 + i, startNs: T0 + ms(s * 1000) }).syn().packets());
    packets.push(...conversation({ clientPort: CLIENT_PORT, startNs: T0 + seconds(100) }).syn().packets());
    const rows = await rowsOf(packets);
    // The deadlines are each SYN's time + 5 s: earliest first, and the two at 12 s in the order
    // of their first packets. The last SYN's attempt is open at the end.
    expect(rows.map((r) => [r.first_packet, r.end_reason])).toEqual([
      [6, "attempt_timeout"], [5, "attempt_timeout"], [3, "attempt_timeout"], [4, "attempt_timeout"],
      [2, "attempt_timeout"], [1, "attempt_timeout"], [0, "attempt_timeout"], [7, "eof"],
    ]);
  });
});

describe("resets after establishment", () => {
  it("the client aborts: RSTO", async () => {
    const conv = conversation().handshake().data("client", 100).ack("server").rst("client", { withAck: true });
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "RSTO", history: "ShADaR", end_reason: "rst", closer: "orig",
      orig_state: "CLOSED", resp_state: "CLOSED", orig_bytes: 100,
    });
  });

  it("the server aborts: RSTR", async () => {
    const conv = conversation().handshake().data("client", 100).rst("server", { withAck: true });
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "RSTR", history: "ShADr", end_reason: "rst", closer: "resp", orig_bytes: 100,
    });
  });
});

describe("established, open or half-closed at the end of the capture", () => {
  it("handshake only: S1", async () => {
    expect(await rowOf(conversation().handshake())).toMatchObject({
      conn_state: "S1", history: "ShA", orig_state: "ESTABLISHED", resp_state: "ESTABLISHED", end_reason: "eof", closer: null, closed_ts: null,
    });
  });

  it("the client's FIN acknowledged, the server still open: S2", async () => {
    // Zeek: os CLOSED, rs ESTABLISHED (not inactive) → S2.
    const conv = conversation().handshake().data("client", 100).ack("server").fin("client").ack("server");
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "S2", history: "ShADaF", closer: "orig",
      orig_state: "FIN_WAIT_2", resp_state: "CLOSE_WAIT", end_reason: "eof", closed_ts: null, resp_fin_ts: null,
    });
  });

  it("the server's FIN acknowledged, the client still open: S3", async () => {
    const conv = conversation().handshake().data("client", 100).ack("server").fin("server").ack("client");
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "S3", history: "ShADaf", closer: "resp", orig_state: "CLOSE_WAIT", resp_state: "FIN_WAIT_2",
    });
  });
});

describe("partial connections and who is the originator", () => {
  it("midstream traffic without a handshake, first packet from the client: OTH", async () => {
    const conv = conversation();
    conv.raw("client", { flags: PSH | ACK, payload: 100, ack: conv.seq("server") });
    conv.raw("server", { flags: PSH | ACK, payload: 200, ack: conv.seq("client") });
    expect(await rowOf(conv)).toMatchObject({
      orig_h: CLIENT, orig_p: CLIENT_PORT, resp_p: HTTP,
      conn_state: "OTH", history: "Dd", orig_bytes: 100, resp_bytes: 200,
      orig_state: "ESTABLISHED", resp_state: "ESTABLISHED", // only ESTABLISHED endpoints exchange data with no FIN
      syn_ts: null, synack_ts: null, established_ts: null, orig_isn: null, resp_isn: null, end_reason: "eof",
    });
  });

  it("a single data segment has no duration, so Zeek logs no byte counts", async () => {
    const conv = conversation();
    conv.raw("client", { flags: PSH | ACK, payload: 100, ack: conv.seq("server") });
    expect(await rowOf(conv)).toMatchObject({ duration: 0, orig_bytes: 0, orig_ip_bytes: ipv4Bytes(100), history: "D" });
  });

  it("midstream, first packet from port 80: Zeek flips the roles ('^')", async () => {
    const conv = conversation();
    conv.raw("server", { flags: PSH | ACK, payload: 200, ack: conv.seq("client") });
    conv.raw("client", { flags: PSH | ACK, payload: 100, ack: conv.seq("server") });
    expect(await rowOf(conv)).toMatchObject({
      orig_h: CLIENT, orig_p: CLIENT_PORT, resp_h: SERVER, resp_p: HTTP,
      conn_state: "OTH", history: "^dD", orig_bytes: 100, resp_bytes: 200, first_packet: 0,
    });
  });

  it("SYN-ACK first from port 80, then the ACK: flipped, history '^hA'", async () => {
    const conv = conversation().skip("client", 1); // the client's SYN was not captured
    conv.raw("server", { flags: SYN | ACK, ack: conv.seq("client"), options: { mss: MSS } });
    conv.ack("client");
    expect(await rowOf(conv)).toMatchObject({
      orig_h: CLIENT, orig_p: CLIENT_PORT, resp_h: SERVER, resp_p: HTTP,
      // The responder's SYN-ACK makes it ESTABLISHED; the originator's ACK then establishes it too.
      conn_state: "S1", history: "^hA",
      syn_ts: null, synack_ts: T0, resp_isn: SERVER_ISN, resp_mss: MSS, orig_isn: null,
    });
  });
});

describe("connections seen from the responder's SYN-ACK", () => {
  /** A capture that starts at the server's SYN-ACK: the client's SYN was missed. */
  function fromSynAck(opts: Partial<ConversationOptions> = {}): Conversation {
    const conv = conversation(opts).skip("client", 1);
    conv.raw("server", { flags: SYN | ACK, ack: conv.seq("client"), options: { mss: MSS } });
    return conv;
  }

  it("SYN-ACK from an unlikely server port, then the ACK: flipped on the second packet ('^hA')", async () => {
    // Neither 5000 nor 40000 is a likely server port, so the SYN-ACK's sender starts as originator
    // (history "H"); the peer's ACK proves it wrong (zeek/zeek PR #2191, baseline core.conn-size-flip).
    const conv = fromSynAck({ serverPort: 5000 }).ack("client");
    expect(await rowOf(conv)).toMatchObject({ orig_h: CLIENT, orig_p: CLIENT_PORT, resp_h: SERVER, resp_p: 5000, history: "^hA" });
  });

  it("SYN-ACK then RST from the responder, no SYN seen: RSTRH", async () => {
    const conv = fromSynAck().rst("server", { withAck: true });
    expect(await rowOf(conv)).toMatchObject({ conn_state: "RSTRH", history: "^hr", orig_h: CLIENT });
  });

  it("SYN-ACK then FIN from the responder, no SYN seen: SHR", async () => {
    const conv = fromSynAck().fin("server");
    expect(await rowOf(conv)).toMatchObject({ conn_state: "SHR", history: "^hf", orig_h: CLIENT });
  });
});

describe("per-direction quality counters", () => {
  it("zero window advertised by the client", async () => {
    const conv = conversation().handshake().data("server", 1000).zeroWindow("client").ack("client", { window: 65535 });
    expect(await rowOf(conv)).toMatchObject({
      history: "ShAdW", // Zeek: 'W' at the 1st, 10th, 100th … zero window of the originator
      orig_zero_windows: 1, resp_zero_windows: 0, conn_state: "S1",
    });
  });

  it("a segment lost before the capture point, then acknowledged: a content gap", async () => {
    const LOST = 200;
    const conv = conversation().handshake().data("client", 100).skip("client", LOST);
    conv.raw("server", { flags: ACK, ack: conv.seq("client") }); // acknowledges bytes the capture never saw
    expect(await rowOf(conv)).toMatchObject({
      missed_bytes: LOST,
      history: "ShADaG", // 'G': the originator's stream has a gap, both endpoints established
      orig_bytes: 100 + LOST, // from sequence numbers: the highest acknowledged byte
    });
  });

  it("data retransmitted in each direction", async () => {
    const conv = conversation().handshake()
      .data("client", 100).retransmit("client").ack("server")
      .data("server", 200).retransmit("server").ack("client");
    expect(await rowOf(conv)).toMatchObject({
      history: "ShADTadt", // 'T'/'t': payload at or below the highest sequence number seen
      orig_retransmits: 1, resp_retransmits: 1, orig_bytes: 100, resp_bytes: 200,
      orig_pkts: 5, resp_pkts: 4, // SYN ACK D D(again) A; SYN-ACK a d d(again)
    });
  });

  it("history letters for repeated events are log-scaled: 'T' at the 1st and 10th retransmission", async () => {
    const conv = conversation().handshake().data("client", 100);
    for (let i = 0; i < 10; i++) conv.retransmit("client", { after: ms(200) });
    expect(await rowOf(conv)).toMatchObject({ history: "ShADTT", orig_retransmits: 10 });
    const nine = conversation().handshake().data("client", 100);
    for (let i = 0; i < 9; i++) nine.retransmit("client", { after: ms(200) });
    expect(await rowOf(nine)).toMatchObject({ history: "ShADT", orig_retransmits: 9 });
  });

  it("a retransmitted FIN is a retransmission but one 'F'", async () => {
    const conv = conversation().handshake();
    const finSeq = conv.seq("client");
    conv.fin("client").raw("client", { flags: FIN | ACK, seq: finSeq }, { after: ms(200) })
      .ack("server").fin("server").ack("client");
    expect(await rowOf(conv)).toMatchObject({
      // Zeek repeats 'F' only for a FIN at a new sequence number; Wireshark: FIN with seq < nextseq.
      history: "ShAFaf", orig_retransmits: 1, conn_state: "SF", orig_state: "TIME_WAIT", resp_state: "CLOSED",
    });
  });

  it("a 1-byte keep-alive: Wireshark's keep_alive, and Zeek's 'T' (payload at or below the highest sequence seen)", async () => {
    const conv = conversation().handshake().data("client", 100).ack("server");
    conv.raw("client", { flags: ACK, seq: conv.seq("client") - 1, payload: 1 }, { after: seconds(45) });
    conv.ack("server");
    expect(await rowOf(conv)).toMatchObject({ orig_keepalives: 1, orig_retransmits: 0, history: "ShADaT", orig_bytes: 100 });
  });

  it("sequence numbers that wrap past 2^32 still count bytes exactly", async () => {
    const NEAR_WRAP = 0xffff_ff00; // 256 bytes before the wrap
    const conv = conversation({ clientIsn: NEAR_WRAP, serverIsn: 0xffff_fff0 }).handshake()
      .data("client", 1000).ack("server").data("server", 3000).ack("client").close("client");
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "SF", history: "ShADadFf", orig_bytes: 1000, resp_bytes: 3000, missed_bytes: 0,
      orig_retransmits: 0, resp_retransmits: 0, orig_isn: NEAR_WRAP,
    });
  });

  it("FIN, then RST, from the client, then the server's FIN: Zeek counts a normal close", async () => {
    // UpdateEstablishedState: a FIN while the peer is RESET coming from CLOSED puts the peer back to CLOSED.
    const conv = conversation().handshake().fin("client").rst("client", { withAck: true }).fin("server");
    expect(await rowOf(conv)).toMatchObject({ conn_state: "SF", history: "ShAFRf" });
  });

  it("a keep-alive probe at snd.nxt − 1 is a keep-alive, not a retransmission", async () => {
    const conv = conversation().handshake().data("client", 100).ack("server")
      .keepAlive("client", { after: seconds(60) }).ack("server");
    expect(await rowOf(conv)).toMatchObject({
      orig_keepalives: 1, orig_retransmits: 0, resp_keepalives: 0, history: "ShADa", orig_bytes: 100,
    });
  });
});

describe("payload on control segments and out-of-order data", () => {
  it("payload on a RST is not part of the byte stream", async () => {
    // Zeek's get_segment_len drops a RST's payload from the sequence space, so the segment ends at
    // last_seq; update_last_seq then sees delta_last == 0 with len > 0 and calls DidRxmit: 'T'
    // (upstream code; SEMANTICS.md's "not for RST" does not hold for a RST at the next sequence number).
    const conv = conversation().handshake().data("client", 100).ack("server");
    conv.raw("client", { flags: RST | ACK, payload: 50 });
    expect(await rowOf(conv)).toMatchObject({ conn_state: "RSTO", history: "ShADaRT", orig_bytes: 100 });
  });

  it("payload on a FIN counts, and the FIN's history letter is 'F', not 'D'", async () => {
    const conv = conversation().handshake();
    conv.raw("client", { flags: FIN | PSH | ACK, payload: 50 }, { after: ms(5) });
    conv.ack("server").fin("server").ack("client");
    expect(await rowOf(conv)).toMatchObject({
      conn_state: "SF", history: "ShAFaf", orig_bytes: 50, orig_first_data_ts: T0 + ms(2) + ms(5),
    });
  });

  it("a segment that arrives after the one behind it fills the hole: no gap", async () => {
    const conv = conversation().handshake();
    const firstSeq = conv.seq("client");
    conv.skip("client", 100).data("client", 100); // the second segment overtakes the first
    conv.raw("client", { flags: PSH | ACK, seq: firstSeq, payload: 100 }); // the first arrives late
    conv.ack("server");
    expect(await rowOf(conv)).toMatchObject({
      missed_bytes: 0, orig_bytes: 200,
      history: "ShADTa", // Zeek: payload below the highest sequence seen is recorded as 'T'
    });
  });

  it("a segment overtaken by the next one, arriving within the handshake RTT, is out of order, not a retransmission", async () => {
    // Wireshark (tcp_analyze_sequence_number): seq < nextseq puts a segment in the retransmission
    // family; it is tcp.analysis.out_of_order (not .retransmission) when it is not in the unacked
    // list, arrives less than ooo_thres (the initial RTT, here 11 ms) after the peer's last ACK and
    // does not end at nextseq. Its bytes were never seen before, so it is not "carrying only
    // already-seen sequence space" either.
    const conv = conversation().syn().synAck({ after: ms(10) }).ack("client", { after: ms(1) }); // iRTT = 11 ms
    const firstSeq = conv.seq("client");
    conv.skip("client", 100).data("client", 100, { after: ms(1) }); // T0 + 12 ms: the second segment first
    conv.raw("client", { flags: PSH | ACK, seq: firstSeq, payload: 100 }, { after: ms(0.5) }); // the first, 0.5 ms later
    conv.ack("server", { after: ms(5) });
    expect(await rowOf(conv)).toMatchObject({
      orig_retransmits: 0, missed_bytes: 0, orig_bytes: 200,
      history: "ShADTa", // Zeek's 'T' is its own rule: payload at or below the highest sequence seen
    });
  });

  it("a retransmitted SYN-ACK: one 'h', one responder retransmission", async () => {
    const conv = conversation().syn().synAck().synAck({ after: seconds(1) }).ack("client");
    expect(await rowOf(conv)).toMatchObject({ history: "ShA", resp_retransmits: 1, conn_state: "S1", resp_pkts: 2 });
  });
});

describe("data RTT samples (Karn's rule)", () => {
  it("each segment timed alone gives one sample: from the data to the ACK covering it", async () => {
    const conv = conversation().handshake()
      .data("client", 100, { after: ms(5) }).ack("server", { after: ms(30) }) // sample 30 ms
      .data("client", 100, { after: ms(5) }).ack("server", { after: ms(50) }) // sample 50 ms
      .data("server", 300, { after: ms(5) }).ack("client", { after: ms(20) }); // responder: 20 ms
    expect(await rowOf(conv)).toMatchObject({
      orig_rtt_min: ms(30), orig_rtt_avg: ms(40), orig_rtt_max: ms(50),
      resp_rtt_min: ms(20), resp_rtt_avg: ms(20), resp_rtt_max: ms(20),
    });
  });

  it("a retransmitted segment gives no sample (its ACK is ambiguous)", async () => {
    const conv = conversation().handshake()
      .data("client", 100, { after: ms(5) })
      .retransmit("client", { after: ms(300) })
      .ack("server", { after: ms(10) });
    expect(await rowOf(conv)).toMatchObject({ orig_rtt_min: null, orig_rtt_avg: null, orig_rtt_max: null, orig_retransmits: 1 });
  });
});

describe("after the close: Zeek's tcp_close_delay", () => {
  it("packets within 5 s of the close stay in the row (last_ts), outside duration", async () => {
    const conv = conversation().handshake().close("client");
    const serverFinTs = conv.packets().at(-2)!.tsNs;
    conv.ack("client", { after: seconds(3) }); // a retransmitted final ACK
    const row = await rowOf(conv);
    expect(row).toMatchObject({ conn_state: "SF", end_reason: "fin", last_ts: serverFinTs + ms(1) + seconds(3), orig_pkts: 5 });
    expect(row.duration).toBeCloseTo(Number(serverFinTs - T0) / 1e9, 9);
  });

  it("the delay runs from the last packet before both sides closed, not from trailing packets", async () => {
    const conv = conversation().handshake().close("client");
    const serverFinTs = conv.packets().at(-2)!.tsNs;
    conv.ack("client", { after: seconds(4) }); // serverFin + 4 s + 1 ms: still the same connection
    conv.ack("client", { after: seconds(2) }); // serverFin + 6 s: the connection was deleted at serverFin + 5 s
    const rows = await rowsOf(conv.packets());
    expect(rows).toEqual([
      expect.objectContaining({ conn_state: "SF", history: "ShAFaf", last_ts: serverFinTs + ms(1) + seconds(4) }),
      expect.objectContaining({ conn_state: "OTH", history: "A", ts: serverFinTs + ms(1) + seconds(6), orig_h: CLIENT }),
    ]);
  });
});

describe("one 4-tuple, several connections", () => {
  // Wireshark's tcp.stream goes on where Zeek's model starts a new row: the analysis state of each
  // direction carries over, so the rows' analysis totals add up to the stream's (docs/semantics.md).
  it("SYN, RST, SYN with the same ISN, RST, SYN, RST: three rows, and the 2nd and 3rd SYN are retransmissions, as tshark marks them", async () => {
    const conv = conversation().syn().rst("server", { withAck: true })
      .syn({ after: ms(1000) }).rst("server", { withAck: true })
      .syn({ after: ms(1000) }).rst("server", { withAck: true });
    const rows = await rowsOf(conv.packets());
    expect(rows.map((r) => [r.conn_state, r.orig_retransmits, r.resp_retransmits])).toEqual([["REJ", 0, 0], ["REJ", 1, 0], ["REJ", 1, 0]]);
  });

  // The state kept when a row ends (assembly/flow/carry.ts) is taken up for an hour of network time,
  // and at most 1,024 states are kept with a maxFlows of 4,096 or less (a quarter of it, at least
  // 1,024): the oldest is dropped first. Each case: `before` other keys' rows (SYN, RST) end, then
  // the key's own (SYN, RST), then `between` others, `spacing` apart, then `gapNs` later the key's
  // SYN again with the same ISN. Its second row's SYN is a retransmission only while the first
  // row's state is kept. (A row ends when its timer runs, at the network time of a packet.)
  async function secondSynRetransmits(before: number, between: number, gapNs = seconds(60), spacing = ms(1)): Promise<number> {
    const filler = (i: number, startNs: bigint) =>
      conversation({ clientPort: 1024 + i, startNs }).syn().rst("server", { withAck: true }).packets();
    const packets: CapturedPacket[] = [];
    for (let i = 0; i < before; i++) packets.push(...filler(i, T0 + BigInt(i) * spacing));
    const keyStart = T0 + BigInt(before) * spacing;
    packets.push(...conversation({ startNs: keyStart }).syn().rst("server", { withAck: true }).packets());
    for (let i = 0; i < between; i++) packets.push(...filler(before + i, keyStart + BigInt(i + 1) * spacing));
    packets.push(...conversation({ startNs: keyStart + BigInt(between) * spacing + gapNs }).syn().packets());
    const rows = await rowsOf(packets, { maxFlows: 4096 });
    expect(rows.length).toBe(before + between + 2);
    const again = rows.filter((r) => r.orig_p === CLIENT_PORT);
    expect(again.map((r) => r.conn_state)).toEqual(["REJ", "S0"]);
    return again[1]!.orig_retransmits as number;
  }

  it("a row's state is taken up after 1,023 later rows have ended, not after 1,024 (the oldest dropped first)", async () => {
    expect(await secondSynRetransmits(0, 1023)).toBe(1);
    expect(await secondSynRetransmits(0, 1024)).toBe(0);
    // With thousands of rows before: states dropped long ago are never taken for the key's.
    expect(await secondSynRetransmits(5000, 1023)).toBe(1);
    expect(await secondSynRetransmits(5000, 1024)).toBe(0);
  });

  it("a row's state is taken up within an hour of network time after the row ended, not later", async () => {
    // The key's first row ends within the 20 s of others after it.
    expect(await secondSynRetransmits(10, 20, seconds(3500), seconds(1))).toBe(1);
    expect(await secondSynRetransmits(10, 20, seconds(3700), seconds(1))).toBe(0);
  });

  it("data resent after Zeek's inactivity timer ended the row is a retransmission in the next row", async () => {
    const conv = conversation().handshake().data("client", 100).ack("server").data("client", 100)
      .retransmit("client", { after: seconds(6 * 60) });
    const rows = await rowsOf(conv.packets());
    expect(rows.map((r) => [r.end_reason, r.orig_pkts, r.orig_retransmits])).toEqual([["idle_timeout", 4, 0], ["eof", 1, 1]]);
  });

  it("a SYN with a new ISN starts Wireshark's stream afresh: no state carries over", async () => {
    const first = conversation().handshake().data("client", 100).ack("server").close("client");
    const second = conversation({ clientIsn: 7_000_000, serverIsn: 9_000_000, startNs: first.nextTsNs() + seconds(1) })
      .handshake().data("client", 100).ack("server");
    const rows = await rowsOf([...first.packets(), ...second.packets()]);
    const flags = ["orig_retransmits", "resp_retransmits", "orig_out_of_order", "orig_lost_segments", "resp_dup_acks", "orig_dup_acks"];
    expect(rows.map((r) => flags.map((f) => r[f]))).toEqual([flags.map(() => 0), flags.map(() => 0)]);
  });

  it("port reuse: a closed connection, then a SYN with a new ISN", async () => {
    const first = conversation().handshake().data("client", 100).ack("server").close("client");
    const second = conversation({ clientIsn: 7_000_000, serverIsn: 9_000_000, startNs: first.nextTsNs() + seconds(1) }).handshake();
    const rows = await rowsOf([...first.packets(), ...second.packets()]);
    expect(rows).toEqual([
      expect.objectContaining({ conn_id: 0, conn_state: "SF", history: "ShADaFf", end_reason: "fin", orig_isn: CLIENT_ISN }),
      expect.objectContaining({ conn_id: 1, conn_state: "S1", history: "ShA", end_reason: "eof", orig_isn: 7_000_000, first_packet: first.packets().length }),
    ]);
  });

  it("after a close, even a SYN with the same ISN is a new connection", async () => {
    // Zeek's IsReuse: once some side has closed, any SYN is reuse.
    const first = conversation().handshake().close("client");
    const again = conversation({ startNs: first.nextTsNs() + seconds(1) }).syn();
    const rows = await rowsOf([...first.packets(), ...again.packets()]);
    expect(rows).toEqual([
      expect.objectContaining({ conn_state: "SF", end_reason: "fin" }),
      expect.objectContaining({ conn_state: "S0", history: "S", orig_isn: CLIENT_ISN }),
    ]);
  });

  it("a SYN with a new ISN on an open connection ends it as reused", async () => {
    const first = conversation().handshake().data("client", 100);
    const second = conversation({ clientIsn: 7_000_000, startNs: first.nextTsNs() + seconds(1) }).syn();
    const rows = await rowsOf([...first.packets(), ...second.packets()]);
    expect(rows).toEqual([
      expect.objectContaining({ conn_state: "S1", history: "ShAD", end_reason: "reuse" }),
      expect.objectContaining({ conn_state: "S0", history: "S", orig_isn: 7_000_000 }),
    ]);
  });

  it("more than 5 min of silence (tcp_inactivity_timeout) splits an established connection", async () => {
    const conv = conversation().handshake().data("client", 100).ack("server");
    const beforeGap = conv.packets().at(-1)!.tsNs; // the last packet before the silence
    conv.data("client", 100, { after: seconds(6 * 60) }).ack("server");
    const rows = await rowsOf(conv.packets());
    expect(rows).toEqual([
      expect.objectContaining({ conn_state: "S1", history: "ShADa", end_reason: "idle_timeout", last_ts: beforeGap }),
      // The rest is midstream traffic from the same client: a partial connection.
      expect.objectContaining({ conn_state: "OTH", history: "Da", end_reason: "eof", orig_h: CLIENT, orig_p: CLIENT_PORT, orig_bytes: 100 }),
    ]);
  });

  it("interactive services (ssh on port 22) get a one-hour inactivity timeout", async () => {
    // scripts/base/protocols/conn/inactivity.zeek: ftp, ssh, telnet and rlogin ports → 1 h.
    const SSH = 22;
    const quiet = conversation({ serverPort: SSH }).handshake().data("client", 100).data("client", 100, { after: seconds(30 * 60) });
    expect(await rowsOf(quiet.packets())).toEqual([expect.objectContaining({ conn_state: "S1", history: "ShAD", orig_bytes: 200 })]);
    const gone = conversation({ serverPort: SSH }).handshake().data("client", 100).data("client", 100, { after: seconds(61 * 60) });
    expect((await rowsOf(gone.packets())).map((r) => r.end_reason)).toEqual(["idle_timeout", "eof"]);
  });

  it("conn_id and first_packet follow first packets, whatever order the rows end in", async () => {
    const longLived = conversation().handshake().data("client", 100, { after: seconds(20) });
    const attempt = conversation({ clientPort: CLIENT_PORT + 1, startNs: T0 + ms(10) }).syn(); // ends at T0 + 5 s
    const packets = [...longLived.packets(), ...attempt.packets()].sort((a, b) => (a.tsNs < b.tsNs ? -1 : 1));
    const rows = await rowsOf(packets);
    const byId = [...rows].sort((a, b) => (a.conn_id as number) - (b.conn_id as number));
    expect(byId.map((r) => [r.conn_id, r.orig_p, r.first_packet])).toEqual([[0, CLIENT_PORT, 0], [1, CLIENT_PORT + 1, 3]]);
    expect(byId[1]).toMatchObject({ end_reason: "attempt_timeout", conn_state: "S0" });
  });

  it("the same 4-tuple on two VLANs is one connection by default (Zeek's key, tcp.stream), two with connKey vlan", async () => {
    const a = conversation({ link: { link: "ethernet", vlans: [10] } }).handshake();
    const b = conversation({ link: { link: "ethernet", vlans: [20] }, startNs: T0 + ms(500) }).handshake();
    const packets = [...a.packets(), ...b.packets()];
    // The second handshake repeats the first one's sequence numbers: in one connection, Zeek's
    // history records nothing new, and Wireshark marks its SYN and SYN-ACK as retransmissions.
    const [one] = await rowsOf(packets);
    expect(one).toMatchObject({ vlan: 10, inner_vlan: null, history: "ShA", orig_pkts: 4, resp_pkts: 2, orig_retransmits: 1, resp_retransmits: 1 });
    const rows = await rowsOf(packets, { connKey: "vlan" });
    expect(rows.map((r) => [r.vlan, r.history, r.orig_pkts])).toEqual([[10, "ShA", 2], [20, "ShA", 2]]);
  });

  it("with connKey vlan, the outer and inner tags are both the key (Q-in-Q), and a tag with id 0 counts as none", async () => {
    const stacks = [[10, 20], [10, 30], [10], [0, 20], [20]];
    const packets = stacks.flatMap((vlans, i) => conversation({ link: { link: "ethernet", vlans }, startNs: T0 + ms(100 * i) }).handshake().packets());
    const rows = await rowsOf(packets, { connKey: "vlan" });
    // [0, 20] keys as (none, 20), unlike [20] (20, none): five connections.
    expect(rows.map((r) => [r.vlan, r.inner_vlan])).toEqual([[10, 20], [10, 30], [10, null], [0, 20], [20, null]]);
    expect((await rowsOf(packets)).map((r) => [r.vlan, r.inner_vlan])).toEqual([[10, 20]]);
  });
});

describe("addresses, tags and options", () => {
  it("an IPv6 connection", async () => {
    const conv = conversation({ client: "2001:db8::1", server: "2001:db8:0:0:1::2" })
      .handshake().data("client", 100).ack("server").close("client");
    const ipv6Bytes = (payload: number, tcpOptions = 0) => 40 + 20 + tcpOptions + payload;
    expect(await rowOf(conv)).toMatchObject({
      ip_version: 6, orig_h: "2001:db8::1", resp_h: "2001:db8::1:0:0:2", // RFC 5952 text
      conn_state: "SF", history: "ShADaFf", orig_bytes: 100,
      orig_ip_bytes: ipv6Bytes(0, MSS_OPTION) + ipv6Bytes(0) + ipv6Bytes(100) + 2 * ipv6Bytes(0),
      resp_ip_bytes: ipv6Bytes(0, MSS_OPTION) + 3 * ipv6Bytes(0),
    });
  });

  it("VLAN-tagged: the outermost tag", async () => {
    expect(await rowOf(conversation({ link: { link: "ethernet", vlans: [42] } }).handshake())).toMatchObject({ vlan: 42, history: "ShA" });
    expect(await rowOf(conversation({ link: { link: "ethernet", vlans: [300, 42] } }).handshake())).toMatchObject({ vlan: 300, history: "ShA" });
  });

  it("a bad TCP checksum with verifyChecksums: dropped, counted, and 'C' in the history", async () => {
    const conv = conversation().handshake();
    conv.raw("client", { flags: PSH | ACK, payload: 100, badTcpChecksum: true });
    const checked = await analyzeRows(pcapOf(conv.packets()), { verifyChecksums: true });
    expect(checked.rows[0]).toMatchObject({ history: "ShAC", orig_pkts: 2, orig_bytes: 0 });
    expect(checked.stats).toMatchObject({ records: 4, tcpPackets: 3, badChecksums: 1 });
    const unchecked = await analyzeRows(pcapOf(conv.packets()));
    expect(unchecked.rows[0]).toMatchObject({ history: "ShAD", orig_pkts: 3, orig_bytes: 100 });
    expect(unchecked.stats).toMatchObject({ records: 4, tcpPackets: 4, badChecksums: 0 });
  });

  it("ECN negotiated: ECN-setup SYN (ECE+CWR) answered by an ECN-setup SYN-ACK (ECE only)", async () => {
    const ecnHandshake = (synAckFlags: number) => {
      const conv = conversation();
      conv.raw("client", { flags: SYN | ECE | CWR, options: { mss: MSS } });
      conv.raw("server", { flags: synAckFlags, options: { mss: MSS } });
      return conv.ack("client");
    };
    expect(await rowOf(ecnHandshake(SYN | ACK | ECE))).toMatchObject({ ecn: true, history: "ShA" });
    // RFC 3168 §6.1.1: a SYN-ACK without ECE, or with CWR too, is not an ECN-setup SYN-ACK.
    expect(await rowOf(ecnHandshake(SYN | ACK))).toMatchObject({ ecn: false });
    expect(await rowOf(ecnHandshake(SYN | ACK | ECE | CWR))).toMatchObject({ ecn: false });
  });

  it("handshake options of each side: MSS, window scale, SACK permitted, timestamps", async () => {
    const conv = conversation({ mss: 1460, wscale: 7, sackOk: true, timestamps: true }).syn();
    conv.raw("server", { flags: SYN | ACK, options: { mss: 1380, wscale: 2, sackOk: false } }); // timestamps stay on
    conv.ack("client");
    expect(await rowOf(conv)).toMatchObject({
      orig_mss: 1460, orig_wscale: 7, orig_sack_ok: true, orig_ts_ok: true,
      resp_mss: 1380, resp_wscale: 2, resp_sack_ok: false, resp_ts_ok: true,
      history: "ShA",
    });
  });

  it("a SYN without options", async () => {
    const conv = conversation();
    conv.raw("client", { flags: SYN, options: undefined });
    expect(await rowOf(conv)).toMatchObject({ orig_mss: null, orig_wscale: null, orig_sack_ok: false, orig_ts_ok: false, orig_isn: CLIENT_ISN });
  });
});

// ---- Community ID v1 (https://github.com/corelight/community-id-spec) ------------------------

/** SHA-1 over seed (2 bytes BE), the ordered addresses, proto, a zero pad byte and the ordered ports (BE). */
function communityId(srcAddr: string, srcPort: number, dstAddr: string, dstPort: number, seed = 0): string {
  const IPPROTO_TCP = 6;
  let [a, b] = [parseIp(srcAddr), parseIp(dstAddr)];
  let [pa, pb] = [srcPort, dstPort];
  const order = Buffer.compare(a, b);
  if (order > 0 || (order === 0 && pa > pb)) { [a, b] = [b, a]; [pa, pb] = [pb, pa]; }
  const be16 = (n: number) => [n >>> 8, n & 0xff];
  const input = Uint8Array.from([...be16(seed), ...a, ...b, IPPROTO_TCP, 0, ...be16(pa), ...be16(pb)]);
  return "1:" + createHash("sha1").update(input).digest("base64");
}

describe("community_id", () => {
  it("this test's Community ID matches the spec's TCP example", () => {
    // community-id-spec baseline: 128.232.110.120:34855 → 66.35.250.204:80, TCP
    expect(communityId("128.232.110.120", 34855, "66.35.250.204", 80)).toBe("1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    expect(communityId("66.35.250.204", 80, "128.232.110.120", 34855)).toBe("1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
  });

  it("the spec's example flow", async () => {
    const conv = conversation({ client: "128.232.110.120", clientPort: 34855, server: "66.35.250.204", serverPort: 80 }).handshake();
    expect((await rowOf(conv)).community_id).toBe("1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
  });

  it("is the same whichever side is the originator, for IPv4 and IPv6", async () => {
    for (const [client, server] of [[CLIENT, SERVER], ["192.168.1.200", "10.0.0.9"], ["2001:db8::20", "2001:db8::3"]] as const) {
      const row = await rowOf(conversation({ client, server }).handshake());
      expect(row.community_id).toBe(communityId(client, CLIENT_PORT, server, HTTP));
      expect(row.community_id).toBe(communityId(server, HTTP, client, CLIENT_PORT));
    }
  });
});
