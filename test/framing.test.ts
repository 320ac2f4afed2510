// Capture framing: the same TCP conversation in every container variant synfin reads — libpcap
// (draft-ietf-opsawg-pcap: µs/ns magic, both byte orders) and pcapng (draft-ietf-opsawg-pcapng:
// both byte orders, if_tsresol, if_tsoffset, EPB/SPB/PB, several sections and interfaces, blocks
// to skip) — must give the same connection rows. Damage inside a capture is skipped and counted;
// input with nothing readable fails with a SynfinError that names the code and the byte offset.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Table } from "apache-arrow";
import { SynfinError, connections } from "../src/node.js";
import { writePcapng, type CapturedPacket } from "../src/synth/capture.js";
import { Conversation } from "../src/synth/conversation.js";
import { ETHERNET_HEADER_LEN, LINKTYPE } from "../src/synth/packet.js";
import { synthPackets } from "../src/synth/synth.js";
import {
  NS_PER_SECOND, type Row, analyzeRows, chunksOf, onlyRow, pcapOf, pcapngOf, rowsOf, without,
} from "./support/fixtures.js";

const START_NS = 1_700_000_000n * NS_PER_SECOND;
/**
 * 15.625 ms = 15625 µs = 2^14 ticks of 2^-20 s = 16 ticks of 2^-10 s: every timestamp of the
 * conversation is exact in µs, ns and both binary resolutions, so all variants must agree to the ns.
 */
const STEP_NS = 15_625_000n;
const REQUEST_BYTES = 120;
const RESPONSE_BYTES = 1400;

/** Handshake, a request and a response, each acknowledged, then the client's four-way close. */
function requestResponse(): CapturedPacket[] {
  return new Conversation({ client: "192.0.2.10", server: "198.51.100.20", clientPort: 49152, serverPort: 443, startNs: START_NS, stepNs: STEP_NS })
    .handshake()
    .data("client", REQUEST_BYTES).ack("server")
    .data("server", RESPONSE_BYTES).ack("client")
    .close("client")
    .packets();
}

const PACKETS = requestResponse();
const PACKET_COUNT = PACKETS.length; // 3 handshake + 4 data/ack + 4 close = 11

/** The reference reading: a little-endian µs pcap. */
async function referenceRow(): Promise<Row> {
  return onlyRow(pcapOf(PACKETS));
}

/** Columns that carry time; a Simple Packet Block has no timestamp, so these cannot match. */
const TIME_COLUMNS = [
  "ts", "last_ts", "duration", "syn_ts", "synack_ts", "established_ts", "orig_first_data_ts", "resp_first_data_ts",
  "orig_fin_ts", "resp_fin_ts", "rst_ts", "closed_ts", "rtt_syn_synack", "rtt_synack_ack",
  "orig_rtt_min", "orig_rtt_avg", "orig_rtt_max", "resp_rtt_min", "resp_rtt_avg", "resp_rtt_max",
  // Zeek logs the byte counts only for a positive duration.
  "orig_bytes", "resp_bytes",
];

/** pcapng block boundaries (type, offset, total length) of a file, read with the given byte order. */
function pcapngBlocks(bytes: Uint8Array, littleEndian = true): Array<{ type: number; offset: number; length: number }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks = [];
  for (let at = 0; at < bytes.length; ) {
    const length = view.getUint32(at + 4, littleEndian);
    blocks.push({ type: view.getUint32(at, littleEndian), offset: at, length });
    at += length;
  }
  return blocks;
}

const EPB = 6;
const IDB = 1;
const PCAP_FILE_HEADER = 24;
const RECORD_HEADER = 16;
const PCAP_CAPLEN_FIELD = 8;
const IMPOSSIBLE_CAPLEN = 0x7fff_ffff; // far beyond any snap length (libpcap caps at 256 KiB)

/** Offsets of the record headers of a pcap written by pcapOf (little-endian by default). */
function pcapRecords(bytes: Uint8Array, littleEndian = true): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets = [];
  for (let at = PCAP_FILE_HEADER; at < bytes.length; at += RECORD_HEADER + view.getUint32(at + PCAP_CAPLEN_FIELD, littleEndian)) offsets.push(at);
  return offsets;
}

async function expectSynfinError(work: Promise<unknown>, code: string, offset: number): Promise<SynfinError> {
  const error = await work.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(SynfinError);
  const synfinError = error as SynfinError;
  expect({ code: synfinError.code, offset: synfinError.offset }).toEqual({ code, offset });
  expect(synfinError.message).toContain(`byte offset ${offset}`);
  return synfinError;
}

describe("the reference reading", () => {
  it("is the conversation that was written", async () => {
    const row = await referenceRow();
    expect(row).toMatchObject({
      orig_h: "192.0.2.10", orig_p: 49152, resp_h: "198.51.100.20", resp_p: 443,
      conn_state: "SF", history: "ShADadFf",
      orig_bytes: REQUEST_BYTES, resp_bytes: RESPONSE_BYTES,
      ts: START_NS, last_ts: START_NS + BigInt(PACKET_COUNT - 1) * STEP_NS,
      interface: null,
    });
  });
});

describe("libpcap: µs and ns magic, both byte orders", () => {
  for (const nanos of [false, true]) {
    for (const bigEndian of [false, true]) {
      it(`${nanos ? "ns" : "µs"} ${bigEndian ? "big" : "little"}-endian gives the reference row`, async () => {
        const { rows, stats } = await analyzeRows(pcapOf(PACKETS, { nanos, bigEndian }));
        expect(rows).toEqual([await referenceRow()]);
        expect(stats).toMatchObject({ records: PACKET_COUNT, tcpPackets: PACKET_COUNT, sections: 1 });
      });
    }
  }

  it("a link type with FCS bits in the upper half of the header field is still Ethernet", async () => {
    // draft-ietf-opsawg-pcap §4: LinkType bits 0-15 are the link type; bits 26-31 carry the FCS length.
    const FCS_PRESENT_4_BYTES = (1 << 26) | (2 << 28);
    const bytes = pcapOf(PACKETS);
    new DataView(bytes.buffer).setUint32(20, LINKTYPE.ETHERNET | FCS_PRESENT_4_BYTES, true);
    const { rows } = await analyzeRows(bytes);
    expect(rows).toEqual([await referenceRow()]);
  });
});

describe("pcapng: byte order, if_tsresol and if_tsoffset", () => {
  const resolutions: Array<[string, number | undefined]> = [
    ["default µs", undefined],
    ["10^-9 s", 9],
    ["2^-20 s", 0x80 | 20],
    ["2^-10 s", 0x80 | 10],
  ];
  for (const bigEndian of [false, true]) {
    for (const [label, tsresol] of resolutions) {
      it(`${bigEndian ? "big" : "little"}-endian, if_tsresol ${label}: reference row on interface 0`, async () => {
        const { rows, stats } = await analyzeRows(pcapngOf(PACKETS, { bigEndian, iface: { tsresol } }));
        expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
        expect(stats).toMatchObject({ records: PACKET_COUNT, tcpPackets: PACKET_COUNT, sections: 1 });
      });
    }
  }

  it("if_tsresol 10^-12 s (too fine for epoch ticks in 64 bits) with if_tsoffset", async () => {
    const TSOFFSET_SEC = 1_700_000_000; // ticks count picoseconds from the conversation's first second
    const PICOSECONDS = 12;
    for (const bigEndian of [false, true]) {
      const { rows } = await analyzeRows(pcapngOf(PACKETS, { bigEndian, iface: { tsoffsetSec: TSOFFSET_SEC, tsresol: PICOSECONDS } }));
      expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
    }
  });

  it("if_tsresol 2^-40 s with if_tsoffset", async () => {
    for (const bigEndian of [false, true]) {
      const { rows } = await analyzeRows(pcapngOf(PACKETS, { bigEndian, iface: { tsoffsetSec: 1_700_000_000, tsresol: 0x80 | 40 } }));
      expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
    }
  });

  it("if_tsoffset seconds are added to every timestamp", async () => {
    const TSOFFSET_SEC = 1_699_999_000; // the ticks then count from 1000 s before the conversation
    for (const bigEndian of [false, true]) {
      const { rows } = await analyzeRows(pcapngOf(PACKETS, { bigEndian, iface: { tsoffsetSec: TSOFFSET_SEC, tsresol: 9 } }));
      expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
    }
  });
});

describe("pcapng packet blocks", () => {
  it("the obsolete Packet Block reads like an Enhanced Packet Block", async () => {
    for (const bigEndian of [false, true]) {
      const { rows, stats } = await analyzeRows(pcapngOf(PACKETS, { bigEndian, block: "pb" }));
      expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
      expect(stats.records).toBe(PACKET_COUNT);
    }
  });

  it("Simple Packet Blocks (no timestamp) give the same connection apart from its times", async () => {
    for (const bigEndian of [false, true]) {
      const { rows, stats } = await analyzeRows(pcapngOf(PACKETS, { bigEndian, block: "spb" }));
      expect(rows.map((r) => without(r, ...TIME_COLUMNS))).toEqual([without({ ...(await referenceRow()), interface: 0 }, ...TIME_COLUMNS)]);
      expect(stats).toMatchObject({ records: PACKET_COUNT, tcpPackets: PACKET_COUNT });
    }
  });

  it("name resolution, custom, decryption secrets and statistics blocks are skipped", async () => {
    const { rows, stats } = await analyzeRows(pcapngOf(PACKETS, { extraBlocks: true }));
    expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
    // The writer adds one NRB, one custom block, one DSB and one ISB per interface.
    expect(stats).toMatchObject({ records: PACKET_COUNT, skippedBlocks: 4 });
  });

  it("several sections of different byte order read as one capture; interface ids are per section", async () => {
    const SPLIT = 5; // handshake and request in the first section, the rest in the second
    const rawIp = (p: CapturedPacket) => ({ ...p, data: p.data.subarray(ETHERNET_HEADER_LEN) });
    const bytes = writePcapng([
      { bigEndian: false, interfaces: [{ linkType: LINKTYPE.ETHERNET }], packets: PACKETS.slice(0, SPLIT) },
      // Interface 0 of the second section is another interface: raw IP, ns timestamps.
      { bigEndian: true, interfaces: [{ linkType: LINKTYPE.RAW, tsresol: 9 }], packets: PACKETS.slice(SPLIT).map(rawIp), extraBlocks: true },
    ]);
    const { rows, stats } = await analyzeRows(bytes);
    expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
    expect(stats).toMatchObject({ records: PACKET_COUNT, tcpPackets: PACKET_COUNT, sections: 2 });
  });

  it("each interface has its own link type (Ethernet one way, raw IP the other)", async () => {
    const packets = PACKETS.map((p) => (isClientFrame(p)
      ? { ...p, interfaceId: 0 }
      : { ...p, data: p.data.subarray(ETHERNET_HEADER_LEN), interfaceId: 1 }));
    const bytes = writePcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET }, { linkType: LINKTYPE.RAW }], packets }]);
    const { rows, stats } = await analyzeRows(bytes);
    expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
    expect(stats.tcpPackets).toBe(PACKET_COUNT);
  });

  it("a packet block naming an undeclared interface is counted, not fatal", async () => {
    const stray: CapturedPacket = { ...PACKETS[0]!, tsNs: START_NS + 100n * NS_PER_SECOND, interfaceId: 1 };
    const written = writePcapng([{ interfaces: [{ linkType: LINKTYPE.ETHERNET }, { linkType: LINKTYPE.ETHERNET }], packets: [...PACKETS, stray] }]);
    // Drop the second Interface Description Block: interface 1 is then undeclared.
    const secondIdb = pcapngBlocks(written).filter((b) => b.type === IDB)[1]!;
    const bytes = new Uint8Array([...written.subarray(0, secondIdb.offset), ...written.subarray(secondIdb.offset + secondIdb.length)]);
    const { rows, stats } = await analyzeRows(bytes);
    expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
    expect(stats).toMatchObject({ records: PACKET_COUNT + 1, tcpPackets: PACKET_COUNT, unknownInterface: 1 });
  });
});

function isClientFrame(p: CapturedPacket): boolean {
  const IPV4_SRC_LAST_OCTET = ETHERNET_HEADER_LEN + 15;
  return p.data[IPV4_SRC_LAST_OCTET] === 10; // 192.0.2.10
}

/** One pcapng block: type, total length, body padded to 32 bits, total length again. */
function pcapngBlock(type: number, body: Uint8Array, littleEndian: boolean): Uint8Array {
  const total = 12 + ((body.length + 3) & ~3);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, littleEndian);
  view.setUint32(4, total, littleEndian);
  out.set(body, 8);
  view.setUint32(total - 4, total, littleEndian);
  return out;
}

/** An options list (code, length, value padded to 32 bits), ended by opt_endofopt. */
function pcapngOptions(options: Array<[number, Uint8Array]>, littleEndian: boolean): Uint8Array {
  const parts: number[] = [];
  const u16 = (n: number) => (littleEndian ? [n & 0xff, n >>> 8] : [n >>> 8, n & 0xff]);
  for (const [code, value] of [...options, [0, new Uint8Array(0)] as [number, Uint8Array]]) {
    parts.push(...u16(code), ...u16(value.length), ...value, ...new Array<number>((4 - (value.length & 3)) & 3).fill(0));
  }
  return Uint8Array.from(parts);
}

/** A pcapng file built field by field, with options on every block: SHB, IDB (if_name before if_tsresol = 9) and EPBs. */
function pcapngWithOptions(packets: CapturedPacket[], littleEndian: boolean): Uint8Array {
  const text = (s: string) => new TextEncoder().encode(s);
  const fields = (write: (view: DataView) => void, len: number) => {
    const out = new Uint8Array(len);
    write(new DataView(out.buffer));
    return out;
  };
  const SHB_HARDWARE = 2, SHB_OS = 3, IF_NAME = 2, IF_TSRESOL = 9, EPB_FLAGS = 2, OPT_COMMENT = 1;
  const shb = pcapngBlock(0x0a0d0d0a, new Uint8Array([
    ...fields((v) => { v.setUint32(0, 0x1a2b3c4d, littleEndian); v.setUint16(4, 1, littleEndian); v.setBigInt64(8, -1n, littleEndian); }, 16),
    ...pcapngOptions([[SHB_HARDWARE, text("x86_64")], [SHB_OS, text("Linux 6.1")], [OPT_COMMENT, text("synfin test")]], littleEndian),
  ]), littleEndian);
  const idb = pcapngBlock(IDB, new Uint8Array([
    ...fields((v) => { v.setUint16(0, LINKTYPE.ETHERNET, littleEndian); v.setUint32(4, 262144, littleEndian); }, 8),
    ...pcapngOptions([[IF_NAME, text("eth0")], [IF_TSRESOL, Uint8Array.of(9)]], littleEndian),
  ]), littleEndian);
  const epbs = packets.map((p) => {
    const header = fields((v) => {
      v.setUint32(4, Number(p.tsNs >> 32n), littleEndian);
      v.setUint32(8, Number(p.tsNs & 0xffff_ffffn), littleEndian);
      v.setUint32(12, p.data.length, littleEndian);
      v.setUint32(16, p.data.length, littleEndian);
    }, 20);
    const padding = new Uint8Array((4 - (p.data.length & 3)) & 3);
    const INBOUND = Uint8Array.of(1, 0, 0, 0);
    return pcapngBlock(EPB, new Uint8Array([...header, ...p.data, ...padding, ...pcapngOptions([[EPB_FLAGS, INBOUND]], littleEndian)]), littleEndian);
  });
  return new Uint8Array([...shb, ...idb, ...epbs.flatMap((b) => [...b])]);
}

describe("pcapng blocks with options", () => {
  it("SHB, IDB and EPB options are walked past, in both byte orders", async () => {
    for (const littleEndian of [true, false]) {
      const { rows, stats } = await analyzeRows(pcapngWithOptions(PACKETS, littleEndian));
      expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
      expect(stats).toMatchObject({ records: PACKET_COUNT, tcpPackets: PACKET_COUNT });
    }
  });
});

describe("records cut by the snap length or by the end of the file", () => {
  it("snaplen-cut payloads still give exact byte counts from sequence numbers", async () => {
    const SNAPLEN = 96; // a header-only capture: Ethernet + IPv4 + TCP + a few payload bytes
    const CLIENT_BYTES = 1000;
    const SERVER_SEGMENT = 1460;
    const packets = new Conversation({ client: "192.0.2.10", server: "198.51.100.20", clientPort: 49152, serverPort: 443, startNs: START_NS, stepNs: STEP_NS })
      .handshake()
      .data("client", CLIENT_BYTES).ack("server")
      .data("server", SERVER_SEGMENT).data("server", SERVER_SEGMENT).data("server", 80).ack("client")
      .close("server")
      .packets();
    const cut = pcapOf(packets, { snaplen: SNAPLEN });
    const { rows, stats } = await analyzeRows(cut);
    const ipBytes = (fromClient: boolean) => packets
      .filter((p) => isClientFrame(p) === fromClient)
      .reduce((sum, p) => sum + ipv4TotalLength(p.data), 0);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      conn_state: "SF",
      orig_bytes: CLIENT_BYTES, resp_bytes: 2 * SERVER_SEGMENT + 80,
      orig_pkts: 6, resp_pkts: 7,
      orig_ip_bytes: ipBytes(true), resp_ip_bytes: ipBytes(false),
    });
    expect(stats).toMatchObject({ records: packets.length, tcpPackets: packets.length, truncatedHeaders: 0 });
  });

  it("a pcapng interface's snaplen cuts the same way (EPB), and a Simple Packet Block takes min(snaplen, original length)", async () => {
    const SNAPLEN = 96;
    const packets = new Conversation({ client: "192.0.2.10", server: "198.51.100.20", clientPort: 49152, serverPort: 443, startNs: START_NS, stepNs: STEP_NS })
      .handshake().data("client", 1000).ack("server").data("server", 1460).ack("client").close("client").packets();
    for (const bigEndian of [false, true]) {
      const epb = await onlyRow(pcapngOf(packets, { bigEndian, iface: { snaplen: SNAPLEN } }));
      expect(epb).toMatchObject({ conn_state: "SF", orig_bytes: 1000, resp_bytes: 1460, orig_pkts: 6, resp_pkts: 5 });
      const { rows, stats } = await analyzeRows(pcapngOf(packets, { bigEndian, block: "spb", iface: { snaplen: SNAPLEN } }));
      // Zeek hands a cut payload to no reassembler, so once acknowledged it is a content gap: 'G' and 'g'.
      expect(rows).toEqual([expect.objectContaining({ conn_state: "SF", history: "ShADaGdgFf", orig_pkts: 6, resp_pkts: 5 })]);
      expect(stats).toMatchObject({ records: packets.length, tcpPackets: packets.length });
    }
  });

  it("a pcap cut inside its last record counts one truncated record and keeps the connection before it", async () => {
    const laterSyn = new Conversation({ client: "192.0.2.11", server: "198.51.100.20", clientPort: 50000, serverPort: 443, startNs: START_NS + NS_PER_SECOND })
      .syn().packets();
    const whole = pcapOf([...PACKETS, ...laterSyn]);
    const CUT_INSIDE_LAST_FRAME = 10; // bytes removed from the end: the record header stays whole
    const { rows, stats } = await analyzeRows(whole.subarray(0, whole.length - CUT_INSIDE_LAST_FRAME));
    expect(rows).toEqual([await referenceRow()]);
    expect(stats).toMatchObject({ records: PACKET_COUNT + 1, tcpPackets: PACKET_COUNT, truncatedRecords: 1 });
  });

  it("a pcapng cut inside its last Enhanced Packet Block does the same", async () => {
    const laterSyn = new Conversation({ client: "192.0.2.11", server: "198.51.100.20", clientPort: 50000, serverPort: 443, startNs: START_NS + NS_PER_SECOND })
      .syn().packets();
    for (const bigEndian of [false, true]) {
      const whole = pcapngOf([...PACKETS, ...laterSyn], { bigEndian });
      const { rows, stats } = await analyzeRows(whole.subarray(0, whole.length - 10));
      expect(rows).toEqual([{ ...(await referenceRow()), interface: 0 }]);
      expect(stats).toMatchObject({ records: PACKET_COUNT + 1, tcpPackets: PACKET_COUNT, truncatedRecords: 1 });
    }
  });
});

function ipv4TotalLength(frame: Uint8Array): number {
  const at = ETHERNET_HEADER_LEN + 2;
  return (frame[at]! << 8) | frame[at + 1]!;
}

describe("chunk boundaries never change the result", () => {
  it("an AsyncIterable of 1-, 7- and 13-byte chunks reads like the whole buffer", async () => {
    for (const file of [pcapOf(PACKETS), pcapngOf(PACKETS, { extraBlocks: true })]) {
      const whole = await analyzeRows(file);
      for (const sizes of [[1], [7], [13], [1, 7, 13]]) {
        const chunked = await analyzeRows(chunksOf(file, sizes));
        expect(chunked.rows).toEqual(whole.rows);
        expect(chunked.stats).toEqual(whole.stats);
      }
    }
  });

  it("a ReadableStream, a Blob and an ArrayBuffer read like the Uint8Array", async () => {
    const file = new Uint8Array(pcapOf(PACKETS)); // backed by a plain ArrayBuffer, as Blob parts must be
    const whole = await analyzeRows(file);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < file.length; at += 5) controller.enqueue(file.slice(at, at + 5));
        controller.close();
      },
    });
    expect((await analyzeRows(stream)).rows).toEqual(whole.rows);
    expect((await analyzeRows(new Blob([file]))).rows).toEqual(whole.rows);
    expect((await analyzeRows(file.buffer)).rows).toEqual(whole.rows);
  });

  it("onProgress reports every byte read, against the known total", async () => {
    const file = pcapOf(PACKETS);
    const seen: Array<{ bytesRead: number; totalBytes: number | undefined; file: string }> = [];
    await analyzeRows(file, { onProgress: (p) => seen.push({ ...p }) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toEqual({ file: "input", bytesRead: file.length, totalBytes: file.length });
    expect(seen.every((p, i) => i === 0 || p.bytesRead >= seen[i - 1]!.bytesRead)).toBe(true);
  });

  it("connections() streams the same rows as analyze(), and its stats are set at the end", async () => {
    const file = pcapOf(PACKETS);
    const stream = connections(file);
    expect(stream.stats).toBeUndefined();
    const batches = [];
    for await (const batch of stream) batches.push(batch);
    expect(stream.stats).toMatchObject({ records: PACKET_COUNT, connections: 1 });
    expect(rowsOf(new Table(batches))).toEqual([await referenceRow()]);
  });

  it("records straddling 64 KiB read steps of a larger capture are carried over", async () => {
    const SMALLEST_CHUNK = 64 << 10; // the engine's minimum read step
    const packets = [...synthPackets({ seed: 7, connections: 60, snaplen: 128 })];
    for (const file of [pcapOf(packets, { snaplen: 128 }), pcapngOf(packets, { iface: { snaplen: 128 }, extraBlocks: true })]) {
      expect(file.length).toBeGreaterThan(4 * SMALLEST_CHUNK);
      const whole = await analyzeRows(file);
      expect(whole.stats.records).toBe(packets.length);
      const small = await analyzeRows(file, { chunkSize: SMALLEST_CHUNK });
      const odd = await analyzeRows(chunksOf(file, [13, 1, 4093]), { chunkSize: SMALLEST_CHUNK });
      expect(small.rows).toEqual(whole.rows);
      expect(odd.rows).toEqual(whole.rows);
      expect(small.stats).toEqual(whole.stats);
      expect(odd.stats).toEqual(whole.stats);
    }
  });
});

describe("files read straight into the core's memory (src/input/feed.ts, DirectFeed)", () => {
  // A single pass reads a file path into two halves of the core's shared memory, a read in flight
  // while the core frames the other half; testHooks.copyReads takes the read-ahead copy instead.
  const SMALLEST_CHUNK = 64 << 10;
  const dir = mkdtempSync(join(tmpdir(), "synfin-direct-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const onDisk = (bytes: Uint8Array) => {
    const path = join(dir, `capture-${files++}`);
    writeFileSync(path, bytes);
    return path;
  };

  it("give the rows and stats of the same bytes in memory, at any read step, with or without the copy", async () => {
    const packets = [...synthPackets({ seed: 11, connections: 60, snaplen: 128 })];
    const pcap = pcapOf(packets, { snaplen: 128 });
    for (const file of [pcap, pcap.subarray(0, pcap.length - 37), pcapngOf(packets, { iface: { snaplen: 128 }, extraBlocks: true })]) {
      expect(file.length).toBeGreaterThan(4 * SMALLEST_CHUNK);
      const inMemory = await analyzeRows(file);
      const path = onDisk(file);
      for (const chunkSize of [undefined, SMALLEST_CHUNK, SMALLEST_CHUNK + 13]) {
        expect(await analyzeRows(path, { chunkSize })).toEqual(inMemory);
        expect(await analyzeRows(path, { chunkSize, testHooks: { copyReads: true } })).toEqual(inMemory);
      }
    }
  });

  it("several files are one capture, as their bytes are", async () => {
    const first = pcapOf(PACKETS.slice(0, 6));
    const second = pcapngOf(PACKETS.slice(6));
    expect(await analyzeRows([onDisk(first), onDisk(second)], { chunkSize: SMALLEST_CHUNK })).toEqual(await analyzeRows([first, second]));
  });

  it("a record longer than the room kept for a carried-over record (1 MiB) grows it", async () => {
    // An Ethernet trailer after the IP packet makes the fifth record a block of 1.1 or 3 MiB: the
    // room grows once (the next records in the read that made it grow) or twice (in later reads).
    const reference = without(await referenceRow(), "interface");
    for (const trailer of [(1 << 20) + 100_000, 3 << 20]) {
      const padded = PACKETS.map((p, i) => (i === 4 ? { ...p, data: new Uint8Array([...p.data, ...new Uint8Array(trailer)]) } : p));
      const path = onDisk(pcapngOf(padded, { iface: { snaplen: 0 } })); // snaplen 0: no limit
      const { rows, stats } = await analyzeRows(path, { chunkSize: SMALLEST_CHUNK });
      expect(rows.map((r) => without(r, "interface"))).toEqual([reference]);
      expect(stats).toMatchObject({ records: PACKET_COUNT, tcpPackets: PACKET_COUNT });
    }
  });

  it("a file that is no capture fails as its bytes do, with its path named, while the next read is in flight", async () => {
    const notACapture = new Uint8Array(4 * SMALLEST_CHUNK).fill(0x20);
    const path = onDisk(notACapture);
    const error = await expectSynfinError(analyzeRows(path, { chunkSize: SMALLEST_CHUNK }), "NOT_A_CAPTURE", 0);
    expect(error.file).toBe(path);
  });
});

describe("a record larger than the read step", () => {
  it("a 100 kB frame (an Ethernet trailer after the IP packet) grows the input buffer", async () => {
    const TRAILER = 100_000; // bytes after the IP packet: not part of it (IPv4 total length says so)
    const padded = PACKETS.map((p, i) => (i === 3 ? { ...p, data: new Uint8Array([...p.data, ...new Uint8Array(TRAILER)]) } : p));
    const SMALLEST_CHUNK = 64 << 10;
    for (const file of [pcapOf(padded), pcapngOf(padded)]) {
      const { rows, stats } = await analyzeRows(file, { chunkSize: SMALLEST_CHUNK });
      expect(rows.map((r) => without(r, "interface"))).toEqual([without(await referenceRow(), "interface")]);
      expect(stats).toMatchObject({ records: PACKET_COUNT, tcpPackets: PACKET_COUNT });
    }
  });
});

describe("files without packets", () => {
  it("a pcap file header alone, and a pcapng section with its interface alone, are empty captures", async () => {
    for (const file of [pcapOf([]), pcapngOf([]), pcapngOf([], { bigEndian: true, extraBlocks: true })]) {
      const { rows, stats } = await analyzeRows(file);
      expect(rows).toEqual([]);
      expect(stats).toMatchObject({ records: 0, connections: 0, sections: 1, bytes: file.length });
    }
  });

  it("packet blocks before any Interface Description Block name an undeclared interface", async () => {
    const withIdb = pcapngOf(PACKETS);
    const idb = pcapngBlocks(withIdb).find((b) => b.type === IDB)!;
    const withoutIdb = new Uint8Array([...withIdb.subarray(0, idb.offset), ...withIdb.subarray(idb.offset + idb.length)]);
    const { rows, stats } = await analyzeRows(withoutIdb);
    expect(rows).toEqual([]);
    expect(stats).toMatchObject({ records: PACKET_COUNT, unknownInterface: PACKET_COUNT, tcpPackets: 0 });
  });

  it("stats.bytes is every byte of every file, cut tails included", async () => {
    const pcap = pcapOf(PACKETS);
    const cutPcapng = pcapngOf(PACKETS).subarray(0, -7);
    expect((await analyzeRows(pcap)).stats.bytes).toBe(pcap.length);
    expect((await analyzeRows([pcap, cutPcapng])).stats).toMatchObject({ bytes: pcap.length + cutPcapng.length, sections: 2 });
  });
});

describe("more connections than one output batch", () => {
  it("rows ended by timers in the middle of the input survive any read step", async () => {
    // 12 000 unanswered SYNs (more than one 8192-row batch), 1 ms apart: each attempt ends tcp_attempt_delay (5 s) after its SYN,
    // once a later packet moves time past it; the last 5 s of SYNs are still open at the end.
    const ATTEMPTS = 12_000;
    const SPACING_NS = 1_000_000n;
    const ATTEMPT_DELAY_NS = 5n * NS_PER_SECOND;
    const packets = Array.from({ length: ATTEMPTS }, (_, i) => new Conversation({
      client: `10.${(i >> 8) & 0xff}.${i & 0xff}.1`, server: "198.51.100.20", clientPort: 40000 + (i % 1000), serverPort: 443,
      startNs: START_NS + BigInt(i) * SPACING_NS,
    }).syn().packets()[0]!);
    const lastTs = packets.at(-1)!.tsNs;
    const file = pcapOf(packets);
    const byConnId = (rows: Row[]) => [...rows].sort((a, b) => (a.conn_id as number) - (b.conn_id as number));
    const whole = byConnId((await analyzeRows(file)).rows);
    expect(whole).toHaveLength(ATTEMPTS);
    whole.forEach((row, i) => {
      const timedOut = START_NS + BigInt(i) * SPACING_NS + ATTEMPT_DELAY_NS <= lastTs;
      expect(row).toMatchObject({ conn_id: i, first_packet: i, conn_state: "S0", end_reason: timedOut ? "attempt_timeout" : "eof" });
    });
    const stepped = byConnId((await analyzeRows(file, { chunkSize: 64 << 10 })).rows);
    const streamed = byConnId((await analyzeRows(chunksOf(file, [4093, 13]), { chunkSize: 64 << 10 })).rows);
    expect(stepped).toEqual(whole);
    expect(streamed).toEqual(whole);
  });
});

describe("several files read as one capture", () => {
  const SPLIT = 6; // the connection continues from the first file into the second

  it("a connection split across two pcap files is one row", async () => {
    const { rows, stats } = await analyzeRows([pcapOf(PACKETS.slice(0, SPLIT)), pcapOf(PACKETS.slice(SPLIT), { nanos: true, bigEndian: true })]);
    expect(rows).toEqual([await referenceRow()]);
    expect(stats).toMatchObject({ records: PACKET_COUNT, sections: 2 });
  });

  it("a pcap followed by a pcapng is one capture too", async () => {
    const { rows } = await analyzeRows([pcapOf(PACKETS.slice(0, SPLIT)), pcapngOf(PACKETS.slice(SPLIT))]);
    expect(rows).toEqual([await referenceRow()]);
  });

  it("first_packet and conn_id count across files", async () => {
    const second = new Conversation({ client: "192.0.2.11", server: "198.51.100.20", clientPort: 50000, serverPort: 443, startNs: START_NS + NS_PER_SECOND })
      .syn().packets();
    const { rows } = await analyzeRows([pcapOf(PACKETS), pcapOf(second)]);
    expect(rows.map((r) => [r.conn_id, r.first_packet])).toEqual([[0, 0], [1, PACKET_COUNT]]);
  });
});

describe("unreadable input fails with a code and a byte offset", () => {
  it("empty input: the file header is cut short at offset 0", async () => {
    await expectSynfinError(analyzeRows(new Uint8Array(0)), "TRUNCATED_FILE_HEADER", 0);
  });

  it("a pcap file header cut short", async () => {
    await expectSynfinError(analyzeRows(pcapOf(PACKETS).subarray(0, 10)), "TRUNCATED_FILE_HEADER", 0);
  });

  it("a pcapng file cut inside its Section Header Block", async () => {
    await expectSynfinError(analyzeRows(pcapngOf(PACKETS).subarray(0, 20)), "TRUNCATED_FILE_HEADER", 0);
  });

  it("a JPEG is not a capture", async () => {
    const JFIF = Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x08);
    const error = await expectSynfinError(analyzeRows(JFIF), "NOT_A_CAPTURE", 0);
    expect(error.file).toBe("input");
  });

  it("a pcapng section header of an unknown major version, or with a bad byte-order magic", async () => {
    const SHB_MAJOR_VERSION = 12, SHB_BYTE_ORDER_MAGIC = 8;
    const future = pcapngOf(PACKETS);
    new DataView(future.buffer).setUint16(SHB_MAJOR_VERSION, 2, true);
    await expectSynfinError(analyzeRows(future), "BAD_SECTION_HEADER", 0);
    const scrambled = pcapngOf(PACKETS);
    new DataView(scrambled.buffer).setUint32(SHB_BYTE_ORDER_MAGIC, 0x4d3c2b1a ^ 0xff, true);
    await expectSynfinError(analyzeRows(scrambled), "BAD_SECTION_HEADER", 0);
  });

  it("a pcap whose every record header is impossible fails at the first one", async () => {
    const bytes = pcapOf(PACKETS);
    const view = new DataView(bytes.buffer);
    for (const at of pcapRecords(bytes)) view.setUint32(at + PCAP_CAPLEN_FIELD, IMPOSSIBLE_CAPLEN, true);
    await expectSynfinError(analyzeRows(bytes), "IMPOSSIBLE_RECORD_LENGTH", PCAP_FILE_HEADER);
  });

  it("an empty second file of several", async () => {
    const error = await expectSynfinError(analyzeRows([pcapOf(PACKETS), new Uint8Array(0)]), "TRUNCATED_FILE_HEADER", 0);
    expect(error.file).toBe("input 2");
  });

  it("the offset is within the file that is refused, and the error names it", async () => {
    const garbage = pcapOf(PACKETS).subarray(0, PCAP_FILE_HEADER + 40).fill(0xee, PCAP_FILE_HEADER);
    const error = await expectSynfinError(analyzeRows([pcapOf(PACKETS), garbage]), "IMPOSSIBLE_RECORD_LENGTH", PCAP_FILE_HEADER);
    expect(error.file).toBe("input 2");
  });
});

describe("damage inside a capture is skipped, counted, and reading resumes at the next record", () => {
  const NO_DAMAGE = { damagedLength: 0, damagedTrailer: 0, damagedSection: 0, damagedBytes: 0, badRecords: 0 };

  it("a pcap record with an impossible captured length: the next record is found", async () => {
    for (const victim of [0, 1, PACKET_COUNT - 2]) {
      for (const bigEndian of [false, true]) {
        const bytes = pcapOf(PACKETS, { bigEndian });
        const at = pcapRecords(bytes, !bigEndian)[victim]!;
        new DataView(bytes.buffer).setUint32(at + PCAP_CAPLEN_FIELD, IMPOSSIBLE_CAPLEN, !bigEndian);
        const { rows, stats } = await analyzeRows(bytes);
        expect(stats, `record ${victim}`).toMatchObject({ ...NO_DAMAGE, records: PACKET_COUNT - 1, damagedLength: 1, damagedBytes: RECORD_HEADER + PACKETS[victim]!.data.length });
        expect(rows).toEqual((await analyzeRows(pcapOf(PACKETS.filter((_, i) => i !== victim)))).rows);
      }
    }
  });

  it("a pcapng block length below the minimum: the next block is found", async () => {
    for (const bigEndian of [false, true]) {
      const bytes = pcapngOf(PACKETS, { bigEndian });
      const firstEpb = pcapngBlocks(bytes, !bigEndian).find((b) => b.type === EPB)!;
      new DataView(bytes.buffer).setUint32(firstEpb.offset + 4, 8, !bigEndian);
      const { rows, stats } = await analyzeRows(bytes);
      expect(stats).toMatchObject({ ...NO_DAMAGE, records: PACKET_COUNT - 1, damagedLength: 1, damagedBytes: firstEpb.length });
      expect(rows).toEqual((await analyzeRows(pcapngOf(PACKETS.slice(1)))).rows);
    }
  });

  it("a block length that is not a multiple of 4 but agrees with the trailer spans the padded length (ntar)", async () => {
    // Early writers stored the unpadded length in both fields; tshark reads such files.
    const bytes = pcapngOf(PACKETS);
    const view = new DataView(bytes.buffer);
    const blocks = pcapngBlocks(bytes).filter((b) => b.type === EPB);
    for (const b of blocks) {
      view.setUint32(b.offset + 4, b.length - 2, true);
      view.setUint32(b.offset + b.length - 4, b.length - 2, true);
    }
    expect(await analyzeRows(bytes)).toEqual(await analyzeRows(pcapngOf(PACKETS)));
  });

  it("a pcapng block whose trailing length differs from its leading length", async () => {
    for (const bigEndian of [false, true]) {
      const bytes = pcapngOf(PACKETS, { bigEndian });
      const thirdEpb = pcapngBlocks(bytes, !bigEndian).filter((b) => b.type === EPB)[2]!;
      new DataView(bytes.buffer).setUint32(thirdEpb.offset + thirdEpb.length - 4, thirdEpb.length + 4, !bigEndian);
      const { stats } = await analyzeRows(bytes);
      expect(stats).toMatchObject({ ...NO_DAMAGE, records: PACKET_COUNT - 1, damagedTrailer: 1, damagedBytes: thirdEpb.length });
    }
  });

  it("a second section of an unknown version is skipped whole, up to the next section", async () => {
    const first = pcapngOf(PACKETS.slice(0, 4));
    const second = pcapngOf(PACKETS.slice(4, 8), { bigEndian: true });
    new DataView(second.buffer).setUint16(12, 3, false); // major version 3
    const third = pcapngOf(PACKETS.slice(8));
    const { rows, stats } = await analyzeRows(new Uint8Array([...first, ...second, ...third]));
    expect(stats).toMatchObject({ ...NO_DAMAGE, records: PACKET_COUNT - 4, sections: 2, damagedSection: 1, damagedBytes: second.length });
    expect(rows).toEqual((await analyzeRows(pcapngOf([...PACKETS.slice(0, 4), ...PACKETS.slice(8)]))).rows);
  });

  it("bytes lost in transfer (a run of zeros in the middle of a pcapng) are skipped", async () => {
    const bytes = pcapngOf(PACKETS);
    const fifthEpb = pcapngBlocks(bytes).filter((b) => b.type === EPB)[4]!;
    bytes.fill(0, fifthEpb.offset + 10, fifthEpb.offset + fifthEpb.length + 30);
    const { stats } = await analyzeRows(bytes);
    // The fifth EPB's trailer is zeroed and the zeros reach into the sixth: both are lost, the
    // seventh is found.
    const sixthEpb = pcapngBlocks(pcapngOf(PACKETS)).filter((b) => b.type === EPB)[5]!;
    expect(stats).toMatchObject({ ...NO_DAMAGE, records: PACKET_COUNT - 2, damagedTrailer: 1, damagedBytes: fifthEpb.length + sixthEpb.length });
  });

  it("damage carried across read steps resumes at the same record", async () => {
    const bytes = pcapOf(PACKETS);
    const at = pcapRecords(bytes)[3]!;
    new DataView(bytes.buffer).setUint32(at + PCAP_CAPLEN_FIELD, IMPOSSIBLE_CAPLEN, true);
    const whole = await analyzeRows(bytes);
    const stepped = await analyzeRows(chunksOf(bytes, [1, 7, 13]));
    expect(stepped).toEqual(whole);
  });

  it("an Enhanced Packet Block whose captured length runs past the block is one bad record", async () => {
    const bytes = pcapngOf(PACKETS);
    const epb = pcapngBlocks(bytes).filter((b) => b.type === EPB)[1]!;
    const EPB_CAPLEN = 20;
    new DataView(bytes.buffer).setUint32(epb.offset + EPB_CAPLEN, epb.length, true);
    const { rows, stats } = await analyzeRows(bytes);
    expect(stats).toMatchObject({ ...NO_DAMAGE, records: PACKET_COUNT, badRecords: 1, tcpPackets: PACKET_COUNT - 1 });
    expect(rows).toEqual((await analyzeRows(pcapngOf(PACKETS.filter((_, i) => i !== 1)))).rows);
  });
});
