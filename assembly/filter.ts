// The capture filter (tcpdump's pcap-filter language, compiled by the host in src/filter/): one
// classic BPF program per link type, run on each record's bytes before anything else sees it, as
// libpcap runs tcpdump's. A rejected record is counted (Stat.Filtered) and is otherwise as if it
// were not in the capture: it moves no clock and reaches no decoder. Semantics are BPF's: a load
// past the captured bytes, or a division by zero, rejects the record.

import { Bpf, FilterAbi } from "../src/core/abi";
import { LINKTYPE_NULL } from "./decode/link";

/** What the filter says of a record. */
export const FILTER_PASS: u32 = 0;
export const FILTER_REJECT: u32 = 1;
/** The filter cannot be applied to the record's link type (the reader stops with FilterRefused). */
export const FILTER_REFUSED: u32 = 2;

/** Whether a filter is set (kept by reset: it is an option of the instance, as the flags are). */
export let filterOn: bool = false;
/** The link type of the record a refusal was for. */
export let refusedLinkType: u32 = 0;

let blob: usize = 0;
let blobCap: usize = 0;
let entries: u32 = 0;
let code: usize = 0;
let codeCount: u32 = 0;
// The last key looked up, and its program.
let lastKey: u32 = 0xffffffff;
let lastStart: usize = 0;
let lastCount: u32 = 0;
const scratch = new StaticArray<u32>(FilterAbi.ScratchWords);

const ENTRIES_OFFSET: usize = 4;

/** Room for a compiled filter of `len` bytes; the host writes it there, then calls setFilter. */
export function filterBuffer(len: u32): usize {
  if (<usize>len > blobCap) {
    blob = blob == 0 ? heap.alloc(len) : heap.realloc(blob, len);
    blobCap = len;
  }
  return blob;
}

/** Takes up the compiled filter of `len` bytes (0: none). False if it is malformed (a host bug). */
export function setFilter(len: u32): bool {
  filterOn = false;
  lastKey = 0xffffffff;
  if (len == 0) return true;
  if (len < 4) return false;
  // SAFE: the host wrote `len` bytes at blob (filterBuffer(len) first).
  entries = load<u32>(blob);
  const table = <u64>ENTRIES_OFFSET + <u64>entries * FilterAbi.EntryBytes;
  if (table > <u64>len || (<u64>len - table) % FilterAbi.InstructionBytes != 0) return false;
  code = blob + <usize>table;
  codeCount = <u32>((<u64>len - table) / FilterAbi.InstructionBytes);
  for (let i: u32 = 0; i < entries; i++) {
    const e = blob + ENTRIES_OFFSET + <usize>i * FilterAbi.EntryBytes;
    const first = load<u32>(e, 4), n = load<u32>(e, 8);
    if (n == FilterAbi.Refused) continue;
    if (n == 0 || <u64>first + <u64>n > <u64>codeCount || !valid(code + <usize>first * FilterAbi.InstructionBytes, n)) return false;
  }
  filterOn = true;
  return true;
}

/** Every instruction known, every jump inside the program, every scratch index in range, a return last. */
function valid(prog: usize, n: u32): bool {
  for (let pc: u32 = 0; pc < n; pc++) {
    const ins = prog + <usize>pc * FilterAbi.InstructionBytes;
    const op = load<u32>(ins), jt = load<u32>(ins, 4), jf = load<u32>(ins, 8), k = load<u32>(ins, 12);
    const left = <u64>n - <u64>pc - 1;
    switch (op) {
      case Bpf.Ja: if (<u64>k >= left) return false; break;
      case Bpf.JeqK: case Bpf.JgtK: case Bpf.JgeK: case Bpf.JsetK: case Bpf.JeqX: case Bpf.JgtX: case Bpf.JgeX:
        if (<u64>jt >= left || <u64>jf >= left) return false;
        break;
      case Bpf.LdMem: case Bpf.LdxMem: case Bpf.St: case Bpf.Stx:
        if (k >= <u32>FilterAbi.ScratchWords) return false;
        break;
      case Bpf.LdImm: case Bpf.LdW: case Bpf.LdH: case Bpf.LdB: case Bpf.LdIndW: case Bpf.LdIndH: case Bpf.LdIndB:
      case Bpf.LdLen: case Bpf.LdxImm: case Bpf.LdxMsh: case Bpf.Neg: case Bpf.RetK: case Bpf.Tax: case Bpf.Txa:
      case Bpf.AddK: case Bpf.SubK: case Bpf.MulK: case Bpf.DivK: case Bpf.OrK: case Bpf.AndK: case Bpf.LshK: case Bpf.RshK: case Bpf.ModK: case Bpf.XorK:
      case Bpf.AddX: case Bpf.SubX: case Bpf.MulX: case Bpf.DivX: case Bpf.OrX: case Bpf.AndX: case Bpf.LshX: case Bpf.RshX: case Bpf.ModX: case Bpf.XorX:
        break;
      default: return false;
    }
  }
  return load<u32>(prog + <usize>(n - 1) * FilterAbi.InstructionBytes) == Bpf.RetK;
}

/** The filter's verdict on one record (FILTER_*). `bigEndian`: the file's (or section's) byte order. */
export function filterFrame(linkType: u32, bigEndian: bool, data: usize, capLen: u32, wireLen: u32): u32 {
  const key = linkType == LINKTYPE_NULL && bigEndian ? linkType | FilterAbi.BigEndianKey : linkType;
  if (key != lastKey) {
    lastKey = key;
    lastCount = 0;
    for (let i: u32 = 0; i < entries; i++) {
      const e = blob + ENTRIES_OFFSET + <usize>i * FilterAbi.EntryBytes;
      if (load<u32>(e) == key) {
        lastStart = code + <usize>load<u32>(e, 4) * FilterAbi.InstructionBytes;
        lastCount = load<u32>(e, 8);
        break;
      }
    }
  }
  // A link type the decoder does not know has no program: its records stay unsupported.
  if (lastCount == 0) return FILTER_PASS;
  if (lastCount == FilterAbi.Refused) {
    refusedLinkType = linkType;
    return FILTER_REFUSED;
  }
  return run(lastStart, lastCount, data, capLen, wireLen) ? FILTER_PASS : FILTER_REJECT;
}

/** bpf_filter: true when the program accepts the packet. Programs were checked by `valid`. */
function run(prog: usize, n: u32, p: usize, capLen: u32, wireLen: u32): bool {
  let a: u32 = 0, x: u32 = 0;
  let pc: u32 = 0;
  while (pc < n) {
    const ins = prog + <usize>pc * FilterAbi.InstructionBytes;
    const op = load<u32>(ins), k = load<u32>(ins, 12);
    pc++;
    switch (op) {
      case Bpf.LdImm: a = k; break;
      case Bpf.LdLen: a = wireLen; break;
      case Bpf.LdMem: a = unchecked(scratch[k]); break;
      case Bpf.LdW: case Bpf.LdH: case Bpf.LdB: case Bpf.LdIndW: case Bpf.LdIndH: case Bpf.LdIndB: {
        const at = op >= <u32>Bpf.LdIndW ? <u64>k + <u64>x : <u64>k;
        const size: u64 = (op & 0x18) == 0 ? 4 : (op & 0x18) == 0x08 ? 2 : 1;
        // A load past the captured bytes rejects the packet.
        if (at + size > <u64>capLen) return false;
        // SAFE: [at, at + size) lies within the captured bytes (checked above).
        const q = p + <usize>at;
        a = size == 4 ? bswap<u32>(load<u32>(q)) : size == 2 ? <u32>bswap<u16>(load<u16>(q)) : <u32>load<u8>(q);
        break;
      }
      case Bpf.LdxImm: x = k; break;
      case Bpf.LdxMem: x = unchecked(scratch[k]); break;
      case Bpf.LdxMsh:
        if (<u64>k >= <u64>capLen) return false;
        // SAFE: k < capLen (checked above).
        x = (<u32>load<u8>(p + <usize>k) & 0x0f) << 2;
        break;
      case Bpf.St: unchecked(scratch[k] = a); break;
      case Bpf.Stx: unchecked(scratch[k] = x); break;
      case Bpf.AddK: a += k; break;
      case Bpf.SubK: a -= k; break;
      case Bpf.MulK: a *= k; break;
      case Bpf.DivK: if (k == 0) return false; a /= k; break;
      case Bpf.ModK: if (k == 0) return false; a %= k; break;
      case Bpf.OrK: a |= k; break;
      case Bpf.AndK: a &= k; break;
      case Bpf.XorK: a ^= k; break;
      case Bpf.LshK: a = k < 32 ? a << k : 0; break;
      case Bpf.RshK: a = k < 32 ? a >> k : 0; break;
      case Bpf.AddX: a += x; break;
      case Bpf.SubX: a -= x; break;
      case Bpf.MulX: a *= x; break;
      case Bpf.DivX: if (x == 0) return false; a /= x; break;
      case Bpf.ModX: if (x == 0) return false; a %= x; break;
      case Bpf.OrX: a |= x; break;
      case Bpf.AndX: a &= x; break;
      case Bpf.XorX: a ^= x; break;
      case Bpf.LshX: a = x < 32 ? a << x : 0; break;
      case Bpf.RshX: a = x < 32 ? a >> x : 0; break;
      case Bpf.Neg: a = 0 - a; break;
      case Bpf.Tax: x = a; break;
      case Bpf.Txa: a = x; break;
      case Bpf.Ja: pc += k; break;
      case Bpf.JeqK: pc += a == k ? load<u32>(ins, 4) : load<u32>(ins, 8); break;
      case Bpf.JgtK: pc += a > k ? load<u32>(ins, 4) : load<u32>(ins, 8); break;
      case Bpf.JgeK: pc += a >= k ? load<u32>(ins, 4) : load<u32>(ins, 8); break;
      case Bpf.JsetK: pc += (a & k) != 0 ? load<u32>(ins, 4) : load<u32>(ins, 8); break;
      case Bpf.JeqX: pc += a == x ? load<u32>(ins, 4) : load<u32>(ins, 8); break;
      case Bpf.JgtX: pc += a > x ? load<u32>(ins, 4) : load<u32>(ins, 8); break;
      case Bpf.JgeX: pc += a >= x ? load<u32>(ins, 4) : load<u32>(ins, 8); break;
      case Bpf.RetK: return k != 0;
      default: return false;
    }
  }
  return false;
}
