// Parquet output for the CLI (Node), with parquet-wasm (Apache Arrow's Rust Parquet writer in
// wasm): batches are encoded as they arrive, into row groups of up to 1,048,576 rows (arrow-rs's
// default). The writer holds the row group it is writing, so its memory grows with the rows up to
// that many: the command peaked at 0.65 GB writing 740,000 connections. Row groups of 131,072
// rows took 0.45 GB there but made the file 27% larger (a dictionary and compression context per
// row group; measured when every column had a dictionary). Batches cross into parquet-wasm as Arrow IPC streams.
//
// Dictionary encoding is used for string columns only (Utf8 and Arrow dictionaries: addresses,
// states, history). The writer's default tries it on every column and falls back to plain
// encoding once a column chunk's dictionary passes 1 MiB; on the numeric and time columns, most
// of them unique or nearly so per row, that trial is wasted work and left larger files. Writing
// the 1 GiB bench captures' tables (parquet-wasm alone, two alternated rounds): header-only,
// 85,803 rows, 0.91–1.72 → 0.56–0.57 s and 15.98 → 12.70 MB; many short connections, 740,791
// rows, 6.30–7.38 → 4.79–5.08 s and 95.74 → 97.37 MB.

import { DataType, RecordBatch, Struct, Table, makeData, tableToIPC, type Schema } from "apache-arrow";
import { importModule } from "../import-module.js";

type ParquetWasm = typeof import("parquet-wasm/node");

/** Where the Parquet bytes go (the CLI's Sink). */
interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
}

export class ParquetStreamWriter {
  private controller!: ReadableStreamDefaultController<unknown>;
  private taken: (() => void) | undefined;
  private readonly written: Promise<void>;

  private constructor(private readonly pq: ParquetWasm, sink: ByteSink, schema: Schema) {
    const batches = new ReadableStream<unknown>({
      start: (controller) => { this.controller = controller; },
      pull: () => { this.taken?.(); this.taken = undefined; },
    }, { highWaterMark: 1 });
    const props = stringDictionariesOnly(new pq.WriterPropertiesBuilder().setCompression(pq.Compression.ZSTD).setCreatedBy("synfin"), schema).build();
    this.written = (async () => {
      const bytes = await pq.transformParquetStream(batches, props);
      for await (const chunk of bytes as unknown as AsyncIterable<Uint8Array>) await sink.write(chunk);
    })();
    // Reported by end(); keep Node from calling it unhandled in the meantime.
    this.written.catch(() => undefined);
  }

  /** A writer of batches of `schema` (which sets each column's encoding) to `sink`. */
  static async open(sink: ByteSink, schema: Schema): Promise<ParquetStreamWriter> {
    return new ParquetStreamWriter(await importModule<ParquetWasm>("parquet-wasm/node"), sink, schema);
  }

  /** Queues one batch (a row group), waiting while the writer is still busy with the last one. */
  async write(batch: RecordBatch): Promise<void> {
    const table = this.pq.Table.fromIPCStream(tableToIPC(new Table([batch]), "stream"));
    for (const wasmBatch of table.recordBatches()) this.controller.enqueue(wasmBatch);
    // Its batches (reference-counted columns) went to the writer; the table's own hold on them
    // goes now, not when (or if) the garbage collector gets to it: parquet-wasm's memory grew by
    // about a batch's size per batch otherwise.
    table.free();
    // Wait for the writer to take it, or to fail (it then takes nothing more).
    if ((this.controller.desiredSize ?? 1) <= 0) await Promise.race([new Promise<void>((resolve) => { this.taken = resolve; }), this.written]);
  }

  /** Writes the footer; rejects if the writer failed. */
  async end(): Promise<void> {
    this.controller.close();
    await this.written;
  }
}

/**
 * A parquet-wasm writer's properties (Node's or the browser's build) with dictionary encoding
 * turned off for every column of `schema` but the string ones.
 */
export function stringDictionariesOnly<B extends { setColumnDictionaryEnabled(name: string, enabled: boolean): B }>(builder: B, schema: Schema): B {
  for (const f of schema.fields) {
    if (!DataType.isUtf8(f.type) && !DataType.isDictionary(f.type)) builder = builder.setColumnDictionaryEnabled(f.name, false);
  }
  return builder;
}

/** A batch of no rows: what a binary table that received none is written with, for its schema. */
export function emptyBatch(schema: Schema): RecordBatch {
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 0, nullCount: 0, children: schema.fields.map((f) => makeData({ type: f.type, length: 0 } as never)) }));
}
