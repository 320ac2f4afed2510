// The normalised frame: what pcap and pcapng framing both produce, so that decoding never knows
// which container a frame came from. Globals, not an object: one frame is live at a time.

/** Capture time in nanoseconds since the Unix epoch. */
export let frameTsNs: i64 = 0;
/** pcapng interface id (0 for pcap). */
export let frameInterface: u32 = 0;
/** Whether the container names an interface (pcapng) or not (pcap). */
export let frameHasInterface: bool = false;
/** Index of the frame among all packet records of the input, from 0. */
export let frameIndex: i64 = -1;

/** The next frame: what the flow layer reads of it (its bytes go to decodeFrame). */
@inline export function setFrame(tsNs: i64, iface: u32, hasIface: bool): void {
  frameTsNs = tsNs;
  frameInterface = iface;
  frameHasInterface = hasIface;
  frameIndex++;
}

/** A record the capture filter rejected: it keeps its index, and nothing else of it is seen. */
@inline export function skipFrame(): void {
  frameIndex++;
}

/** A reducer's frame: only what the flow layer reads, at the frame's global index. */
export function setFrameAt(index: i64, tsNs: i64, iface: u32, hasIface: bool): void {
  frameTsNs = tsNs;
  frameInterface = iface;
  frameHasInterface = hasIface;
  frameIndex = index;
}

export function resetFrames(): void {
  frameIndex = -1;
  frameTsNs = 0;
}
