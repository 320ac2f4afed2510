// Which path a frame takes through decoding (assembly/common.ts) and a segment through the
// connection models. The common segment (an in-order ACK
// or data segment that changes no state) has one-step versions of Zeek's and Wireshark's rules
// (processInOrder, analyzeInOrder); each returns false, having changed nothing, for any segment it
// does not cover, which then takes the exact step-by-step path. Turning the one-step path off must
// change no output: test/conformance/fast-path.test.ts and the fuzzer check that.

import { TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../decode/tcp";

/** Whether the one-step path is tried (the reset flag Flag.ExactPathOnly turns it off). */
export let fastPath: bool = true;

/**
 * Segments that took the one-step path this run: Zeek's model, Wireshark's analysis; frames
 * decoded in one step (assembly/common.ts); pcapng blocks framed in one step (commonPacketBlock in
 * assembly/capture/pcapng.ts). For tests and benchmarks.
 */
export let oneStepZeek: u64 = 0;
export let oneStepAnalysis: u64 = 0;
export let oneStepDecode: u64 = 0;
export let oneStepBlocks: u64 = 0;

export function setFastPath(on: bool): void {
  fastPath = on;
  oneStepZeek = 0;
  oneStepAnalysis = 0;
  oneStepDecode = 0;
  oneStepBlocks = 0;
}

@inline export function countOneStep(zeek: bool, analysis: bool): void {
  oneStepZeek += <u64>zeek;
  oneStepAnalysis += <u64>analysis;
}

@inline export function countOneStepDecode(): void {
  oneStepDecode++;
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
