#!/usr/bin/env node
// The `herald` command. An installed Herald runs its compiled JavaScript (dist/, `npm run build`).
// A source checkout runs the TypeScript through tsx, so what runs is always what is checked out
// (never a stale dist/); it falls back to dist/ when tsx is not installed. The imports are dynamic:
// tsx's loader must be registered before the TypeScript entry is resolved.
import { existsSync } from "node:fs";

const source = new URL("../scripts/cli/main.ts", import.meta.url);
const compiled = new URL("../dist/scripts/cli/main.js", import.meta.url);

async function tsxLoader() {
  try {
    return await import("tsx/esm/api");
  } catch {
    return null; // a checkout installed without development dependencies
  }
}

const tsx = existsSync(source) ? await tsxLoader() : null;
if (tsx) {
  tsx.register();
  await import(source.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write(
    "herald: dist/ is missing: run `npm run build` first (or `npm install` tsx to run from source)\n",
  );
  process.exit(70);
}
