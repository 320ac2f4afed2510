// The demo page (demo/) in headless Chromium: built with Vite, served by a tiny static server,
// given a capture on its file input; its connection and conn_state counts must equal the Node
// library's for the same file, a click on a timeline bar must list that connection's events and
// draw its stream graphs (their retransmission marks the packets table's), and the downloads must
// hold every row. The library's bounds apply in the worker: maxFlows and memoryLimit from the
// URL, exceeding wasm's memory limit an error on the page rather than a crash. Saves the timeline
// to docs/demo-timeline.png and the stream graphs to docs/demo-stream-graphs.png. A bare page
// beside it (demo/check.html) runs the library with 2 Web Workers: the same table as Node's, byte
// for byte.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tableFromIPC, tableToIPC, type Table } from "apache-arrow";
import * as parquet from "parquet-wasm/node";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_DIST, HAS_CHROMIUM, buildDemo, launchChromium, serveStatic, type StaticServer } from "../../demo/harness.mjs";
import { analyze } from "../../src/node.js";
import { PHASE_COLORS } from "../../demo/timeline.js";
import { Conversation } from "../../src/synth/conversation.js";
import { NS_PER_SECOND, pcapOf } from "../support/fixtures.js";
import { CAPTURES, HAS_CAPTURES, SKIP_NOTE } from "../support/shared.js";

/** How long a wait for the page may take: a guard against a page that never gets there, not a speed limit. */
const PAGE_WAIT_MS = 600_000;
const SKIP = SKIP_NOTE || (HAS_CHROMIUM ? "" : " (skipped: /usr/bin/chromium is not installed; .ci/run installs it)");
const KERNEL_CAPTURE = join(CAPTURES, "kernel/many.pcap");
/** Four conn_states (SF, S0, S1, S2) in one small capture. */
const MIXED_CAPTURE = join(CAPTURES, "other/arkime/tcp-reassembly-synthetic.pcap");
/** One connection with 31 retransmissions (netem loss). */
const LOSS_CAPTURE = join(CAPTURES, "kernel/loss.pcap");
const README = fileURLToPath(new URL("../../README.md", import.meta.url));
const SCREENSHOT = fileURLToPath(new URL("../../docs/demo-timeline.png", import.meta.url));
const GRAPHS_SCREENSHOT = fileURLToPath(new URL("../../docs/demo-stream-graphs.png", import.meta.url));

/** conn_state → rows, as the Node library reports them. */
async function nodeStateCounts(file: string): Promise<{ rows: number; states: Record<string, number> }> {
  const { table } = await analyze(file);
  const states: Record<string, number> = {};
  for (const state of table.getChild("conn_state")!) states[state as string] = (states[state as string] ?? 0) + 1;
  return { rows: table.numRows, states };
}

/** A count as the page shows it, with thousands separators ("1,234"). */
function countOf(text: string | null): number {
  expect(text).toMatch(/^\d{1,3}(,\d{3})*$/);
  return Number(text!.replaceAll(",", ""));
}

/** What the page shows: its connection count and every state-count-<STATE>. */
async function pageStateCounts(page: Page): Promise<{ rows: number; states: Record<string, number> }> {
  const rows = countOf(await page.getByTestId("conn-count").textContent());
  const texts = await page.$$eval("[data-testid^=state-count-]", (els) => els.map((el) => [el.getAttribute("data-testid")!.slice("state-count-".length), el.textContent] as const));
  return { rows, states: Object.fromEntries(texts.map(([state, text]) => [state, countOf(text)])) };
}

/**
 * How many lanes of the timeline's canvas hold a bar: runs of pixel rows with a phase colour in
 * them, told apart by the gap between lanes.
 */
async function lanesWithBars(page: Page): Promise<number> {
  return page.$eval(".timeline-scroll canvas", (canvas: HTMLCanvasElement, colors: string[]) => {
    const rgb = colors.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
    const { width, height } = canvas;
    const pixels = canvas.getContext("2d")!.getImageData(0, 0, width, height).data;
    let lanes = 0, inLane = false;
    for (let y = 0; y < height; y++) {
      let coloured = false;
      for (let x = 0; x < width && !coloured; x++) {
        const at = (y * width + x) * 4;
        coloured = rgb.some(([r, g, b]) => pixels[at] === r && pixels[at + 1] === g && pixels[at + 2] === b);
      }
      if (coloured && !inLane) lanes++;
      inLane = coloured;
    }
    return lanes;
  }, Object.values(PHASE_COLORS));
}

describe.skipIf(!HAS_CAPTURES || !HAS_CHROMIUM)(`demo page in Chromium${SKIP}`, () => {
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  async function open(file: string, query = ""): Promise<void> {
    await page.goto(server.url + query);
    await page.getByTestId("file-input").setInputFiles(file);
    await page.waitForSelector("[data-testid=done]", { state: "attached", timeout: PAGE_WAIT_MS });
  }

  /** Rows of the page's table, downloaded as Arrow IPC. */
  async function downloadTable(): Promise<Table> {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("[data-download=arrow]")]);
    return tableFromIPC(readFileSync((await download.path())!));
  }

  beforeAll(async () => {
    buildDemo();
    server = await serveStatic(DEMO_DIST);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("crash", () => pageErrors.push("the page crashed"));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("shows no progress bar on the idle page", async () => {
    await page.goto(server.url);
    expect(await page.locator(".progress").count()).toBe(1);
    expect(await page.locator(".progress").isVisible()).toBe(false);
  });

  it("counts the kernel capture's connections and conn_states as the Node library does, and names the file", async () => {
    await open(KERNEL_CAPTURE);
    expect(await page.getByTestId("file-name").textContent()).toMatch(/^many\.pcap \([\d.]+ [kM]B\)$/);
    expect(await pageStateCounts(page)).toEqual(await nodeStateCounts(KERNEL_CAPTURE));
    await page.mouse.move(0, 0);
    await page.getByTestId("timeline").screenshot({ path: SCREENSHOT });
    expect(pageErrors).toEqual([]);
  });

  it("lists a connection's events when its timeline bar is clicked", async () => {
    const canvas = (await page.locator(".timeline-scroll canvas").boundingBox())!;
    // Just below the 22 px time axis: the first lane.
    await page.mouse.click(canvas.x + canvas.width / 2, canvas.y + 24);
    await expect.poll(() => page.getByTestId("events").locator("tr").count()).toBeGreaterThan(0);
    const connId = BigInt(/connection (\d+):/.exec((await page.locator("#events-title").textContent())!)![1]!);
    const { events } = await analyze(KERNEL_CAPTURE, { events: true });
    const want = [...events!].filter((e) => e.conn_id === connId).map((e) => e.event as string);
    expect(await page.getByTestId("events").locator("tr td:nth-child(4)").allTextContents()).toEqual(want);
  });

  it("draws a clicked connection's stream graphs, with the packets table's retransmissions marked", async () => {
    pageErrors.length = 0;
    await open(LOSS_CAPTURE);
    const canvas = (await page.locator(".timeline-scroll canvas").boundingBox())!;
    await page.mouse.click(canvas.x + canvas.width / 2, canvas.y + 24);
    await page.waitForSelector("#streams[data-ready]", { state: "attached", timeout: PAGE_WAIT_MS });
    const graphs = page.locator("#stream-graphs");
    const direction = await graphs.getAttribute("data-direction");
    const marks = (await graphs.getAttribute("data-retransmit-packets"))!.split(",").filter(Boolean).map(Number);
    const connId = BigInt(/connection (\d+):/.exec((await page.locator("#events-title").textContent())!)![1]!);
    const { packets } = await analyze(LOSS_CAPTURE, { packets: true });
    const want = [...packets!].filter((p) => p.conn_id === connId && p.direction === direction && p.retransmission).map((p) => Number(p.packet));
    expect(want.length).toBeGreaterThan(10);
    expect(marks).toEqual(want);
    // SACK blocks: drawn at the other side's ACKs that carry them.
    const sacks = (await graphs.getAttribute("data-sack-packets"))!.split(",").filter(Boolean).map(Number);
    const withSack = [...packets!].filter((p) => p.conn_id === connId && p.direction !== direction && p.sack !== null).map((p) => Number(p.packet));
    expect(withSack.length).toBeGreaterThan(100);
    expect(sacks).toEqual(withSack);
    // The page read the file again with a capture filter for the connection.
    expect(await page.locator("#events-status").textContent()).toMatch(/^read again with the capture filter \(host /);
    await page.mouse.move(0, 0);
    await page.locator("#streams").screenshot({ path: GRAPHS_SCREENSHOT });
    expect(pageErrors).toEqual([]);
  });

  it("downloads every row as Arrow IPC, Parquet and CSV", async () => {
    const rows = countOf(await page.getByTestId("conn-count").textContent());
    const fetchDownload = async (format: string) => {
      const [download] = await Promise.all([page.waitForEvent("download"), page.click(`[data-download=${format}]`)]);
      return readFileSync((await download.path())!);
    };
    expect(tableFromIPC(await fetchDownload("arrow")).numRows).toBe(rows);
    const fromParquet = tableFromIPC(parquet.readParquet(new Uint8Array(await fetchDownload("parquet"))).intoIPCStream());
    expect(fromParquet.numRows).toBe(rows);
    expect(fromParquet.getChild("conn_state")!.get(0)).toBe("SF");
    const csv = (await fetchDownload("csv")).toString("utf8").trimEnd().split("\n");
    expect(csv).toHaveLength(rows + 1);
    expect(csv[0]!.split(",")[0]).toBe("conn_id");
  });

  it("shows every connection of a capture spanning more than a year, on a calendar axis", async () => {
    // Three short connections on one day, and one 400 days later.
    const day = 86_400n * NS_PER_SECOND;
    const start = 1_700_000_000n * NS_PER_SECOND;
    const packets = [0n, 60n * NS_PER_SECOND, 120n * NS_PER_SECOND, 400n * day].flatMap((at, i) =>
      new Conversation({ client: "10.0.0.1", server: "10.0.0.2", clientPort: 40000 + i, serverPort: 80, startNs: start + at })
        .handshake().data("client", 100).ack("server").close("client").packets());
    const dir = mkdtempSync(join(tmpdir(), "synfin-demo-"));
    const file = join(dir, "years.pcap");
    writeFileSync(file, pcapOf(packets));
    try {
      await open(file);
      expect(countOf(await page.getByTestId("conn-count").textContent())).toBe(4);
      // The whole capture: every connection is drawn, however short against 400 days.
      await page.click("[data-zoom=fit]");
      await expect.poll(() => page.locator(".timeline-window").textContent()).toMatch(/^2023-11-\d\d \d\d:\d\d – 2024-12-\d\d \d\d:\d\d UTC \(span 41\d\.\d days\)$/);
      await expect.poll(() => lanesWithBars(page)).toBe(4);
      expect(pageErrors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("shows the library's error, naming the file, for a file that is not a capture", async () => {
    await page.goto(server.url);
    await page.getByTestId("file-input").setInputFiles(README);
    await expect.poll(() => page.getByTestId("error-message").textContent()).toMatch(/^README\.md: not a pcap or pcapng capture .* at byte offset 0$/);
    expect(await page.getByTestId("error-code").textContent()).toBe("NOT_A_CAPTURE");
    expect(await page.getByTestId("done").count()).toBe(0);
  });

  it("counts a capture with several conn_states as the Node library does", async () => {
    await open(MIXED_CAPTURE);
    const want = await nodeStateCounts(MIXED_CAPTURE);
    expect(Object.keys(want.states).length).toBeGreaterThan(2);
    expect(await pageStateCounts(page)).toEqual(want);
    expect(pageErrors).toEqual([]);
  });

  // The two ways past the limit: a flow table that cannot fit (checked before the first packet),
  // and wasm memory.grow failing in mid-run (the 8 MiB input buffer in a 4 MiB memory).
  it.each([
    ["a maxFlows that does not fit", "?maxFlows=100000&memoryLimit=16M", /^maxFlows 100000 needs .* more than the memory limit of 16 MiB allows; lower maxFlows or raise memoryLimit$/],
    ["growth past the limit", "?maxFlows=10&memoryLimit=4M", /^the wasm core needs more than its memory limit of 4 MiB .*; lower maxFlows or raise memoryLimit$/],
  ])("shows OUT_OF_MEMORY for %s, and stays usable", async (_, query, message) => {
    pageErrors.length = 0;
    await page.goto(server.url + query);
    expect(await page.getByTestId("limits").textContent()).toMatch(/^maxFlows [\d,]+ · memoryLimit \d+ MiB$/);
    await page.getByTestId("file-input").setInputFiles(KERNEL_CAPTURE);
    await expect.poll(() => page.getByTestId("error-code").textContent(), { timeout: PAGE_WAIT_MS }).toBe("OUT_OF_MEMORY");
    expect(await page.getByTestId("error-message").textContent()).toMatch(message);
    expect(await page.getByTestId("error").textContent()).toMatch(/^OUT_OF_MEMORY .*lower maxFlows or raise memoryLimit$/);
    expect(await page.getByTestId("done").count()).toBe(0);
    // The tab is alive: the page answers, and the same file can be picked again (the same error).
    expect(await page.evaluate(() => 6 * 7)).toBe(42);
    await page.evaluate(() => document.querySelector("[data-testid=error]")!.replaceChildren());
    await page.getByTestId("file-input").setInputFiles(KERNEL_CAPTURE);
    await expect.poll(() => page.getByTestId("error-code").textContent(), { timeout: PAGE_WAIT_MS }).toBe("OUT_OF_MEMORY");
    expect(pageErrors).toEqual([]);
    // Without the limit, the same file gives the Node library's counts.
    await open(KERNEL_CAPTURE);
    expect(await page.getByTestId("limits").isHidden()).toBe(true);
    expect(await pageStateCounts(page)).toEqual(await nodeStateCounts(KERNEL_CAPTURE));
    expect(pageErrors).toEqual([]);
  });

  it("ends the least recently active connections as evicted past maxFlows, as the Node library does", async () => {
    const { table, stats } = await analyze(KERNEL_CAPTURE, { maxFlows: 10 });
    expect(stats.evicted).toBeGreaterThan(0);
    await open(KERNEL_CAPTURE, "?maxFlows=10");
    expect(await page.getByTestId("limits").textContent()).toBe("maxFlows 10");
    expect(countOf(await page.getByTestId("conn-count").textContent())).toBe(table.numRows);
    const pageStats = JSON.parse((await page.getByTestId("stats").textContent())!) as { evicted: number; peakFlows: number };
    expect(pageStats.evicted).toBe(stats.evicted);
    expect(pageStats.peakFlows).toBeLessThanOrEqual(10);
    const rows = await downloadTable();
    expect(rows.numRows).toBe(table.numRows);
    expect([...rows.getChild("end_reason")!].filter((reason) => reason === "evicted")).toHaveLength(stats.evicted);
    expect(pageErrors).toEqual([]);
  });

  it("analyses a capture on 2 lanes, in both designs, and gets the Node library's table, byte for byte", async () => {
    const checkPage = await browser.newPage();
    checkPage.on("pageerror", (e) => pageErrors.push(e.message));
    // A File takes replicated decode: the page is the first lane, one Web Worker the second, and
    // it reads the File itself. Map/shuffle/reduce (forced) starts a Web Worker per lane.
    const designs = [{ options: { workers: 2, chunkSize: 65536 }, workers: 1 }, { options: { workers: 2, chunkSize: 65536, testHooks: { design: "shuffle" } }, workers: 2 }];
    try {
      await checkPage.goto(`${server.url}check.html`);
      for (const file of [KERNEL_CAPTURE, MIXED_CAPTURE]) {
        await checkPage.getByTestId("file-input").setInputFiles(file);
        const node = await analyze(file, { workers: 0 });
        for (const design of designs) {
          const got = await checkPage.evaluate((o) => (globalThis as unknown as { synfinCheck(o: object): Promise<{ ipc: string; stats: Record<string, number>; workersStarted: number }> })
            .synfinCheck(o), design.options);
          expect(got.workersStarted, JSON.stringify(design.options)).toBe(design.workers);
          expect(Buffer.compare(Buffer.from(got.ipc, "base64"), Buffer.from(tableToIPC(node.table, "file")))).toBe(0);
          expect({ ...got.stats, peakFlows: 0 }).toEqual({ ...node.stats, peakFlows: 0 });
        }
      }
      expect(pageErrors).toEqual([]);
    } finally {
      await checkPage.close();
    }
  });
});

