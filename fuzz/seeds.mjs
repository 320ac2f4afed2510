// The seed corpus: small captures made with synfin's own writer (src/synth, built to dist/synth)
// covering both containers in both byte orders, every link type, IPv4 options and IPv6 extension
// headers, TCP options, fragments, tunnels and layer-2 encapsulations, non-TCP traffic, bad
// checksums, snap-length cuts and damage; plus the small real captures of ../shared/captures when
// that folder exists (read in place, never copied).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writePcap, writePcapng } from "../dist/synth/capture.js";
import { Conversation, interleave } from "../dist/synth/conversation.js";
import { ACK, PSH, SYN, URG, arpFrame, icmpEcho, ipPacket, udpPacket } from "../dist/synth/packet.js";
import { ETHERNET_FRAMES, IP_TUNNELS, LINKS, ipv4 } from "./wrap.mjs";

const ETHERNET = 1;
const RAW = 101;
const MAX_SHARED_SEED = 64 << 10;
const CAPTURE_EXTENSIONS = /\.(pcap|pcapng|cap|ntar|trace|dmp)$/i;

/** A TCP conversation as IP packets (link "raw"), scripted by `script`. */
function conversation(script, opts = {}) {
  const conv = new Conversation({ client: "10.0.0.1", server: "10.0.0.2", clientPort: 40000, serverPort: 80, link: { link: "raw" }, ...opts });
  script(conv);
  return conv.packets();
}

const full = (c) => c.handshake().data("client", 120).data("server", 900).close("client");
const v6 = { client: "2001:db8::1", server: "2001:db8::2" };

/** Frames every packet's IP bytes with `frame` (IP packet → frame). */
const framed = (packets, frame) => packets.map((p) => ({ ...p, data: frame(p.data) }));
const pcap = (packets, linkType = ETHERNET, opts = {}) => writePcap(packets, { linkType, ...opts });

/** IPv4 fragments of an IP packet: payload split at 8-byte multiples, `order` gives the sending order. */
function fragments(ip, cuts, order) {
  const headerLen = (ip[0] & 15) * 4;
  const payload = ip.subarray(headerLen);
  const bounds = [0, ...cuts, payload.length];
  const pieces = bounds.slice(0, -1).map((start, i) => {
    const end = bounds[i + 1];
    const f = new Uint8Array(headerLen + end - start);
    f.set(ip.subarray(0, headerLen));
    f.set(payload.subarray(start, end), headerLen);
    const total = f.length, flags = (i < bounds.length - 2 ? 0x2000 : 0) | (start >> 3);
    f[2] = total >> 8; f[3] = total & 0xff; f[6] = flags >> 8; f[7] = flags & 0xff; f[10] = 0; f[11] = 0;
    return f;
  });
  return order.map((i) => pieces[i]);
}

function syntheticSeeds() {
  const seeds = [];
  const add = (name, bytes) => seeds.push({ name, bytes });
  const base = conversation(full, { timestamps: true, wscale: 7, sackOk: true });
  const eth = framed(base, LINKS[ETHERNET]);

  // Containers, both byte orders, both timestamp resolutions, several interfaces and sections.
  add("pcap-le-us", pcap(eth));
  add("pcap-be-ns", pcap(eth, ETHERNET, { bigEndian: true, nanos: true }));
  add("pcap-snaplen-54", pcap(eth, ETHERNET, { snaplen: 54 }));
  add("pcap-snaplen-40", pcap(eth, ETHERNET, { snaplen: 40 }));
  add("pcap-truncated-file", pcap(eth).subarray(0, 300));
  const damaged = pcap(eth);
  add("pcap-damaged-middle", Uint8Array.from([...damaged.subarray(0, 200), ...new Array(37).fill(0xee), ...damaged.subarray(200)]));
  const raw = base.map((p) => ({ ...p, interfaceId: 1 }));
  const other = conversation(full, { clientPort: 40001, startNs: base[0].tsNs + 500n });
  add("pcapng-epb-two-interfaces", writePcapng([{ interfaces: [{ linkType: ETHERNET }, { linkType: RAW, tsresol: 9 }], packets: interleave(framed(other, LINKS[ETHERNET]), raw), extraBlocks: true }]));
  add("pcapng-be-spb", writePcapng([{ bigEndian: true, interfaces: [{ linkType: ETHERNET, snaplen: 96 }], packets: eth, block: "spb" }]));
  add("pcapng-obsolete-pb", writePcapng([{ interfaces: [{ linkType: ETHERNET, tsresol: 0x83, tsoffsetSec: 1000 }], packets: eth, block: "pb" }]));
  add("pcapng-two-sections", writePcapng([
    { interfaces: [{ linkType: ETHERNET }], packets: eth.slice(0, 4) },
    { bigEndian: true, interfaces: [{ linkType: RAW }, { linkType: ETHERNET }], packets: eth.slice(4).map((p) => ({ ...p, interfaceId: 1 })) },
  ]));

  // Every link type.
  for (const [linkType, frame] of Object.entries(LINKS)) {
    if (linkType !== "229") add(`link-${linkType}`, pcap(framed(base.slice(0, 5), frame), Number(linkType)));
    if (linkType !== "228") add(`link-${linkType}-ipv6`, pcap(framed(conversation(full, v6).slice(0, 5), frame), Number(linkType)));
  }
  for (const [name, frame] of Object.entries(ETHERNET_FRAMES)) add(`ethernet-${name}`, pcap(framed(base.slice(0, 6), frame)));

  // Tunnels, one conversation each; one tunnel inside another.
  for (const [name, wrap] of Object.entries(IP_TUNNELS)) add(`tunnel-${name}`, pcap(framed(base.slice(0, 6), (ip) => LINKS[ETHERNET](wrap(ip)))));
  add("tunnel-vxlan-in-gre", pcap(framed(base.slice(0, 4), (ip) => LINKS[ETHERNET](IP_TUNNELS.gre(IP_TUNNELS.vxlan(ip))))));
  add("tunnel-teredo-ipv6", pcap(framed(conversation(full, v6).slice(0, 5), (ip) => LINKS[ETHERNET](IP_TUNNELS.teredo(ip)))));

  // TCP behaviours.
  const scripts = {
    "syn-only": (c) => c.syn().syn({ after: 1_000_000_000n }).syn({ after: 2_000_000_000n }),
    "syn-then-rst": (c) => c.syn().rst("server", { withAck: true }),
    "rst-after-data": (c) => c.handshake().data("client", 50).rst("client"),
    "midstream": (c) => c.data("client", 100).data("server", 100).ack("client"),
    "retransmit-and-loss": (c) => c.handshake().data("client", 100).retransmit("client").skip("client", 500).data("client", 200).ack("server").close("server"),
    "window-and-keepalive": (c) => c.handshake().zeroWindow("server").keepAlive("client").ack("server", { window: 1000 }).close("client"),
    "simultaneous-close": (c) => c.handshake().fin("client").fin("server").ack("client").ack("server"),
    "urgent-and-odd-flags": (c) => c.handshake().raw("client", { flags: URG | ACK | PSH, urgent: 5, payload: 10 }).raw("server", { flags: SYN | ACK | 0xc0 }).close("client"),
    "long-idle": (c) => c.handshake().data("client", 10, { after: 7_200_000_000_000n }).close("client"),
  };
  for (const [name, script] of Object.entries(scripts)) add(`tcp-${name}`, pcap(framed(conversation(script), LINKS[ETHERNET])));
  add("tcp-ipv6-ext-headers", pcap(framed(conversation((c) => c.handshake()
    .raw("client", { payload: 20, ipv6ExtHeaders: [{ type: 0, length: 8 }, { type: 43 }, { type: 60, length: 16 }, { type: 44 }] }).close("client"), v6), LINKS[ETHERNET])));
  add("tcp-ipv4-options", pcap(framed(conversation((c) => c.handshake()
    .raw("client", { payload: 20, ipOptions: Uint8Array.of(1, 7, 7, 4, 0, 0, 0, 0) }).close("client")), LINKS[ETHERNET])));
  add("tcp-options", pcap(framed(conversation((c) => c.handshake()
    .raw("server", { payload: 10, options: { sack: [[1, 2], [5, 9], [20, 30]], ts: [1, 2] } })
    .raw("client", { options: { mss: 536, eol: true } }).close("client"), { timestamps: true }), LINKS[ETHERNET])));
  add("tcp-bad-checksums", pcap(framed(conversation((c) => c.handshake()
    .raw("client", { payload: 30, badTcpChecksum: true }).raw("client", { payload: 30, badIpChecksum: true }).close("client")), LINKS[ETHERNET])));
  const flows = [];
  for (let i = 0; i < 40; i++) flows.push(...conversation((c) => (i % 3 ? c.syn() : c.handshake().fin("client")), { clientPort: 1024 + i, startNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n }));
  add("many-flows", pcap(framed(interleave(flows), LINKS[ETHERNET])));
  // SYN floods, raw IP: past the flow index's first size (1,500) and past one output batch (8,200 rows).
  for (const n of [1500, 8200]) {
    const syns = [];
    for (let i = 0; i < n; i++) {
      const data = ipPacket({ src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: "10.255.0.1", sport: 1024 + (i % 60000), dport: 80, seq: i, ack: 0, flags: SYN });
      syns.push({ tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1000n, data });
    }
    add(`syn-flood-${n}`, pcap(syns, RAW));
  }

  // IPv4 fragments: in order, reversed, overlapping; and fragments inside a tunnel.
  const big = ipPacket({ src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, seq: 1, ack: 0, flags: SYN, payload: 64, ipId: 9 });
  const ts = 1_700_000_000_000_000_000n;
  const list = (ips) => ips.map((data, i) => ({ tsNs: ts + BigInt(i) * 1000n, data: LINKS[ETHERNET](data) }));
  add("fragments-in-order", pcap(list(fragments(big, [16, 48], [0, 1, 2]))));
  add("fragments-reversed", pcap(list(fragments(big, [8, 40], [2, 1, 0]))));
  add("fragments-overlap", pcap(list([...fragments(big, [24], [0, 1]), ...fragments(big, [16, 32], [1, 2])])));
  add("fragments-in-tunnel", pcap(list(fragments(big, [16], [0, 1]).map(IP_TUNNELS.ipip))));
  add("tunnel-over-fragments", pcap(list(fragments(IP_TUNNELS.gre(big), [16], [0, 1]))));

  // Not TCP.
  add("not-tcp", pcap([
    { tsNs: ts, data: arpFrame() },
    { tsNs: ts + 1n, data: LINKS[ETHERNET](udpPacket("10.0.0.1", "10.0.0.2", 5353, 53, 30)) },
    { tsNs: ts + 2n, data: LINKS[ETHERNET](icmpEcho("10.0.0.1", "10.0.0.2")) },
    { tsNs: ts + 3n, data: LINKS[ETHERNET](icmpEcho("2001:db8::1", "2001:db8::2")) },
    { tsNs: ts + 4n, data: LINKS[ETHERNET](ipv4(132, new Uint8Array(12))) },
  ]));
  return seeds;
}

/** Small captures (by magic number) under `dir`, read in place. */
function sharedSeeds(dir) {
  const seeds = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (CAPTURE_EXTENSIONS.test(entry.name) && statSync(path).size <= MAX_SHARED_SEED) {
        const bytes = new Uint8Array(readFileSync(path));
        if (bytes.length >= 24) seeds.push({ name: path, bytes });
      }
    }
  };
  walk(dir);
  return seeds;
}

/** The seed corpus: synthetic seeds, plus the captures under `sharedDir` if given and present. */
export function seedCorpus(sharedDir) {
  const seeds = syntheticSeeds();
  let shared = false;
  try { shared = !!sharedDir && statSync(sharedDir).isDirectory(); } catch { shared = false; }
  return shared ? [...seeds, ...sharedSeeds(sharedDir)] : seeds;
}
