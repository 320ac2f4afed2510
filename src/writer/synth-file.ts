// Node-only: streams synthPackets into a libpcap file (draft-ietf-opsawg-pcap) of a target size, in buffered chunks.

import { closeSync, openSync, writeSync } from "node:fs";
import { PCAP_HEADER_LEN, PcapStreamWriter } from "./capture.js";
import { LINKTYPE } from "./packet.js";
import { SynthStream } from "./synth.js";
import type { SynthOptions } from "./synth.js";

const CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Streams synthPackets (through SynthStream, the same sequence) and writes records until the next one would push the file past `bytes`, so the file ends on a record
 * boundary (connections in flight stay open). Connections default to unlimited here.
 */
export async function writeSynthFile(
  path: string,
  opts: SynthOptions & { bytes: number; format?: "pcap" },
): Promise<{ packets: number; bytes: number }> {
  if (opts.bytes < PCAP_HEADER_LEN) throw new Error(`bytes must be at least the ${PCAP_HEADER_LEN}-byte pcap header`);
  const writer = new PcapStreamWriter({ linkType: LINKTYPE.ETHERNET, nanos: opts.nanos, snaplen: opts.snaplen });
  const chunk = new Uint8Array(CHUNK_BYTES);
  const fd = openSync(path, "w");
  let fileBytes = 0;
  let used = 0;
  let packets = 0;
  try {
    const header = writer.header();
    chunk.set(header, 0);
    used = header.length;
    const synth = new SynthStream({ ...opts, connections: opts.connections ?? Infinity, reuseBuffers: true });
    for (let packet = synth.next(); packet !== null; packet = synth.next()) {
      const recordLen = writer.recordLen(packet.data.length);
      if (fileBytes + used + recordLen > opts.bytes) break;
      if (used + recordLen > chunk.length) {
        writeFully(fd, chunk, used);
        fileBytes += used;
        used = 0;
      }
      used = writer.writeRecordInto(chunk, used, packet.tsNs, packet.data, packet.origLen);
      packets++;
    }
    writeFully(fd, chunk, used);
    fileBytes += used;
  } finally {
    closeSync(fd);
  }
  return { packets, bytes: fileBytes };
}

function writeFully(fd: number, buf: Uint8Array, len: number): void {
  for (let written = 0; written < len; ) written += writeSync(fd, buf, written, len - written);
}
