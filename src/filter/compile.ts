// Compiles a capture filter (parse.ts) into one classic BPF program per link type the core
// decodes, laid out as libpcap's gencode.c lays out each primitive, unoptimised: the same loads
// in the same order, so that a record cut short by the snap length (a load past its captured
// bytes rejects it) is judged as tcpdump judges it. The result is the byte form of FilterAbi that
// assembly/filter.ts runs.

import { Bpf, FilterAbi } from "../core/abi.js";
import { SynfinError } from "../errors.js";
import { FilterSyntaxError, parseFilter } from "./parse.js";
import type { Arith, Dir, Node, PortProto } from "./parse.js";

/** A filter compiled for every link type the core decodes. */
export interface CompiledFilter {
  /** The expression as given. */
  readonly text: string;
  /** FilterAbi's byte form, for the core. */
  readonly bytes: Uint8Array;
  /** Link types the filter cannot be applied to, with libpcap's reason (tcpdump refuses them too). */
  readonly refusals: ReadonlyMap<number, string>;
}

const ETHERTYPE_IP = 0x0800, ETHERTYPE_ARP = 0x0806, ETHERTYPE_REVARP = 0x8035, ETHERTYPE_IPV6 = 0x86dd;
const VLAN_TYPES = [0x8100, 0x88a8, 0x9100];
const IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_SCTP = 132, IPPROTO_ICMP = 1, IPPROTO_ICMPV6 = 58, IPPROTO_FRAGMENT = 44;
/** Address families on BSD loopback links: IPv4, then IPv6 as Darwin, NetBSD/OpenBSD and FreeBSD number it. */
const AF_INET = 2, AF_INET6 = [30, 24, 28];

/** A link type's layout: where the network header starts and how a link says what it carries. */
interface Link {
  /** libpcap's description, for refusals. */
  name: string;
  net: number;
  /** Where the ethertype is (Ethernet-like links), or how the network protocol is told. */
  kind: "ethertype" | "version" | "ipv4" | "ipv6" | "family" | "nflog";
  at?: number;
  /** Families of a null/loop link as the file stores them (byte order decided per file). */
  family?: (af: number) => number;
  vlan?: boolean;
}

const bswap32 = (v: number): number => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

/** The link types the core decodes (assembly/decode/link.ts), keyed as FilterAbi keys them. */
const LINKS: Array<[number, Link]> = [
  [1, { name: "Ethernet", net: 14, kind: "ethertype", at: 12, vlan: true }],
  [10, { name: "FDDI", net: 21, kind: "ethertype", at: 19 }],
  [113, { name: "Linux cooked v1", net: 16, kind: "ethertype", at: 14 }],
  [276, { name: "Linux cooked v2", net: 20, kind: "ethertype", at: 0 }],
  [12, { name: "Raw IP", net: 0, kind: "version" }],
  [14, { name: "Raw IP", net: 0, kind: "version" }],
  [101, { name: "Raw IP", net: 0, kind: "version" }],
  [228, { name: "Raw IPv4", net: 0, kind: "ipv4" }],
  [229, { name: "Raw IPv6", net: 0, kind: "ipv6" }],
  // BSD loopback: the family in the byte order of the file that holds it.
  [0, { name: "BSD loopback", net: 4, kind: "family", family: bswap32 }],
  [0 | FilterAbi.BigEndianKey, { name: "BSD loopback", net: 4, kind: "family", family: (af) => af }],
  [108, { name: "OpenBSD loopback", net: 4, kind: "family", family: (af) => af }],
  [239, { name: "Linux netfilter log messages", net: 0, kind: "nflog" }],
];

/** A link type the filter cannot be applied to, with the reason. */
class Refusal extends Error {}

type Label = { at: number };
type Gen = (t: Label, f: Label) => void;

interface Insn { op: number; jt: Label | null; jf: Label | null; k: number | Label }

/** Classic BPF with symbolic forward jumps, resolved when the program is laid out. */
class Emitter {
  readonly code: Insn[] = [];
  label(): Label { return { at: -1 }; }
  place(l: Label): void { l.at = this.code.length; }
  emit(op: number, k = 0): void { this.code.push({ op, jt: null, jf: null, k }); }
  jump(op: number, k: number, t: Label, f: Label): void { this.code.push({ op, jt: t, jf: f, k }); }
  goto(l: Label): void { this.code.push({ op: Bpf.Ja, jt: null, jf: null, k: l }); }
}

/** Generates one link type's program. */
class Generator {
  private depth = 0;
  constructor(private readonly e: Emitter, private readonly link: Link) {}

  program(node: Node): void {
    const accept = this.e.label(), reject = this.e.label();
    this.bool(node)(accept, reject);
    this.e.place(accept);
    this.e.emit(Bpf.RetK, 1);
    this.e.place(reject);
    this.e.emit(Bpf.RetK, 0);
  }

  // --- combinators ---

  private all(...gens: Gen[]): Gen {
    return (t, f) => {
      gens.forEach((g, i) => {
        if (i === gens.length - 1) { g(t, f); return; }
        const next = this.e.label();
        g(next, f);
        this.e.place(next);
      });
    };
  }

  private any(...gens: Gen[]): Gen {
    return (t, f) => {
      gens.forEach((g, i) => {
        if (i === gens.length - 1) { g(t, f); return; }
        const next = this.e.label();
        g(t, next);
        this.e.place(next);
      });
    };
  }

  private readonly yes: Gen = (t) => this.e.goto(t);
  private readonly no: Gen = (_t, f) => this.e.goto(f);

  /** Loads `size` bytes at `offset` and compares (masked) with `value`. */
  private cmp(size: 1 | 2 | 4, offset: number, value: number, mask = 0xffffffff): Gen {
    return (t, f) => {
      this.e.emit(size === 4 ? Bpf.LdW : size === 2 ? Bpf.LdH : Bpf.LdB, offset);
      if (mask !== 0xffffffff) this.e.emit(Bpf.AndK, mask);
      this.e.jump(Bpf.JeqK, value >>> 0, t, f);
    };
  }

  // --- the link layer ---

  /** gen_linktype: the link carries ethertype `type` (at `shift` bytes of VLAN tags). */
  private linkType(type: number, shift: number): Gen {
    const l = this.link;
    switch (l.kind) {
      case "ethertype": return this.cmp(2, l.at! + shift, type);
      case "version":
        return type === ETHERTYPE_IP ? this.cmp(1, 0, 0x40, 0xf0) : type === ETHERTYPE_IPV6 ? this.cmp(1, 0, 0x60, 0xf0) : this.no;
      case "ipv4": return type === ETHERTYPE_IP ? this.yes : this.no;
      case "ipv6": return type === ETHERTYPE_IPV6 ? this.yes : this.no;
      case "family":
        if (type === ETHERTYPE_IP) return this.cmp(4, 0, l.family!(AF_INET));
        return type === ETHERTYPE_IPV6 ? this.any(...AF_INET6.map((af) => this.cmp(4, 0, l.family!(af)))) : this.no;
      case "nflog": throw new Refusal("NFLOG link-layer type filtering not implemented");
    }
  }

  private net(shift: number): number { return this.link.net + shift; }

  // --- primitives ---

  private bool(node: Node): Gen {
    switch (node.kind) {
      case "and": return this.all(this.bool(node.left), this.bool(node.right));
      case "or": return this.any(this.bool(node.left), this.bool(node.right));
      case "not": { const g = this.bool(node.arg); return (t, f) => g(f, t); }
      case "protocol": {
        const s = node.shift;
        switch (node.proto) {
          case "ip": return this.linkType(ETHERTYPE_IP, s);
          case "ip6": return this.linkType(ETHERTYPE_IPV6, s);
          case "arp": return this.linkType(ETHERTYPE_ARP, s);
          case "rarp": return this.linkType(ETHERTYPE_REVARP, s);
          case "tcp": return this.ipProto("any", IPPROTO_TCP, s);
          case "udp": return this.ipProto("any", IPPROTO_UDP, s);
          case "sctp": return this.ipProto("any", IPPROTO_SCTP, s);
          case "icmp": return this.ipProto("ip", IPPROTO_ICMP, s);
          case "icmp6": return this.ipProto("ip6", IPPROTO_ICMPV6, s);
        }
        break;
      }
      case "ipProto": return this.ipProto(node.version, node.value, node.shift);
      case "host4": return this.host4(node.proto, node.dir, node.addr, node.mask, node.shift);
      case "host6": return this.host6(node.dir, node.addr, node.mask, node.shift);
      case "port": return this.port(node.proto, node.dir, node.lo, node.hi, node.shift);
      case "vlan": return this.vlan(node.id, node.shift);
      case "relation": return this.relation(node);
    }
    throw new Error("unreachable");
  }

  /** gen_proto: IPv4's protocol field; IPv6's next header, also behind one fragment header. */
  private ipProto(version: "ip" | "ip6" | "any", proto: number, shift: number): Gen {
    const n = this.net(shift);
    const v4 = this.all(this.linkType(ETHERTYPE_IP, shift), this.cmp(1, n + 9, proto));
    const v6 = this.all(this.linkType(ETHERTYPE_IPV6, shift),
      this.any(this.cmp(1, n + 6, proto), this.all(this.cmp(1, n + 6, IPPROTO_FRAGMENT), this.cmp(1, n + 40, proto))));
    return version === "ip" ? v4 : version === "ip6" ? v6 : this.any(v4, v6);
  }

  private directions(dir: Dir, src: Gen, dst: Gen): Gen {
    switch (dir) {
      case "src": return src;
      case "dst": return dst;
      case "src or dst": return this.any(src, dst);
      case "src and dst": return this.all(src, dst);
    }
  }

  /** gen_host: IPv4, ARP and RARP addresses (each side with its own link-type check). */
  private host4(proto: "any" | "ip" | "ip6" | "arp" | "rarp", dir: Dir, addr: number, mask: number, shift: number): Gen {
    const n = this.net(shift);
    const one = (type: number, src: number, dst: number): Gen => this.directions(dir,
      this.all(this.linkType(type, shift), this.cmp(4, n + src, addr, mask)),
      this.all(this.linkType(type, shift), this.cmp(4, n + dst, addr, mask)));
    const ip = (): Gen => one(ETHERTYPE_IP, 12, 16);
    const arp = (): Gen => one(ETHERTYPE_ARP, 14, 24);
    const rarp = (): Gen => one(ETHERTYPE_REVARP, 14, 24);
    switch (proto) {
      case "ip": return ip();
      case "arp": return arp();
      case "rarp": return rarp();
      default: return this.any(ip(), arp(), rarp());
    }
  }

  /** gen_host6: the four words of the source or destination address, each masked. */
  private host6(dir: Dir, addr: number[], mask: number[], shift: number): Gen {
    const n = this.net(shift);
    const words = (off: number): Gen => this.all(...[0, 1, 2, 3].map((w) => this.cmp(4, n + off + 4 * w, addr[w], mask[w])));
    return this.directions(dir,
      this.all(this.linkType(ETHERTYPE_IPV6, shift), words(8)),
      this.all(this.linkType(ETHERTYPE_IPV6, shift), words(24)));
  }

  /** A 16-bit port at `at` (a Gen that loads it into A) within [lo, hi]. */
  private inRange(load: () => void, lo: number, hi: number): Gen {
    if (lo === hi) return (t, f) => { load(); this.e.jump(Bpf.JeqK, lo, t, f); };
    return this.all((t, f) => { load(); this.e.jump(Bpf.JgeK, lo, t, f); }, (t, f) => { load(); this.e.jump(Bpf.JgtK, hi, f, t); });
  }

  /** gen_port and gen_port6: IPv6 first, then IPv4 (first fragments only); SCTP, TCP, UDP. */
  private port(proto: PortProto, dir: Dir, lo: number, hi: number, shift: number): Gen {
    const n = this.net(shift);
    const protos = proto === "any" ? [IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP] : [proto === "tcp" ? IPPROTO_TCP : proto === "udp" ? IPPROTO_UDP : IPPROTO_SCTP];
    const v6ports = this.directions(dir,
      this.inRange(() => this.e.emit(Bpf.LdH, n + 40), lo, hi),
      this.inRange(() => this.e.emit(Bpf.LdH, n + 42), lo, hi));
    const v4load = (at: number) => (): void => { this.e.emit(Bpf.LdxMsh, n); this.e.emit(Bpf.LdIndH, n + at); };
    const v4ports = this.directions(dir, this.inRange(v4load(0), lo, hi), this.inRange(v4load(2), lo, hi));
    const v6 = this.all(this.linkType(ETHERTYPE_IPV6, shift), this.any(...protos.map((p) => this.all(this.cmp(1, n + 6, p), v6ports))));
    const v4 = this.all(this.linkType(ETHERTYPE_IP, shift), this.any(...protos.map((p) => this.all(this.cmp(1, n + 9, p), this.firstFragment(shift), v4ports))));
    return this.any(v6, v4);
  }

  /** gen_ipfrag: the IPv4 fragment offset is 0 (read at the network header's offset 6 whatever it is). */
  private firstFragment(shift: number): Gen {
    return (t, f) => {
      this.e.emit(Bpf.LdH, this.net(shift) + 6);
      this.e.jump(Bpf.JsetK, 0x1fff, f, t);
    };
  }

  /** gen_vlan: an 802.1Q, 802.1ad or QinQ tag at the current ethertype, with its id if given. */
  private vlan(id: number | undefined, shift: number): Gen {
    if (!this.link.vlan) throw new Refusal(`no VLAN support for ${this.link.name}`);
    const at = this.link.at! + shift;
    const tagged = this.any(...VLAN_TYPES.map((type) => this.cmp(2, at, type)));
    return id === undefined ? tagged : this.all(tagged, this.cmp(2, at + 2, id, 0x0fff));
  }

  // --- arithmetic ---

  /** gen_relation: the loads' protocol checks (left to right), then the comparison. */
  private relation(node: Extract<Node, { kind: "relation" }>): Gen {
    const checks: Gen[] = [];
    this.loadChecks(node.left, checks);
    this.loadChecks(node.right, checks);
    const compare: Gen = (t, f) => {
      this.depth = 0;
      const right = node.right;
      if (right.kind === "number") this.value(node.left);
      else this.pair(node.left, right);
      const k = right.kind === "number" ? right.value >>> 0 : 0;
      const x = right.kind !== "number";
      const [op, yes, no] = ((): [number, Label, Label] => {
        switch (node.op) {
          case "==": return [x ? Bpf.JeqX : Bpf.JeqK, t, f];
          case "!=": return [x ? Bpf.JeqX : Bpf.JeqK, f, t];
          case ">": return [x ? Bpf.JgtX : Bpf.JgtK, t, f];
          case ">=": return [x ? Bpf.JgeX : Bpf.JgeK, t, f];
          case "<": return [x ? Bpf.JgeX : Bpf.JgeK, f, t];
          case "<=": return [x ? Bpf.JgtX : Bpf.JgtK, f, t];
        }
      })();
      this.e.jump(op, k, yes, no);
    };
    return this.all(...checks, compare);
  }

  /**
   * The conditions gen_load attaches to a value, in its order: the index's, then the protocol's;
   * a transport load (found by the IPv4 header length) puts "an IPv4 packet" first and
   * "its first fragment" last; an icmp6 load checks for IPv6 and a next header of 58. As
   * libpcap 1.10's gen_arth, an operator keeps only its left operand's conditions: in
   * `0 + icmp[13]` the ICMP checks are lost, and any packet's byte at that offset is compared.
   */
  private loadChecks(a: Arith, out: Gen[]): void {
    switch (a.kind) {
      case "load": {
        const s = a.shift;
        const transport = (proto: number, version: "ip" | "any"): void => {
          out.push(this.linkType(ETHERTYPE_IP, s));
          this.loadChecks(a.index, out);
          out.push(this.ipProto(version, proto, s), this.firstFragment(s));
        };
        switch (a.proto) {
          case "tcp": transport(IPPROTO_TCP, "any"); return;
          case "udp": transport(IPPROTO_UDP, "any"); return;
          case "sctp": transport(IPPROTO_SCTP, "any"); return;
          case "icmp": transport(IPPROTO_ICMP, "ip"); return;
          default: break;
        }
        this.loadChecks(a.index, out);
        switch (a.proto) {
          case "ip": out.push(this.linkType(ETHERTYPE_IP, s)); break;
          case "ip6": out.push(this.linkType(ETHERTYPE_IPV6, s)); break;
          case "arp": out.push(this.linkType(ETHERTYPE_ARP, s)); break;
          case "rarp": out.push(this.linkType(ETHERTYPE_REVARP, s)); break;
          case "icmp6": out.push(this.linkType(ETHERTYPE_IPV6, s), this.cmp(1, this.net(s) + 6, IPPROTO_ICMPV6)); break;
          default: break;
        }
        return;
      }
      case "binary": this.loadChecks(a.left, out); return;
      case "negate": this.loadChecks(a.arg, out); return;
      default: return;
    }
  }

  private push(): number {
    if (this.depth === FilterAbi.ScratchWords) throw new FilterSyntaxError(0, `the arithmetic holds more than ${FilterAbi.ScratchWords} values at once (BPF's scratch memory)`);
    return this.depth++;
  }
  private pop(): number { return --this.depth; }

  /**
   * Leaves `left` in A and `right` in X, computing first the side that needs more scratch words
   * (Sethi–Ullman), so that nesting costs as few as it can. The order changes no result: an
   * arithmetic expression has no short cut, and any load past the captured bytes rejects.
   */
  private pair(left: Arith, right: Arith): void {
    if (scratchNeed(left) >= scratchNeed(right)) {
      this.value(left);
      const slot = this.push();
      this.e.emit(Bpf.St, slot);
      this.value(right);
      this.e.emit(Bpf.Tax);
      this.e.emit(Bpf.LdMem, this.pop());
    } else {
      this.value(right);
      const slot = this.push();
      this.e.emit(Bpf.St, slot);
      this.value(left);
      this.e.emit(Bpf.LdxMem, this.pop());
    }
  }

  /**
   * Leaves the value of `a` in A. A value libpcap's optimizer knows (constantValue) is loaded as
   * that constant: the optimizer drops the loads whose results it made dead, so a load past the
   * captured bytes inside `tcp[80] & 0` rejects nothing, as with tcpdump.
   */
  private value(a: Arith): void {
    const known = constantValue(a);
    if (known !== undefined) { this.e.emit(Bpf.LdImm, known); return; }
    switch (a.kind) {
      case "number": this.e.emit(Bpf.LdImm, a.value >>> 0); return;
      case "len": this.e.emit(Bpf.LdLen); return;
      case "negate": this.value(a.arg); this.e.emit(Bpf.Neg); return;
      case "binary": {
        const ops: Record<string, [number, number]> = {
          "+": [Bpf.AddK, Bpf.AddX], "-": [Bpf.SubK, Bpf.SubX], "*": [Bpf.MulK, Bpf.MulX], "/": [Bpf.DivK, Bpf.DivX],
          "%": [Bpf.ModK, Bpf.ModX], "&": [Bpf.AndK, Bpf.AndX], "|": [Bpf.OrK, Bpf.OrX], "^": [Bpf.XorK, Bpf.XorX],
          "<<": [Bpf.LshK, Bpf.LshX], ">>": [Bpf.RshK, Bpf.RshX],
        };
        const [opK, opX] = ops[a.op];
        if (a.right.kind === "number") {
          this.value(a.left);
          this.e.emit(opK, a.right.value >>> 0);
        } else {
          this.pair(a.left, a.right);
          this.e.emit(opX);
        }
        return;
      }
      case "load": {
        const size = a.size;
        const ind = size === 4 ? Bpf.LdIndW : size === 2 ? Bpf.LdIndH : Bpf.LdIndB;
        const abs = size === 4 ? Bpf.LdW : size === 2 ? Bpf.LdH : Bpf.LdB;
        const transport = a.proto === "tcp" || a.proto === "udp" || a.proto === "sctp" || a.proto === "icmp";
        // ICMPv6 is read after IPv6's fixed header (extension headers are not skipped).
        const base = a.proto === "ether" ? 0 : this.net(a.shift) + (a.proto === "icmp6" ? 40 : 0);
        if (transport) {
          // The transport header starts after the IPv4 header (its length from the first byte).
          this.value(a.index);
          const slot = this.push();
          this.e.emit(Bpf.St, slot);
          this.e.emit(Bpf.LdxMsh, base);
          this.e.emit(Bpf.LdMem, this.pop());
          this.e.emit(Bpf.AddX);
          this.e.emit(Bpf.Tax);
          this.e.emit(ind, base);
        } else if (a.index.kind === "number") {
          this.e.emit(abs, (base + a.index.value) >>> 0);
        } else {
          this.value(a.index);
          this.e.emit(Bpf.Tax);
          this.e.emit(ind, base);
        }
        return;
      }
    }
  }
}

/** Scratch words `value` uses for `a` (pair holds one side in a word while it computes the other). */
function scratchNeed(a: Arith): number {
  switch (a.kind) {
    case "number": case "len": return 0;
    case "negate": return scratchNeed(a.arg);
    case "load": {
      const transport = a.proto === "tcp" || a.proto === "udp" || a.proto === "sctp" || a.proto === "icmp";
      return transport ? Math.max(scratchNeed(a.index), 1) : scratchNeed(a.index);
    }
    case "binary": {
      if (a.right.kind === "number") return scratchNeed(a.left);
      const l = scratchNeed(a.left), r = scratchNeed(a.right);
      return l >= r ? Math.max(l, r + 1) : Math.max(r, l + 1);
    }
  }
}

/**
 * The constant libpcap's code for `a` starts with (`ld #k`), if it does: its statements begin with
 * those of the leftmost operand, a load's with its index's.
 */
function leadingConstant(a: Arith): number | undefined {
  switch (a.kind) {
    case "number": return a.value >>> 0;
    case "len": return undefined;
    case "load": return leadingConstant(a.index);
    case "binary": return leadingConstant(a.left);
    case "negate": return leadingConstant(a.arg);
  }
}

/**
 * The value libpcap's optimizer (optimize.c, opt_stmt and fold_op) knows `a` to have, if it does:
 * operations on constants fold (in 32 bits, a shift past 31 giving 0); `x & 0` and `x * 0` are 0,
 * and so are `0 * x`, `0 / x`, `0 % x`, `0 & x`, `0 << x` and `0 >> x`, whatever x is.
 */
export function constantValue(a: Arith): number | undefined {
  switch (a.kind) {
    case "number": return a.value >>> 0;
    case "negate": { const v = constantValue(a.arg); return v === undefined ? undefined : (0 - v) >>> 0; }
    case "binary": {
      const l = constantValue(a.left), r = constantValue(a.right);
      if (r === 0 && (a.op === "&" || a.op === "*")) return 0;
      if (l === 0 && r === undefined && ["*", "/", "%", "&", "<<", ">>"].includes(a.op)) return 0;
      if (l === undefined || r === undefined) return undefined;
      switch (a.op) {
        case "+": return (l + r) >>> 0;
        case "-": return (l - r) >>> 0;
        case "*": return Math.imul(l, r) >>> 0;
        case "/": return r === 0 ? undefined : Math.floor(l / r);
        case "%": return r === 0 ? undefined : l % r;
        case "&": return (l & r) >>> 0;
        case "|": return (l | r) >>> 0;
        case "^": return (l ^ r) >>> 0;
        case "<<": return r < 32 ? (l << r) >>> 0 : 0;
        case ">>": return r < 32 ? l >>> r : 0;
      }
      return undefined;
    }
    default: return undefined;
  }
}

/**
 * What tcpdump refuses outright, by the same tests: gen_arth's, a divisor whose code starts with
 * the constant 0 (`len / 0`, and also `len / tcp[0]`, `len / (0 + 5)`) or a shift whose amount
 * starts with a constant above 31; and its optimizer's, a divisor it knows to be 0
 * (`len % (80 % 80)`, `len / (ip[0] & 0)`).
 */
function checkConstants(node: Node): void {
  const arith = (a: Arith): void => {
    if (a.kind === "binary") {
      const k = leadingConstant(a.right);
      const zero = k === 0 || constantValue(a.right) === 0;
      if (a.op === "/" && zero) throw new FilterSyntaxError(a.at, "division by zero");
      if (a.op === "%" && zero) throw new FilterSyntaxError(a.at, "modulus by zero");
      const amount = constantValue(a.right);
      if ((a.op === "<<" || a.op === ">>") && ((k !== undefined && k > 31) || (amount !== undefined && amount > 31))) throw new FilterSyntaxError(a.at, "shift by more than 31 bits");
      arith(a.left); arith(a.right);
    } else if (a.kind === "negate") arith(a.arg);
    else if (a.kind === "load") arith(a.index);
  };
  switch (node.kind) {
    case "and": case "or": checkConstants(node.left); checkConstants(node.right); break;
    case "not": checkConstants(node.arg); break;
    case "relation": arith(node.left); arith(node.right); break;
    default: break;
  }
}

/**
 * Compiles `text` for every link type the core decodes. A bad expression is a SynfinError
 * BAD_FILTER whose offset is the character position (from 0) and whose message names it.
 */
export function compileFilter(text: string): CompiledFilter {
  let node: Node;
  try {
    node = parseFilter(text);
    checkConstants(node);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw badFilter(text, e);
    throw e;
  }
  const programs: Array<{ key: number; code: Insn[] | undefined }> = [];
  const refusals = new Map<number, string>();
  for (const [key, link] of LINKS) {
    const e = new Emitter();
    try {
      new Generator(e, link).program(node);
      programs.push({ key, code: e.code });
    } catch (err) {
      if (err instanceof FilterSyntaxError) throw badFilter(text, err);
      if (!(err instanceof Refusal)) throw err;
      programs.push({ key, code: undefined });
      refusals.set(key & ~FilterAbi.BigEndianKey, err.message);
    }
  }
  return { text, bytes: lay(programs), refusals };
}

function badFilter(text: string, e: FilterSyntaxError): SynfinError {
  return new SynfinError("BAD_FILTER", "", e.position, `bad filter at character ${e.position + 1}: ${e.reason} (in '${text}')`);
}

/** FilterAbi's byte form: the entry table, then every program's instructions. */
function lay(programs: Array<{ key: number; code: Insn[] | undefined }>): Uint8Array {
  const total = programs.reduce((n, p) => n + (p.code?.length ?? 0), 0);
  const bytes = new Uint8Array(4 + programs.length * FilterAbi.EntryBytes + total * FilterAbi.InstructionBytes);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, programs.length, true);
  let first = 0;
  let at = 4 + programs.length * FilterAbi.EntryBytes;
  programs.forEach((p, i) => {
    const entry = 4 + i * FilterAbi.EntryBytes;
    view.setUint32(entry, p.key >>> 0, true);
    view.setUint32(entry + 4, first, true);
    view.setUint32(entry + 8, p.code ? p.code.length : FilterAbi.Refused, true);
    if (!p.code) return;
    p.code.forEach((insn, pc) => {
      const rel = (l: Label | null): number => {
        if (l === null) return 0;
        if (l.at <= pc) throw new Error("synfin filter compiler: a backward jump (a bug)");
        return l.at - pc - 1;
      };
      view.setUint32(at, insn.op, true);
      view.setUint32(at + 4, rel(insn.jt), true);
      view.setUint32(at + 8, rel(insn.jf), true);
      view.setUint32(at + 12, typeof insn.k === "number" ? insn.k >>> 0 : rel(insn.k), true);
      at += FilterAbi.InstructionBytes;
    });
    first += p.code.length;
  });
  return bytes;
}

/** A listing of one link type's program, an instruction a line (test/filter.test.ts compares its loads with tcpdump -d's). */
export function listFilter(filter: CompiledFilter, linkType: number): string[] {
  const view = new DataView(filter.bytes.buffer, filter.bytes.byteOffset, filter.bytes.byteLength);
  const n = view.getUint32(0, true);
  const code = 4 + n * FilterAbi.EntryBytes;
  for (let i = 0; i < n; i++) {
    const e = 4 + i * FilterAbi.EntryBytes;
    if (view.getUint32(e, true) !== linkType >>> 0) continue;
    const first = view.getUint32(e + 4, true), count = view.getUint32(e + 8, true);
    if (count === FilterAbi.Refused) return [`refused: ${filter.refusals.get(linkType)}`];
    const lines: string[] = [];
    for (let pc = 0; pc < count; pc++) {
      const at = code + (first + pc) * FilterAbi.InstructionBytes;
      const op = view.getUint32(at, true), jt = view.getUint32(at + 4, true), jf = view.getUint32(at + 8, true), k = view.getUint32(at + 12, true);
      lines.push(`(${String(pc).padStart(3, "0")}) ${Bpf[op] ?? op} ${k}${op & 0x05 && (op & 0x07) === 5 && op !== Bpf.Ja ? ` jt ${pc + 1 + jt} jf ${pc + 1 + jf}` : ""}`);
    }
    return lines;
  }
  return [];
}
