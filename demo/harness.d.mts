// Types of harness.mjs.

import type { Browser } from "playwright-core";

/** demo/dist, where the page is built. */
export const DEMO_DIST: string;
export const CHROMIUM: string;
export const HAS_CHROMIUM: boolean;
export const CHROMIUM_ARGS: readonly string[];

/** Builds the page into demo/dist with Vite (the wasm core in build/ must exist). */
export function buildDemo(): void;

/** Launches headless Chromium (a fresh temporary profile each time). */
export function launchChromium(): Promise<Browser>;

export interface StaticServer {
  /** Base URL, ending in "/". */
  url: string;
  close(): Promise<void>;
}

/** Serves the files under `root` on an ephemeral 127.0.0.1 port. */
export function serveStatic(root: string): Promise<StaticServer>;
