// The capture filter's language: the part of tcpdump's pcap-filter(7) that people use on TCP
// captures, parsed as libpcap's grammar parses it (grammar.y): `and` and `or` of equal precedence,
// left to right; `not` binding tightest; a bare value after `and`/`or` taking the qualifiers of the
// primitive before it (`port 80 or 443`); `vlan` moving every later offset by one tag. Values are
// read as libpcap reads them: `host 10` is 0.0.0.10, `host 10.1` is 10.1.0.0/16, `net 10` is
// 10.0.0.0/8. Names are not resolved (no DNS); port names are a table of Debian's /etc/services.

/** Where an expression is wrong: the character position (from 0) and what was expected. */
export class FilterSyntaxError extends Error {
  constructor(readonly position: number, readonly reason: string) {
    super(reason);
  }
}

export type Dir = "src" | "dst" | "src or dst" | "src and dst";
export type Protocol = "ip" | "ip6" | "tcp" | "udp" | "sctp" | "icmp" | "icmp6" | "arp" | "rarp";
export type HostProto = "any" | "ip" | "ip6" | "arp" | "rarp";
export type PortProto = "any" | "tcp" | "udp" | "sctp";
export type LoadProto = "ether" | "ip" | "ip6" | "tcp" | "udp" | "sctp" | "icmp" | "icmp6" | "arp" | "rarp";
export type RelOp = "==" | "!=" | ">" | ">=" | "<" | "<=";
export type ArithOp = "+" | "-" | "*" | "/" | "%" | "&" | "|" | "^" | "<<" | ">>";

/** A boolean term. `shift` is the bytes of VLAN tags (`vlan` primitives) parsed before it. */
export type Node =
  | { kind: "and" | "or"; left: Node; right: Node }
  | { kind: "not"; arg: Node }
  | { kind: "protocol"; proto: Protocol; shift: number }
  | { kind: "ipProto"; version: "ip" | "ip6" | "any"; value: number; shift: number }
  | { kind: "host4"; proto: HostProto; dir: Dir; addr: number; mask: number; shift: number }
  | { kind: "host6"; dir: Dir; addr: number[]; mask: number[]; shift: number }
  | { kind: "port"; proto: PortProto; dir: Dir; lo: number; hi: number; shift: number }
  | { kind: "vlan"; id: number | undefined; shift: number }
  | { kind: "relation"; op: RelOp; left: Arith; right: Arith };

export type Arith =
  | { kind: "number"; value: number }
  | { kind: "len" }
  | { kind: "load"; proto: LoadProto; index: Arith; size: 1 | 2 | 4; shift: number; at: number }
  | { kind: "binary"; op: ArithOp; left: Arith; right: Arith; at: number }
  | { kind: "negate"; arg: Arith };

interface Token { text: string; at: number; kind: "word" | "ip6" | "punct" | "end" }

const PUNCT = ["&&", "||", "!=", "==", ">=", "<=", "<<", ">>", "(", ")", "[", "]", ":", "!", "=", ">", "<", "+", "-", "*", "/", "%", "&", "|", "^"];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    // An IPv6 address: hex digits, dots and at least two colons (a `[2:2]` index has one).
    const six = /^[0-9A-Fa-f:.]+/.exec(text.slice(i));
    if (six && (six[0].match(/:/g) ?? []).length >= 2) {
      tokens.push({ text: six[0], at: i, kind: "ip6" });
      i += six[0].length;
      continue;
    }
    const word = /^[A-Za-z0-9_](?:[-_.A-Za-z0-9]*[_.A-Za-z0-9])?/.exec(text.slice(i));
    if (word) {
      tokens.push({ text: word[0], at: i, kind: "word" });
      i += word[0].length;
      continue;
    }
    const p = PUNCT.find((s) => text.startsWith(s, i));
    if (!p) throw new FilterSyntaxError(i, `unexpected character '${c}'`);
    tokens.push({ text: p, at: i, kind: "punct" });
    i += p.length;
  }
  tokens.push({ text: "", at: text.length, kind: "end" });
  return tokens;
}

const PROTOCOLS = new Set<string>(["ip", "ip6", "tcp", "udp", "sctp", "icmp", "icmp6", "arp", "rarp"]);
const LOAD_PROTOCOLS = new Set<string>(["ether", "ip", "ip6", "tcp", "udp", "sctp", "icmp", "icmp6", "arp", "rarp"]);
const TYPES = new Set(["host", "net", "port", "portrange", "proto"]);
const KEYWORDS = new Set([...PROTOCOLS, ...TYPES, "ether", "src", "dst", "and", "or", "not", "vlan", "mask", "less", "greater", "len"]);
/** pcap-filter words synfin's filters do not implement: named in the error instead of "unknown". */
const UNSUPPORTED = new Set([
  "gateway", "broadcast", "multicast", "inbound", "outbound", "ifname", "on", "rnr", "rulenum", "reason", "rset",
  "ruleset", "srnr", "subrulenum", "action", "decnet", "atalk", "aarp", "ipx", "iso", "esis", "isis", "clnp", "stp",
  "netbeui", "lat", "moprc", "mopdl", "sca", "llc", "mpls", "pppoed", "pppoes", "geneve", "vxlan", "type", "subtype",
  "dir", "wlan", "ra", "ta", "addr1", "addr2", "addr3", "addr4", "fddi", "tr", "igmp", "igrp", "pim", "vrrp", "carp",
  "ah", "esp", "protochain", "ifindex", "hopopt",
]);

/** The named constants of pcap-filter's arithmetic (tcpflags, tcp-syn, icmptype, …). */
const CONSTANTS: Record<string, number> = {
  tcpflags: 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08, "tcp-ack": 0x10,
  "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
  icmptype: 0, icmpcode: 1, "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
  "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11, "icmp-paramprob": 12,
  "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15, "icmp-ireqreply": 16, "icmp-maskreq": 17,
  "icmp-maskreply": 18,
  icmp6type: 0, icmp6code: 1,
};

/**
 * Port names as Debian's /etc/services gives them: [tcp port, udp port], -1 where the name has
 * none. A name with both (and the same number) means any transport, as libpcap's
 * pcap_nametoport; one with only TCP means TCP only (`port http` is `tcp port 80`).
 */
const PORT_NAMES: Record<string, [number, number]> = {
  "ftp-data": [20, -1], ftp: [21, -1], ssh: [22, -1], telnet: [23, -1], smtp: [25, -1], domain: [53, 53],
  http: [80, -1], www: [80, -1], kerberos: [88, 88], pop3: [110, -1], ntp: [-1, 123], "netbios-ssn": [139, -1],
  imap2: [143, -1], imap: [143, -1], snmp: [161, 161], bgp: [179, -1], ldap: [389, 389], https: [443, 443],
  "microsoft-ds": [445, -1], syslog: [-1, 514], submission: [587, -1], "domain-s": [853, 853], imaps: [993, -1],
  pop3s: [995, -1], mysql: [3306, -1], "ms-wbt-server": [3389, -1], sip: [5060, 5060], postgresql: [5432, -1],
  "http-alt": [8080, -1], bootps: [-1, 67], bootpc: [-1, 68], tftp: [-1, 69],
};

interface Qualifiers { proto: string | undefined; dir: Dir | undefined; type: string | undefined; at: number }

/** Parses a filter expression; throws FilterSyntaxError with the position of the first error. */
export function parseFilter(text: string): Node {
  const p = new Parser(tokenize(text));
  if (p.peek().kind === "end") throw new FilterSyntaxError(0, "the filter is empty");
  const node = p.expression();
  const rest = p.peek();
  if (rest.kind !== "end") throw new FilterSyntaxError(rest.at, rest.text === ")" ? "')' without '('" : `expected 'and' or 'or' before '${rest.text}'`);
  return node;
}

class Parser {
  private i = 0;
  /** Bytes of VLAN tags parsed so far: libpcap moves every later offset past them. */
  private shift = 0;
  /** The qualifiers a bare value after `and`/`or` takes: those of the last `qualifiers value` primitive. */
  private last: Qualifiers | undefined;

  constructor(private readonly tokens: Token[]) {}

  peek(ahead = 0): Token { return this.tokens[Math.min(this.i + ahead, this.tokens.length - 1)]; }
  private next(): Token { return this.tokens[this.i++]; }
  private is(text: string): boolean { const t = this.peek(); return t.kind !== "end" && t.text === text; }
  private take(text: string): boolean { if (this.is(text)) { this.i++; return true; } return false; }
  private expect(text: string, what = `'${text}'`): Token {
    const t = this.peek();
    if (t.text !== text || t.kind === "end") throw new FilterSyntaxError(t.at, `expected ${what}${found(t)}`);
    return this.next();
  }

  expression(): Node {
    let node = this.unary();
    for (;;) {
      const t = this.peek();
      const op = t.text === "and" || t.text === "&&" ? "and" : t.text === "or" || t.text === "||" ? "or" : undefined;
      if (!op || t.kind === "end") return node;
      this.next();
      node = { kind: op, left: node, right: this.unary(true) };
    }
  }

  private unary(afterOperator = false): Node {
    if (this.take("not") || this.take("!")) return { kind: "not", arg: this.unary(afterOperator) };
    return this.primary(afterOperator);
  }

  private primary(afterOperator: boolean): Node {
    const relation = this.tryRelation();
    if (relation) { this.last = undefined; return relation; }
    const t = this.peek();
    if (this.take("(")) {
      const node = this.expression();
      this.expect(")", "')'");
      return node;
    }
    if (t.kind === "end") throw new FilterSyntaxError(t.at, "the expression ends where a primitive was expected");
    return this.primitive(afterOperator);
  }

  /** `arith relop arith`, or undefined (nothing consumed) when the tokens here are not one. */
  private tryRelation(): Node | undefined {
    const start = this.i, shift = this.shift;
    // A load (`tcp[`) or `len` can only begin arithmetic: its errors are the expression's.
    const surely = (LOAD_PROTOCOLS.has(this.peek().text) && this.peek(1).text === "[") || this.is("len");
    let left: Arith;
    try {
      left = this.arith();
    } catch (e) {
      if (!(e instanceof FilterSyntaxError) || surely) throw e;
      this.i = start; this.shift = shift;
      return undefined;
    }
    const t = this.peek();
    const op = (["==", "=", "!=", ">=", "<=", ">", "<"] as const).find((o) => t.kind === "punct" && t.text === o);
    if (!op) { this.i = start; this.shift = shift; return undefined; }
    this.next();
    const right = this.arith();
    return { kind: "relation", op: op === "=" ? "==" : op, left, right };
  }

  // Arithmetic as grammar.y declares it: | below &, below shifts, below + -, below * /. `%` and
  // `^` have no declared precedence, so yacc shifts them: each takes the nearest operand on its
  // left and the whole rest of the arithmetic on its right (`len * 2 / 4 % 7` is
  // (len * 2) / (4 % 7), `3 | 4 & 5 ^ 6` is 3 | (4 & (5 ^ 6))).
  private arith(): Arith { return this.binary(0); }

  private static readonly LEVELS: ArithOp[][] = [["|"], ["&"], ["<<", ">>"], ["+", "-"], ["*", "/"]];

  private binary(level: number): Arith {
    if (level === Parser.LEVELS.length) return this.arithUnary();
    let left = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      const op = Parser.LEVELS[level].find((o) => t.kind === "punct" && t.text === o);
      if (!op) return left;
      this.next();
      left = { kind: "binary", op, left, right: this.binary(level + 1), at: t.at };
    }
  }

  private arithUnary(): Arith {
    if (this.take("-")) return { kind: "negate", arg: this.arithUnary() };
    const operand = this.arithPrimary();
    const t = this.peek();
    if (t.kind === "punct" && (t.text === "%" || t.text === "^")) {
      this.next();
      return { kind: "binary", op: t.text, left: operand, right: this.arith(), at: t.at };
    }
    return operand;
  }

  private arithPrimary(): Arith {
    const t = this.peek();
    if (this.take("(")) {
      const a = this.arith();
      this.expect(")", "')'");
      return a;
    }
    if (t.kind !== "word") throw new FilterSyntaxError(t.at, `expected a number${found(t)}`);
    if (t.text === "len") { this.next(); return { kind: "len" }; }
    if (LOAD_PROTOCOLS.has(t.text) && this.peek(1).text === "[") {
      this.next(); this.next();
      const index = this.arith();
      let size: 1 | 2 | 4 = 1;
      if (this.take(":")) {
        const s = this.peek();
        const n = numberOf(s.text);
        if (n !== 1 && n !== 2 && n !== 4) throw new FilterSyntaxError(s.at, `a load size is 1, 2 or 4${found(s)}`);
        this.next();
        size = n;
      }
      this.expect("]", "']'");
      return { kind: "load", proto: t.text as LoadProto, index, size, shift: this.shift, at: t.at };
    }
    const n = t.text in CONSTANTS ? CONSTANTS[t.text] : numberOf(t.text);
    if (n === undefined) throw new FilterSyntaxError(t.at, `expected a number${found(t)}`);
    this.next();
    return { kind: "number", value: n };
  }

  private primitive(afterOperator: boolean): Node {
    const t = this.peek();
    if (t.kind === "word" && UNSUPPORTED.has(t.text)) throw new FilterSyntaxError(t.at, `'${t.text}' is part of pcap-filter but not of synfin's filters (docs/filters.md lists what is)`);
    if (this.take("vlan")) {
      const v = this.peek();
      let id: number | undefined;
      if (v.kind === "word" && numberOf(v.text) !== undefined) {
        id = numberOf(v.text)!;
        if (id > 4095) throw new FilterSyntaxError(v.at, `a VLAN id is at most 4095, got ${id}`);
        this.next();
      }
      const node: Node = { kind: "vlan", id, shift: this.shift };
      this.shift += 4;
      this.last = undefined;
      return node;
    }
    if (t.text === "less" || t.text === "greater") {
      this.next();
      const v = this.peek();
      const n = numberOf(v.text);
      if (v.kind !== "word" || n === undefined) throw new FilterSyntaxError(v.at, `expected a length${found(v)}`);
      this.next();
      this.last = undefined;
      // less N is len <= N; greater N is len >= N (gen_len).
      return { kind: "relation", op: t.text === "less" ? "<=" : ">=", left: { kind: "len" }, right: { kind: "number", value: n } };
    }
    const q = this.qualifiers();
    const v = this.peek();
    if (q.proto === undefined && q.dir === undefined && q.type === undefined) {
      // A bare value: only after `and`/`or`, with the last primitive's qualifiers.
      if (!afterOperator || !this.last || v.kind === "punct") throw new FilterSyntaxError(v.at, v.kind === "word" && !KEYWORDS.has(v.text) && numberOf(v.text) === undefined && !/^[\d.]+$/.test(v.text)
        ? `unknown word '${v.text}'`
        : `expected a primitive (host, net, port, portrange, vlan, a protocol, or a comparison)${found(v)}`);
      return this.value(this.last, v);
    }
    if (q.dir === undefined && q.type === undefined) {
      // A protocol on its own (`tcp`, `ip6`).
      if (q.proto === "ether") throw new FilterSyntaxError(v.at, `'ether' needs a load (ether[...])${found(v)}`);
      this.last = undefined;
      return { kind: "protocol", proto: q.proto as Protocol, shift: this.shift };
    }
    if (v.kind === "end" || v.kind === "punct" && v.text !== "-") throw new FilterSyntaxError(v.at, `expected a value after '${this.tokens[this.i - 1].text}'${found(v)}`);
    this.last = q;
    return this.value(q, v);
  }

  private qualifiers(): Qualifiers {
    const at = this.peek().at;
    let proto: string | undefined, dir: Dir | undefined, type: string | undefined;
    if (this.peek().kind === "word" && (PROTOCOLS.has(this.peek().text) || this.peek().text === "ether")) proto = this.next().text;
    if (this.is("src") || this.is("dst")) {
      const first = this.next().text as "src" | "dst";
      dir = first;
      const join = this.peek().text, other = this.peek(1).text;
      if ((join === "or" || join === "and") && (other === "src" || other === "dst") && other !== first) {
        this.i += 2;
        dir = join === "or" ? "src or dst" : "src and dst";
      }
    }
    if (this.peek().kind === "word" && TYPES.has(this.peek().text)) type = this.next().text;
    return { proto, dir, type, at };
  }

  /** The value of a `qualifiers value` primitive (its token is `v`). */
  private value(q: Qualifiers, v: Token): Node {
    const type = q.type ?? "host";
    const dir = q.dir ?? "src or dst";
    const shift = this.shift;
    if (type === "port" || type === "portrange") return this.port(q, type, dir, v, shift);
    if (type === "proto") {
      const n = numberOf(v.text);
      if (v.kind !== "word" || n === undefined || n > 255) throw new FilterSyntaxError(v.at, `expected a protocol number from 0 to 255${found(v)}`);
      if (q.dir !== undefined) throw new FilterSyntaxError(q.at, "'src' or 'dst' does not apply to proto");
      if (q.proto !== undefined && q.proto !== "ip" && q.proto !== "ip6") throw new FilterSyntaxError(q.at, `'${q.proto} proto' is not supported (ip or ip6)`);
      this.next();
      return { kind: "ipProto", version: (q.proto ?? "any") as "ip" | "ip6" | "any", value: n, shift };
    }
    // host or net
    const proto = q.proto ?? "any";
    if (proto === "tcp" || proto === "udp" || proto === "sctp" || proto === "icmp" || proto === "icmp6" || proto === "ether") {
      throw new FilterSyntaxError(q.at, `'${proto}' modifier applied to ${type}`);
    }
    if (v.kind === "ip6") {
      this.next();
      const addr = parseIp6(v);
      let bits = 128;
      if (this.take("/")) bits = this.prefixLength(128);
      else if (type === "host" && this.is("mask")) throw new FilterSyntaxError(this.peek().at, "'mask' applies to IPv4 networks");
      if (proto !== "any" && proto !== "ip6") throw new FilterSyntaxError(q.at, `'${proto}' modifier applied to an IPv6 address`);
      if (type === "host" && bits !== 128) throw new FilterSyntaxError(v.at, "a host address has no prefix length (use net)");
      const mask = [0, 1, 2, 3].map((w) => maskWord(bits - 32 * w));
      for (let w = 0; w < 4; w++) {
        if ((addr[w] & ~mask[w]) !== 0) throw new FilterSyntaxError(v.at, `non-network bits set in '${v.text}/${bits}'`);
      }
      return { kind: "host6", dir, addr, mask, shift };
    }
    if (proto === "ip6") throw new FilterSyntaxError(v.at, `expected an IPv6 address after 'ip6 ${type}'${found(v)}`);
    const parsed = parseIp4(v);
    this.next();
    // gen_ncode and gen_mcode: a host is the number as given (a plain number is all 32 bits);
    // `net N` moves a short net number up to the top bytes; `net A/len` and `net A mask M` read A
    // as dotted parts filling the top bytes.
    let addr = parsed.dotted ? parsed.full : parsed.raw;
    let mask = parsed.dotted ? maskWord(8 * parsed.parts) : 0xffffffff;
    if (type === "net") {
      if (this.take("/")) {
        addr = parsed.full;
        mask = maskWord(this.prefixLength(32));
      } else if (this.take("mask")) {
        const m = this.peek();
        if (m.kind !== "word") throw new FilterSyntaxError(m.at, `expected a netmask${found(m)}`);
        addr = parsed.full;
        mask = parseIp4(m).full;
        this.next();
      } else {
        addr = parsed.raw;
        mask = 0xffffffff;
        while (addr !== 0 && (addr & 0xff000000) === 0) { addr = (addr << 8) >>> 0; mask = (mask << 8) >>> 0; }
      }
      if (((addr & ~mask) >>> 0) !== 0) throw new FilterSyntaxError(v.at, `non-network bits set in '${v.text}'`);
    } else if (this.is("/") || this.is("mask")) {
      throw new FilterSyntaxError(this.peek().at, "a host address has no mask (use net)");
    }
    return { kind: "host4", proto: proto as HostProto, dir, addr: addr >>> 0, mask: mask >>> 0, shift };
  }

  private prefixLength(max: number): number {
    const t = this.peek();
    const n = numberOf(t.text);
    if (t.kind !== "word" || n === undefined || n > max) throw new FilterSyntaxError(t.at, `expected a prefix length from 0 to ${max}${found(t)}`);
    this.next();
    return n;
  }

  private port(q: Qualifiers, type: string, dir: Dir, v: Token, shift: number): Node {
    let proto = q.proto ?? "any";
    if (proto !== "any" && proto !== "tcp" && proto !== "udp" && proto !== "sctp") throw new FilterSyntaxError(q.at, `'${proto}' modifier applied to ${type}`);
    if (v.kind !== "word") throw new FilterSyntaxError(v.at, `expected a port${found(v)}`);
    this.next();
    const one = (text: string, at: number): number => {
      const n = numberOf(text);
      if (n !== undefined) {
        if (n > 65535) throw new FilterSyntaxError(at, `a port is at most 65535, got ${n}`);
        return n;
      }
      const named = PORT_NAMES[text];
      if (!named) throw new FilterSyntaxError(at, `unknown port '${text}' (a number, or a name docs/filters.md lists)`);
      const [tcp, udp] = named;
      if (proto === "udp" && udp < 0) throw new FilterSyntaxError(at, `port '${text}' is tcp`);
      if (proto === "tcp" && tcp < 0) throw new FilterSyntaxError(at, `port '${text}' is udp`);
      if (proto === "any" && (tcp < 0 || udp < 0)) proto = tcp >= 0 ? "tcp" : "udp";
      return tcp >= 0 && proto !== "udp" ? tcp : udp;
    };
    if (type === "port") {
      const n = one(v.text, v.at);
      return { kind: "port", proto: proto as PortProto, dir, lo: n, hi: n, shift };
    }
    const m = /^([^-]+)-([^-]+)$/.exec(v.text) ?? /^(.+?)-(.+)$/.exec(v.text);
    if (!m) throw new FilterSyntaxError(v.at, `expected a port range such as 1000-2000${found(v)}`);
    let lo = one(m[1], v.at), hi = one(m[2], v.at + m[1].length + 1);
    if (lo > hi) [lo, hi] = [hi, lo];
    return { kind: "port", proto: proto as PortProto, dir, lo, hi, shift };
  }
}

function found(t: Token): string {
  return t.kind === "end" ? ", found the end" : `, found '${t.text}'`;
}

/** A number as libpcap's scanner reads one: decimal, 0x hexadecimal, or 0-led octal. */
function numberOf(text: string): number | undefined {
  let n: number;
  if (/^0x[0-9a-f]+$/i.test(text)) n = parseInt(text.slice(2), 16);
  else if (/^0[0-7]+$/.test(text)) n = parseInt(text, 8);
  else if (/^[0-9]+$/.test(text)) n = parseInt(text, 10);
  else return undefined;
  return n <= 0xffffffff ? n : undefined;
}

function maskWord(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * An IPv4 value: `raw` is the number as written (dotted parts packed from the low byte up, as
 * __pcap_atoin), `full` the same parts filling the top bytes, `parts` how many were given (a
 * plain number counts as one).
 */
function parseIp4(t: Token): { raw: number; full: number; dotted: boolean; parts: number } {
  const n = numberOf(t.text);
  if (n !== undefined) return { raw: n, full: n <= 255 ? (n << 24) >>> 0 : n, dotted: false, parts: 1 };
  if (!/^\d+(\.\d+){1,3}$/.test(t.text)) {
    if (KEYWORDS.has(t.text)) throw new FilterSyntaxError(t.at, `expected an address, found '${t.text}'`);
    throw new FilterSyntaxError(t.at, `'${t.text}' is not an address (synfin's filters do not look up host names)`);
  }
  const parts = t.text.split(".").map(Number);
  if (parts.some((x) => x > 255)) throw new FilterSyntaxError(t.at, `'${t.text}' is not an IPv4 address`);
  let raw = 0;
  for (const x of parts) raw = (raw * 256 + x) >>> 0;
  const full = parts.length === 4 ? raw : (raw * 2 ** (32 - 8 * parts.length)) >>> 0;
  return { raw, full, dotted: true, parts: parts.length };
}

/** Four 32-bit words of an IPv6 literal (with :: and an embedded IPv4 tail). */
function parseIp6(t: Token): number[] {
  const bad = (): never => { throw new FilterSyntaxError(t.at, `'${t.text}' is not an IPv6 address`); };
  let text = t.text;
  const groups: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    const q = v4[2].split(".").map(Number);
    if (q.some((x) => x > 255)) bad();
    tail = [q[0] * 256 + q[1], q[2] * 256 + q[3]];
    text = v4[1].endsWith("::") ? v4[1] : v4[1].slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) bad();
  const read = (s: string): number[] => s === "" ? [] : s.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : bad()));
  const head = read(halves[0]);
  const back = halves.length === 2 ? read(halves[1]) : [];
  const total = head.length + back.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) bad();
  groups.push(...head, ...new Array(8 - total).fill(0).slice(0, halves.length === 2 ? 8 - total : 0), ...back, ...tail);
  if (groups.length !== 8) bad();
  return [0, 1, 2, 3].map((w) => ((groups[2 * w] << 16) | groups[2 * w + 1]) >>> 0);
}
