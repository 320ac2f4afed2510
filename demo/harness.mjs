// Driving the built demo page from Node (its test and bench/browser.mjs): build it, serve it with a
// tiny static server on an ephemeral 127.0.0.1 port (wasm as application/wasm), open it in
// headless Chromium.

import { spawnSync } from "node:child_process";
import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const DEMO_DIST = fileURLToPath(new URL("./dist/", import.meta.url));
export const CHROMIUM = "/usr/bin/chromium";
export const HAS_CHROMIUM = existsSync(CHROMIUM);
export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/** Builds the page into demo/dist with Vite (the wasm core in build/ must exist). */
export function buildDemo() {
  const vite = fileURLToPath(new URL("../node_modules/vite/bin/vite.js", import.meta.url));
  const config = fileURLToPath(new URL("./vite.config.ts", import.meta.url));
  const run = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn", "-c", config], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`vite build failed:\n${run.stdout}${run.stderr}`);
}

/** What the built page is made of: the core build and the page's and the library's sources. */
const PAGE_SOURCES = ["../build/", "./", "../src/"].map((p) => fileURLToPath(new URL(p, import.meta.url)));

/** Whether demo/dist is missing or older than a file it is built from (so a benchmark never measures a stale page). */
export function demoIsStale() {
  const built = join(DEMO_DIST, "index.html");
  if (!existsSync(built)) return true;
  const builtMs = statSync(built).mtimeMs;
  const newer = (path) => {
    const stat = statSync(path);
    if (!stat.isDirectory()) return stat.mtimeMs > builtMs;
    return readdirSync(path).some((name) => name !== "dist" && name !== "node_modules" && newer(join(path, name)));
  };
  return PAGE_SOURCES.some((path) => existsSync(path) && newer(path));
}

/** Launches headless Chromium (a fresh temporary profile each time). */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".map": "application/json",
};

/** Serves `root`; resolves to its base URL and a `close()`. */
export async function serveStatic(root) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    let size = -1;
    try { if (file.startsWith(normalize(root + sep)) || file === normalize(root)) size = statSync(file).isFile() ? statSync(file).size : -1; } catch { size = -1; }
    if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405).end(); return; }
    if (size < 0) { res.writeHead(404, { "content-type": "text/plain" }).end("not found"); return; }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": size, "cache-control": "no-store" });
    if (req.method === "HEAD") res.end(); else createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
