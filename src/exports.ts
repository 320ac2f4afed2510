// What both entries export besides analyze/connections.

export { SCHEMA, COLUMNS, EVENT_SCHEMA, EVENT_COLUMNS, type ColumnDef } from "./schema.js";
export { SynfinError, type SynfinErrorCode } from "./errors.js";
export { RECORD_BUCKETS, type Stats } from "./core.js";
export type { AnalyzeOptions, AnalyzeResult, ConnectionStream } from "./api.js";
export type { Progress } from "./engine.js";
export type { CaptureInput, ByteSource } from "./sources.js";
export { replayEvents, type EventRow, type Replayed } from "./replay.js";
