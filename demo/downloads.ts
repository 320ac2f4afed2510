// Downloads of the connection table: Arrow IPC file (as the CLI writes it), Parquet (parquet-wasm,
// loaded on first use) and CSV (the CLI's CSV, from synfin's own formatter).

import { tableToIPC, type Table } from "apache-arrow";
import { csvHeader, textLines } from "../src/output/format.js";
import { stringDictionariesOnly } from "../src/output/parquet.js";
import parquetWasmUrl from "parquet-wasm/esm/parquet_wasm_bg.wasm?url";

export type DownloadFormat = "arrow" | "parquet" | "csv";

async function parquetBytes(table: Table): Promise<Uint8Array> {
  const parquet = await import("parquet-wasm/esm");
  await parquet.default({ module_or_path: parquetWasmUrl });
  const wasmTable = parquet.Table.fromIPCStream(tableToIPC(table, "stream"));
  // Dictionary encoding for the string columns only, as the CLI writes Parquet.
  const properties = stringDictionariesOnly(new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.SNAPPY), table.schema).build();
  return parquet.writeParquet(wasmTable, properties);
}

function csvParts(table: Table): BlobPart[] {
  const parts: BlobPart[] = [`${csvHeader()}\n`];
  for (const batch of table.batches) parts.push(textLines(batch, "csv") as BlobPart);
  return parts;
}

export async function download(table: Table, format: DownloadFormat, baseName: string): Promise<void> {
  let blob: Blob;
  if (format === "arrow") blob = new Blob([tableToIPC(table, "file") as BlobPart], { type: "application/vnd.apache.arrow.file" });
  else if (format === "parquet") blob = new Blob([(await parquetBytes(table)) as BlobPart], { type: "application/vnd.apache.parquet" });
  else blob = new Blob(csvParts(table), { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${baseName}.connections.${format}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}
