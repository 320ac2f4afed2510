// What both entries export besides analyze/connections.

export { SCHEMA, COLUMNS, EVENT_SCHEMA, EVENT_COLUMNS, PACKET_SCHEMA, PACKET_COLUMNS, PACKET_STATS_COLUMNS, STATS_SCHEMA, type ColumnDef } from "./output/schema.js";
export { SynfinError, type SynfinErrorCode } from "./errors.js";
export {
  RECORD_BUCKETS, type AnalyzeOptions, type AnalyzeResult, type ByteSource, type CaptureInput, type Connection,
  type ConnectionColumns, type ConnectionEvent, type ConnectionStream, type EventColumns, type PacketColumns, type PacketStatsColumns, type PacketRow, type Progress,
  type Stats,
} from "./public.js";
export { replayEvents, type EventRow, type Replayed } from "./output/replay.js";
