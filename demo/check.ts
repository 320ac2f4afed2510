// The library on a bare page, for tests that drive it from Playwright: `synfinCheck(options)`
// analyses the file picked in the page's input and returns the table as Arrow IPC (base64), the
// accounting, and how many Web Workers the page started meanwhile.

import { tableToIPC } from "apache-arrow";
import { analyze, type AnalyzeOptions, type Stats } from "../src/browser.js";

let started = 0;
const PageWorker = globalThis.Worker;
/** Counts the workers the library starts (its reducers are Web Workers). */
globalThis.Worker = class extends PageWorker {
  constructor(url: string | URL, options?: WorkerOptions) {
    super(url, options);
    started++;
  }
};

interface CheckResult {
  ipc: string;
  stats: Stats;
  workersStarted: number;
  error?: string;
}

async function synfinCheck(options: AnalyzeOptions): Promise<CheckResult> {
  const input = document.querySelector<HTMLInputElement>("[data-testid=file-input]")!;
  const file = input.files![0]!;
  const before = started;
  const { table, stats } = await analyze(file, options);
  const bytes = tableToIPC(table, "file");
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { ipc: btoa(binary), stats, workersStarted: started - before };
}

Object.assign(globalThis, { synfinCheck });
