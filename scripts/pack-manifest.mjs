// The manifest a packed tarball carries: `npm pack` and `npm publish` run `prepack`, which builds
// and then calls this with "packed", and `postpack`, which calls it with "source". A checkout builds
// on `npm install` through `prepare`; a tarball ships dist/ and build/ built, so its manifest has no
// `prepare` (a consumer's install would try to build from sources it does not have). The script is
// kept under `_prepare` while the tarball is made, and put back afterwards.
//
//   node scripts/pack-manifest.mjs packed|source

import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package.json", import.meta.url);
const mode = process.argv[2];
if (mode !== "packed" && mode !== "source") {
  console.error("usage: node scripts/pack-manifest.mjs packed|source");
  process.exit(2);
}
const text = readFileSync(path, "utf8");
const pkg = JSON.parse(text);
const [from, to] = mode === "packed" ? ["prepare", "_prepare"] : ["_prepare", "prepare"];
if (pkg.scripts[from] !== undefined) {
  // Rebuilt key by key, so that the script keeps its place in the file.
  pkg.scripts = Object.fromEntries(Object.entries(pkg.scripts).map(([k, v]) => [k === from ? to : k, v]));
  writeFileSync(path, JSON.stringify(pkg, null, 2) + (text.endsWith("\n") ? "\n" : ""));
}
