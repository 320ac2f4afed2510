// Writing one table's batches in one output format (Arrow IPC file or stream, Parquet, Zeek log,
// CSV, NDJSON) to a sink: in the command's thread, or in an output thread of its own
// (src/cli/output-thread.ts).

import { AsyncByteQueue, Message, RecordBatchFileWriter, RecordBatchStreamWriter, type RecordBatch, type Schema } from "apache-arrow";
import { csvHeader, textLines } from "../output/format.js";
import { COLUMNS, EVENT_COLUMNS, EVENT_SCHEMA, PACKET_COLUMNS, PACKET_SCHEMA, SCHEMA, STATS_COLUMNS, STATS_SCHEMA, type ColumnDef } from "../output/schema.js";
import { ParquetStreamWriter, emptyBatch } from "../output/parquet.js";
import { ZeekLog, type ZeekTable } from "../output/zeek.js";

/** The formats a table is written in (the command's summary table aside). */
export type OutputFormat = "ndjson" | "csv" | "arrow" | "arrow-stream" | "parquet" | "zeek";

/** Where the bytes go: a file or standard output (the command's Sink), or an output thread's file. */
export interface ByteSink {
  /** The reader went away (a closed pipe): nothing more is written. */
  readonly closed: boolean;
  write(chunk: string | Uint8Array): Promise<void>;
  /** The output is complete. */
  end(): Promise<void>;
}

/** A ByteSink over a file's write stream: a write waits while the stream's buffer is full. */
export function streamSink(stream: NodeJS.WritableStream): ByteSink {
  return {
    closed: false,
    async write(chunk) {
      if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once("drain", () => resolve()));
    },
    async end() {
      await new Promise<void>((resolve) => stream.end(() => resolve()));
    },
  };
}

/**
 * Arrow's writer queues every byte it produces until someone reads them; this queue keeps them
 * for the BatchWriter to hand to the sink after each batch, so output waits for a slow disk.
 */
class HandOverQueue extends AsyncByteQueue {
  readonly pending: Uint8Array[] = [];
  override write(value: ArrayBufferView): void {
    if (value.byteLength > 0) this.pending.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  }
}

/**
 * An Arrow IPC file whose body is the whole streaming format, schema message first, as the format
 * specifies ("the file contents are otherwise identical to the stream format"); arrow-js puts the
 * schema in the footer only, which readers of the stream inside a file (DuckDB's, for one) refuse.
 */
class ArrowFileWriter extends RecordBatchFileWriter {
  protected override _writeSchema(schema: Schema): this {
    return this._writeMagic()._writePadding(2)._writeMessage(Message.from(schema));
  }
}

/** Writes batches of one table to a sink in one format. */
export class BatchWriter {
  private arrow: RecordBatchFileWriter | RecordBatchStreamWriter | undefined;
  private parquet: ParquetStreamWriter | undefined;
  private zeek: ZeekLog | undefined;
  private readonly queue = new HandOverQueue();
  private started = false;
  private readonly columns: readonly ColumnDef[];
  /** The table's schema: what a binary table that received no batch is written with. */
  private readonly schema: Schema;
  /** `withStats`: the connection rows have the packetStats columns. */
  constructor(private readonly format: OutputFormat, private readonly sink: ByteSink, private readonly table: ZeekTable, private readonly vlanKey = false, withStats = false) {
    this.columns = table === "conn" ? (withStats ? STATS_COLUMNS : COLUMNS) : table === "events" ? EVENT_COLUMNS : PACKET_COLUMNS;
    this.schema = table === "conn" ? (withStats ? STATS_SCHEMA : SCHEMA) : table === "events" ? EVENT_SCHEMA : PACKET_SCHEMA;
  }

  private async handOver(): Promise<void> {
    for (const chunk of this.queue.pending.splice(0)) await this.sink.write(chunk);
  }

  async write(batch: RecordBatch): Promise<void> {
    switch (this.format) {
      case "arrow":
      case "arrow-stream":
        this.arrow ??= (this.format === "arrow" ? new ArrowFileWriter() : new RecordBatchStreamWriter()).reset(this.queue as never) as RecordBatchFileWriter;
        this.arrow.write(batch);
        await this.handOver();
        return;
      case "parquet":
        this.parquet ??= await ParquetStreamWriter.open(this.sink, batch.schema);
        await this.parquet.write(batch);
        return;
      case "zeek":
        this.zeek ??= new ZeekLog(this.table, this.vlanKey);
        await this.sink.write(this.zeek.lines(batch));
        return;
    }
    if (this.format === "csv" && !this.started) await this.sink.write(csvHeader(this.columns) + "\n");
    this.started = true;
    // The lines' buffer is written out whole and dropped: it need not be zeroed first.
    const lines = textLines(batch, this.format === "ndjson" ? "json" : "csv", undefined, (n) => Buffer.allocUnsafe(n));
    if (lines.length > 0) await this.sink.write(lines);
  }

  /** Finishes the table (a binary one that received no batch gets its schema and no rows). */
  async end(): Promise<void> {
    if (this.format === "arrow" || this.format === "arrow-stream" || this.format === "parquet") {
      if (!this.arrow && !this.parquet) await this.write(emptyBatch(this.schema));
      if (this.arrow) {
        this.arrow.finish();
        await this.handOver();
      }
      await this.parquet?.end();
    } else if (this.format === "zeek") {
      await this.sink.write((this.zeek ??= new ZeekLog(this.table, this.vlanKey)).close());
    } else if (this.format === "csv" && !this.started) {
      await this.sink.write(csvHeader(this.columns) + "\n");
    }
    await this.sink.end();
  }
}
