// The normalised frame: what pcap and pcapng framing both produce, so that decoding never knows
// which container a frame came from. Globals, not an object: one frame is live at a time.

/** Capture time in nanoseconds since the Unix epoch. */
export let frameTsNs: i64 = 0;
/** Bytes present in the capture for this frame. */
export let frameCapLen: u32 = 0;
/** Bytes the frame had on the wire. */
export let frameOrigLen: u32 = 0;
/** LINKTYPE_* of the interface the frame was captured on. */
export let frameLinkType: u32 = 0;
/** pcapng interface id (0 for pcap). */
export let frameInterface: u32 = 0;
/** Whether the container names an interface (pcapng) or not (pcap). */
export let frameHasInterface: bool = false;
/** Address of the first captured byte in linear memory. */
export let frameData: usize = 0;
/** Index of the frame among all packet records of the input, from 0. */
export let frameIndex: i64 = -1;

export function setFrame(tsNs: i64, capLen: u32, origLen: u32, linkType: u32, iface: u32, hasIface: bool, data: usize): void {
  frameTsNs = tsNs;
  frameCapLen = capLen;
  frameOrigLen = origLen;
  frameLinkType = linkType;
  frameInterface = iface;
  frameHasInterface = hasIface;
  frameData = data;
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
