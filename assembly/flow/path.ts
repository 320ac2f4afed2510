// Which path a frame takes through decoding (assembly/common.ts) and a segment through the
// connection models. The common segment (an in-order ACK
// or data segment that changes no state) has one-step versions of Zeek's and Wireshark's rules
// (processInOrder, analyzeInOrder); each returns false, having changed nothing, for any segment it
// does not cover, which then takes the exact step-by-step path. Turning the one-step path off must
// change no output: test/conformance/fast-path.test.ts and the fuzzer check that.

import { TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../decode/tcp";
import { Stat } from "../../src/core/abi";
import { statValue } from "../stats";

/** Whether the one-step path is tried (the reset flag Flag.ExactPathOnly turns it off). */
export let fastPath: bool = true;

/**
 * Segments that took the one-step path this run, for tests and benchmarks: in both models (the
 * common case, one count), in Zeek's model only, in Wireshark's analysis only; frames decoded in
 * one step (assembly/common.ts); pcapng blocks framed in one step (commonPacketBlock in
 * assembly/capture/pcapng.ts).
 */
let oneStepBoth: u64 = 0;
let oneStepZeekOnly: u64 = 0;
let oneStepAnalysisOnly: u64 = 0;
/** TCP packets the general decoding counted (the others were decoded in one step). */
let generalTcp: u64 = 0;
export let oneStepBlocks: u64 = 0;

export function setFastPath(on: bool): void {
  fastPath = on;
  oneStepBoth = 0;
  oneStepZeekOnly = 0;
  oneStepAnalysisOnly = 0;
  generalTcp = 0;
  oneStepBlocks = 0;
}

/** Segments Zeek's model took in one step. */
export function oneStepZeek(): u64 {
  return oneStepBoth + oneStepZeekOnly;
}

/** Segments Wireshark's analysis took in one step. */
export function oneStepAnalysis(): u64 {
  return oneStepBoth + oneStepAnalysisOnly;
}

/** A segment both models took in one step. */
@inline export function countOneStepBoth(): void {
  oneStepBoth++;
}

/** A segment Zeek's model took in one step, then the analysis step by step (or by countOneStepAnalysisOnly). */
@inline export function countOneStepZeekOnly(): void {
  oneStepZeekOnly++;
}

/** A segment Wireshark's analysis took in one step and Zeek's model did not (or took before, countOneStepZeekOnly). */
@inline export function countOneStepAnalysisOnly(inOrder: bool): void {
  oneStepAnalysisOnly += <u64>inOrder;
}

/**
 * Frames decoded in one step: the TCP packets the general decoding did not count (both from the
 * run's reset). Worked out when asked for rather than counted, as the one-step decode is every
 * record's.
 */
export function oneStepDecode(): u64 {
  return statValue(Stat.TcpPackets) - generalTcp;
}

/** A TCP packet counted by the general decoding (decodeFrame). */
@inline export function countGeneralTcp(): void {
  generalTcp++;
}

@inline export function countOneStepBlock(): void {
  oneStepBlocks++;
}

/** The flags that tell a segment the one-step path may take: of these, ACK alone. */
export const ONE_STEP_FLAGS: u32 = TH_SYN | TH_FIN | TH_RST | TH_ACK;

/** An ACK without SYN, FIN or RST: the only kind of segment the one-step path may take. */
@inline export function mayTakeFastPath(flags: u32): bool {
  return fastPath && (flags & ONE_STEP_FLAGS) == TH_ACK;
}
