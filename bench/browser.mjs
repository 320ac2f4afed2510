// The demo page's throughput and memory in headless Chromium: opens the built page (demo/dist),
// sets FILE on its file input, waits for the analysis to finish and prints JSON: wall seconds,
// packets/s (records from the page's stats), and the renderer process's peak memory (from /proc,
// the page and its worker share that process) with the page's peak main-thread JS heap (CDP).
//
//   node bench/browser.mjs FILE [--build]    (builds demo/dist first when it is missing or stale)

import { readFileSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEMO_DIST, buildDemo, demoIsStale, launchChromium, serveStatic } from "../demo/harness.mjs";

const USAGE = "usage: node bench/browser.mjs FILE [--build]\n  --build  build the demo page (demo/dist) first; without it, only when it is missing or older than\n           the core build, demo/ or src/";
let values, positionals;
try {
  ({ values, positionals } = parseArgs({ options: { build: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } }, allowPositionals: true }));
} catch (e) {
  console.error(`browser: ${e.message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) { console.log(USAGE); process.exit(0); }
const file = positionals[0];
if (!file) { console.error(USAGE); process.exit(2); }
if (values.build || demoIsStale()) {
  if (!values.build) console.error("browser: building the demo page (demo/dist is missing or older than what it is built from)");
  buildDemo();
}

const MIB = 2 ** 20;

/** A field of /proc/PID/status in bytes (VmRSS, VmHWM), or 0 once the process is gone. */
function procStatus(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
}

const server = await serveStatic(DEMO_DIST);
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => process.stderr.write(`page error: ${e.stack ?? e.message}\n`));
  await page.goto(server.url);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const browserCdp = await browser.newBrowserCDPSession();
  const { processInfo } = await browserCdp.send("SystemInfo.getProcessInfo");
  const renderers = processInfo.filter((p) => p.type === "renderer").map((p) => p.id);

  const peak = { rendererRss: 0, mainJsHeapUsed: 0, mainJsHeapTotal: 0 };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const pid of renderers) peak.rendererRss = Math.max(peak.rendererRss, procStatus(pid, "VmRSS"));
      try {
        const { metrics } = await cdp.send("Performance.getMetrics");
        const metric = (name) => metrics.find((m) => m.name === name)?.value ?? 0;
        peak.mainJsHeapUsed = Math.max(peak.mainJsHeapUsed, metric("JSHeapUsedSize"));
        peak.mainJsHeapTotal = Math.max(peak.mainJsHeapTotal, metric("JSHeapTotalSize"));
      } catch { /* the page is busy or gone; the next sample will do */ }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  const started = performance.now();
  await page.getByTestId("file-input").setInputFiles(file);
  await Promise.race([
    page.waitForSelector("[data-testid=done]", { state: "attached", timeout: 0 }),
    page.waitForSelector("[data-testid=error]:not([hidden])", { timeout: 0 }).then(async (e) => { throw new Error(`page: ${await e.textContent()}`); }),
  ]);
  const wallSeconds = (performance.now() - started) / 1000;
  sampling = false;
  await sampler;
  const stats = JSON.parse(await page.getByTestId("stats").textContent());
  const rendererHwm = Math.max(...renderers.map((pid) => procStatus(pid, "VmHWM")));
  const report = {
    date: new Date().toISOString(),
    file,
    bytes: statSync(file).size,
    chromium: browser.version(),
    records: stats.records,
    connections: stats.connections,
    wallSeconds,
    packetsPerSecond: stats.records / wallSeconds,
    workerSeconds: stats.seconds,
    workerPacketsPerSecond: stats.packetsPerSecond,
    tableIpcMiB: stats.tableIpcBytes / MIB,
    rendererPeakRssMiB: Math.max(peak.rendererRss, rendererHwm) / MIB,
    mainThreadPeakJsHeapUsedMiB: peak.mainJsHeapUsed / MIB,
    mainThreadPeakJsHeapTotalMiB: peak.mainJsHeapTotal / MIB,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await browser.close();
  await server.close();
}
