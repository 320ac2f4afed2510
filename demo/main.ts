// The demo page: picks or takes a dropped capture, runs it in the analysis worker, reads the
// connection table back as an Arrow IPC stream, and shows it as charts, a timeline and a table.

import { RecordBatchReader, Table, type RecordBatch } from "apache-arrow";
import { proxy, wrap } from "comlink";
import { SCHEMA } from "../src/output/schema.js";
import { drawHistogram, HISTOGRAMS, renderStateCounts } from "./charts.js";
import { download, type DownloadFormat } from "./downloads.js";
import { readConnections, selectRows, stateCounts, type Connections, type Filter, type Sort } from "./model.js";
import { describeLimits, limitsFromQuery, type Limits } from "./options.js";
import type { AnalysisApi, BatchSink, EventRow, ReadProgress, RunFailure, RunResult, RunSummary } from "./protocol.js";
import { StreamGraphs } from "./streams.js";
import { ConnectionTable, type ColumnSpec } from "./table-view.js";
import { MARK_COLORS, PHASE_COLORS, PHASE_LABELS, Timeline } from "./timeline.js";
import { formatBytes, formatCount, formatMs, formatRate } from "./units.js";

const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const analysis = wrap<AnalysisApi>(worker);

/** Arrow IPC bytes from the worker, as an async iterable for Arrow's stream reader. */
class ByteQueue implements AsyncIterable<Uint8Array> {
  private readonly items: Uint8Array[] = [];
  private waiting: ((result: IteratorResult<Uint8Array>) => void) | null = null;
  private ended = false;

  push(bytes: Uint8Array): void {
    if (this.waiting) { this.waiting({ value: bytes, done: false }); this.waiting = null; } else this.items.push(bytes);
  }

  end(): void {
    this.ended = true;
    if (this.waiting) { this.waiting({ value: undefined, done: true }); this.waiting = null; }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        const bytes = this.items.shift();
        if (bytes) return Promise.resolve({ value: bytes, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => { this.waiting = resolve; });
      },
    };
  }
}

/** The progress bar: bytes read, and packets/s from the rows of connections finished so far. */
class ProgressView {
  private readonly started = performance.now();
  private bytesRead = 0;
  packets = 0;

  constructor(private readonly total: number) {
    $(".progress").hidden = false;
  }

  update(progress: ReadProgress): void {
    this.bytesRead = progress.bytesRead;
    this.render();
  }

  render(): void {
    const seconds = (performance.now() - this.started) / 1000;
    $<HTMLProgressElement>(".progress progress").value = this.total ? this.bytesRead / this.total : 0;
    $(".progress-text").textContent =
      `${formatBytes(this.bytesRead)} of ${formatBytes(this.total)} · ${formatBytes(this.bytesRead / seconds)}/s · ` +
      `≥ ${formatRate(this.packets / seconds)} packets/s (in connections finished so far) · ${seconds.toFixed(1)} s`;
  }

  finish(summary: RunSummary): void {
    this.bytesRead = summary.stats.bytes;
    $<HTMLProgressElement>(".progress progress").value = 1;
    $(".progress-text").textContent =
      `${formatBytes(summary.stats.bytes)} · ${formatCount(summary.stats.records)} packets in ${summary.seconds.toFixed(2)} s · ` +
      `${formatRate(summary.stats.records / summary.seconds)} packets/s · ${formatBytes(summary.stats.bytes / summary.seconds)}/s`;
  }
}

/** Decodes the IPC stream as it arrives; counts packets of each batch for the progress bar. */
async function readBatches(queue: ByteQueue, progress: ProgressView): Promise<RecordBatch[]> {
  const batches: RecordBatch[] = [];
  const reader = await RecordBatchReader.from(queue);
  for await (const batch of reader) {
    batches.push(batch);
    for (const name of ["orig_pkts", "resp_pkts"]) {
      const data = batch.getChild(name)!.data[0]!;
      for (const n of (data.values as BigUint64Array).subarray(0, data.length)) progress.packets += Number(n);
    }
    progress.render();
  }
  return batches;
}

// ---- the state of the page ----

/** maxFlows and memoryLimit from the URL, or why they cannot be read (shown at each pick). */
const limits: Limits | RangeError = (() => {
  try { return limitsFromQuery(location.search); } catch (error) { return error as RangeError; }
})();
let current: { conns: Connections; name: string } | null = null;
const filter: Filter = { state: "", address: "", port: null };
let sort: { column: ColumnSpec; descending: boolean } | null = null;
let shown: Uint32Array = new Uint32Array(0);
/** The row whose events are shown (or being read). */
let selectedRow = -1;

const table = new ConnectionTable($("#table"), sortBy, select);
const timeline = new Timeline($(".timeline"), select);
const graphs = new StreamGraphs($("#stream-graphs"), $("#streams-caption"), $<HTMLButtonElement>("#streams-swap"));

async function run(file: File): Promise<void> {
  if (limits instanceof Error) { fail(limits); return; }
  current = null;
  selectedRow = -1;
  document.querySelector("[data-testid=done]")?.remove();
  $("#results").hidden = true;
  $("[data-testid=conn-count]").textContent = "";
  $("#state-counts").replaceChildren();
  $("[data-testid=error]").hidden = true;
  $("[data-testid=file-name]").textContent = `${file.name} (${formatBytes(file.size)})`;
  $("[data-testid=file-name]").hidden = false;
  const progress = new ProgressView(file.size);
  const queue = new ByteQueue();
  const reading = readBatches(queue, progress);
  let ipcBytes = 0;
  const sink: BatchSink = {
    progress: (p) => progress.update(p),
    ipc: async (bytes) => { ipcBytes += bytes.byteLength; queue.push(bytes); },
  };
  let result: RunResult | null = null;
  let thrown: unknown = null;
  try { result = await analysis.analyze(file, limits, proxy(sink)); } catch (error) { thrown = error; }
  queue.end();
  if (result?.kind !== "done") {
    await reading.catch(() => undefined);
    $(".progress").hidden = true;
    fail(result ?? thrown);
    return;
  }
  const { summary } = result;
  const batches = await reading;
  progress.finish(summary);
  const conns = readConnections(batches.length ? new Table(batches) : new Table(SCHEMA));
  current = { conns, name: file.name.replace(/\.(pcapng|pcap|cap)$/i, "") || "capture" };
  showSummary(conns, summary, ipcBytes);
  $("#results").hidden = false;
  applyView();
  const done = document.createElement("span");
  done.dataset.testid = "done";
  done.hidden = true;
  document.body.append(done);
}

/** Shows an error under the file input: a SynfinError's code, then its message. */
function fail(error: unknown): void {
  const { code, message } = describeError(error);
  const text = document.createElement("span");
  text.dataset.testid = "error-message";
  text.textContent = message;
  const parts: (Node | string)[] = [text];
  if (code) {
    const codeText = document.createElement("code");
    codeText.dataset.testid = "error-code";
    codeText.textContent = code;
    parts.unshift(codeText, " ");
  }
  $("[data-testid=error]").replaceChildren(...parts);
  $("[data-testid=error]").hidden = false;
}

/** A RunFailure from the worker, or an Error thrown on the page or across comlink. */
function describeError(error: unknown): { code: string | null; message: string } {
  const failure = error as Partial<RunFailure> | null;
  if (failure?.kind === "failed") return { code: failure.code ?? null, message: prefixed(failure.name!, failure.message!) };
  if (error instanceof Error) return { code: null, message: prefixed(error.name, error.message) };
  return { code: null, message: String(error) };
}

/** A SynfinError's message says what it is; any other error is named. */
function prefixed(name: string, message: string): string {
  return name === "SynfinError" ? message : `${name}: ${message}`;
}

function showSummary(conns: Connections, summary: RunSummary, ipcBytes: number): void {
  const { stats, seconds } = summary;
  $("[data-testid=conn-count]").textContent = formatCount(conns.rows);
  $("#packet-count").textContent = formatCount(stats.records);
  $("#rate").textContent = formatRate(stats.records / seconds);
  let end = 0;
  for (let row = 0; row < conns.rows; row++) end = Math.max(end, conns.lastMs[row]!);
  $("#capture-span").textContent = formatMs(end) || "0 s";
  $("[data-testid=stats]").textContent = JSON.stringify(
    { ...stats, seconds, packetsPerSecond: stats.records / seconds, tableIpcBytes: ipcBytes }, null, 2);
  const counts = stateCounts(conns);
  renderStateCounts($("#state-counts"), counts, (state) => { $<HTMLSelectElement>("#filter-state").value = state; readFilters(); });
  $<HTMLSelectElement>("#filter-state").replaceChildren(new Option("all", ""), ...counts.map(([state, n]) => new Option(`${state} (${formatCount(n)})`, state)));
  filter.state = "";
  $("#events").hidden = true;
}

/** Recomputes the shown rows from the filter and sort, and redraws every view of them. */
function applyView(): void {
  if (!current) return;
  const { conns } = current;
  const order: Sort | null = sort ? { key: (row) => sort!.column.key(conns, row), descending: sort.descending } : null;
  shown = selectRows(conns, filter, order);
  $("#shown-count").textContent = `${formatCount(shown.length)} of ${formatCount(conns.rows)} connections`;
  table.show(conns, shown);
  table.sortedBy(sort?.column ?? null, sort?.descending ?? false);
  timeline.show(conns, shown);
  drawCharts();
}

function drawCharts(): void {
  if (!current) return;
  for (const canvas of document.querySelectorAll<HTMLCanvasElement>("canvas[data-chart]")) {
    drawHistogram(canvas, current.conns, shown, HISTOGRAMS[canvas.dataset.chart!]!);
  }
}

function sortBy(column: ColumnSpec): void {
  sort = sort?.column === column ? { column, descending: !sort.descending } : { column, descending: column.numeric === true };
  applyView();
}

async function select(row: number): Promise<void> {
  if (!current) return;
  const { conns } = current;
  selectedRow = row;
  table.select(row);
  table.reveal(row);
  timeline.select(row);
  const connId = conns.connId[row]!;
  $("#events-title").textContent =
    `Events of connection ${connId}: ${conns.origH[row]}:${conns.origP[row]} → ${conns.respH[row]}:${conns.respP[row]} (${conns.connState[row]}, ${conns.history[row] || "no history"})`;
  $("[data-testid=events]").replaceChildren();
  $("#events-status").textContent = "reading this connection's events and packets again from the file…";
  $("#events").hidden = false;
  $("#streams").hidden = true;
  $("#streams").removeAttribute("data-ready");
  graphs.clear();
  const tunnel = conns.table.getChild("tunnel")!.get(row) as string | null;
  const detail = await analysis.detailOf({
    connId, firstPacket: Number(conns.table.getChild("first_packet")!.get(row)),
    origH: conns.origH[row]!, origP: conns.origP[row]!, respH: conns.respH[row]!, respP: conns.respP[row]!, tunnelled: tunnel !== null,
  });
  if (current?.conns !== conns || selectedRow !== row) return;
  $("#events-status").textContent = detail.filter ? `read again with the capture filter ${detail.filter.split(" or ")[0]} (also on VLAN tags)` : "read again without a filter (a tunnelled connection)";
  conns.synRetransmitsMs.set(row, [...detail.synRetransmitsNs].map((ns) => Number(ns - conns.originNs) / 1e6));
  timeline.select(row);
  renderEvents(conns, detail.events);
  $("#streams").hidden = false;
  const first = conns.originNs + BigInt(Math.round(conns.tsMs[row]! * 1e6));
  graphs.show(detail, detail.tsNs.length > 0 ? detail.tsNs[0]! : first);
  $("#streams").dataset.ready = "";
}

function renderEvents(conns: Connections, events: EventRow[]): void {
  $("[data-testid=events]").replaceChildren(...events.map((e) => {
    const tr = document.createElement("tr");
    const at = e.tsNs === null ? "" : `+${formatMs(Number(e.tsNs - conns.originNs) / 1e6) || "0"}`;
    for (const text of [at, e.packet === null ? "" : String(e.packet), e.direction ?? "", e.event, e.origState, e.respState]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
}

let filterTimer = 0;
function readFilters(): void {
  clearTimeout(filterTimer);
  filterTimer = window.setTimeout(() => {
    filter.state = $<HTMLSelectElement>("#filter-state").value;
    filter.address = $<HTMLInputElement>("#filter-address").value;
    const port = $<HTMLInputElement>("#filter-port").value.trim();
    filter.port = port === "" ? null : Number(port);
    applyView();
  }, 120);
}

function renderLegend(): void {
  const items: [string, string][] = [
    ...Object.entries(PHASE_LABELS).map(([phase, label]) => [PHASE_COLORS[phase as keyof typeof PHASE_COLORS], label] as [string, string]),
    [MARK_COLORS.synRetransmit, "▼ SYN retransmission (of a connection once clicked: its events are read then)"],
    [MARK_COLORS.rst, "| RST"],
    [MARK_COLORS.zeroWindow, "◆ zero window advertised (after the bar: the table has counts, not times)"],
  ];
  $("#legend").replaceChildren(...items.map(([color, label]) => {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = color;
    item.append(swatch, label);
    return item;
  }));
}

// ---- wiring ----

$<HTMLInputElement>("[data-testid=file-input]").addEventListener("change", (e) => {
  const input = e.target as HTMLInputElement;
  const file = input.files?.[0];
  // Cleared so that picking the same file again (after an error, or with other limits) runs again.
  input.value = "";
  if (file) void run(file);
});
window.addEventListener("dragover", (e) => { e.preventDefault(); $("#drop").classList.add("dragging"); });
window.addEventListener("dragleave", () => $("#drop").classList.remove("dragging"));
window.addEventListener("drop", (e) => {
  e.preventDefault();
  $("#drop").classList.remove("dragging");
  const file = e.dataTransfer?.files[0];
  if (file) void run(file);
});
for (const id of ["#filter-state", "#filter-address", "#filter-port"]) $(id).addEventListener("input", readFilters);
for (const button of document.querySelectorAll<HTMLButtonElement>("[data-download]")) {
  button.addEventListener("click", async () => {
    if (!current) return;
    button.disabled = true;
    try { await download(current.conns.table, button.dataset.download as DownloadFormat, current.name); } catch (error) { fail(error); } finally { button.disabled = false; }
  });
}
let resizeTimer = 0;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = window.setTimeout(() => { drawCharts(); graphs.draw(); }, 100); });
renderLegend();
if (limits instanceof Error) fail(limits);
else {
  $("[data-testid=limits]").textContent = describeLimits(limits);
  $("[data-testid=limits]").hidden = !$("[data-testid=limits]").textContent;
}
