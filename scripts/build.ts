// `npm run build`: dist/ holds what an installed Herald runs with plain `node`: the compiled
// JavaScript and declarations of services/, shared/ and the CLI (tsconfig.build.json), the files
// beside the code that it reads at run time (Lua scripts and any other non-TypeScript file under
// services/ and shared/), and the browser bundle of the client library that the API serves.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildClientBundle, prebuiltClientName } from "../services/api/client-routes.ts";

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const began = Date.now();

rmSync(dist, { recursive: true, force: true }); // nothing stale from an earlier layout
const tsc = join(root, "node_modules", ".bin", "tsc");
// Emit only (--noCheck: about half the time): type errors are `npm run typecheck`'s to find, and
// `npm test` and CI run it. The client bundle is built meanwhile.
const bundled = buildClientBundle();
await run(tsc, ["-p", join(root, "tsconfig.build.json"), "--noCheck"], { cwd: root }).catch(
  (err: { stdout?: string; stderr?: string }) => {
    process.stderr.write(`${err.stdout ?? ""}${err.stderr ?? ""}`);
    throw err;
  },
);

function assets(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name);
    if (e.isDirectory()) return assets(full);
    return /\.(c|m)?tsx?$/.test(e.name) ? [] : [full];
  });
}
const copied = ["services", "shared"].flatMap((d) => assets(join(root, d)));
for (const file of copied) {
  const to = join(dist, relative(root, file));
  mkdirSync(dirname(to), { recursive: true });
  cpSync(file, to);
}

writeFileSync(join(dist, "services", "api", prebuiltClientName), await bundled);

const seconds = ((Date.now() - began) / 1000).toFixed(1);
process.stderr.write(
  `dist/ built in ${seconds}s (${copied.length} asset file(s) copied${copied.length ? `: ${copied.map((f) => relative(root, f)).join(", ")}` : ""}; client bundle)\n`,
);
