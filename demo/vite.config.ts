// Builds the demo page into demo/dist: a static site (no CDN) whose worker, synfin's wasm core and
// parquet-wasm's wasm are emitted as files beside it. `npm run demo` builds it and serves it on
// http://127.0.0.1:5173.

import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "./",
  publicDir: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Never inline a wasm module as a data URL; both are fetched as files with application/wasm.
    assetsInlineLimit: (file) => (file.endsWith(".wasm") ? false : undefined),
    chunkSizeWarningLimit: 2048,
    // index.html is the demo; check.html a bare page the browser tests drive.
    rollupOptions: { input: { index: fileURLToPath(new URL("./index.html", import.meta.url)), check: fileURLToPath(new URL("./check.html", import.meta.url)) } },
  },
  worker: { format: "es" },
  server: { host: "127.0.0.1", port: 5173, strictPort: true, fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] } },
  preview: { host: "127.0.0.1", port: 5173, strictPort: true },
});
