// The API and the worker are separate processes: neither may import the other's code.
// Both may import shared/. The package's entry points stay small: the worker SDK (herald/worker)
// never reaches the API's code, and the client library (herald/client) imports only what a browser
// needs. Checked by scanning every import specifier (static, re-export, dynamic).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return /\.(c|m)?(t|j)sx?$/.test(e.name) ? [full] : [];
  });
}

/** Every module specifier in a source file: `import … from "x"`, `import "x"`, `export … from "x"`, `import("x")`. */
function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const p of patterns) for (const m of source.matchAll(p)) if (m[1]) found.push(m[1]);
  return found;
}

/** Relative imports of files under `from` that land under `forbidden`, as "file → specifier". */
function crossings(from: string, forbidden: string): string[] {
  const bad: string[] = [];
  const forbiddenDir = join(root, forbidden) + sep;
  for (const file of sourceFiles(join(root, from))) {
    for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec);
      if (`${target}${sep}`.startsWith(forbiddenDir) || target.startsWith(forbiddenDir)) {
        bad.push(`${relative(root, file)} → ${spec}`);
      }
    }
  }
  return bad;
}

describe("unit: architecture", () => {
  it("the import scanner finds every kind of specifier (self-check)", () => {
    const src = [
      'import a from "./a.ts";',
      "import { b,\n  c } from '../b.ts';",
      'import type { T } from "./t.ts";',
      'import "./side-effect.ts";',
      'export { d } from "./d.ts";',
      'export * from "./e.ts";',
      'const f = await import("./f.ts");',
    ].join("\n");
    expect(importSpecifiers(src)).to.have.members([
      "./a.ts",
      "../b.ts",
      "./t.ts",
      "./side-effect.ts",
      "./d.ts",
      "./e.ts",
      "./f.ts",
    ]);
    expect(crossings("services/api", "services/api"), "self-check: the API imports its own files").to.not.be.empty;
  });

  it("nothing under services/api imports from services/worker", () => {
    expect(crossings("services/api", "services/worker")).to.deep.equal([]);
  });

  it("nothing under services/worker imports from services/api", () => {
    expect(crossings("services/worker", "services/api")).to.deep.equal([]);
  });

  it("nothing under shared imports from services", () => {
    expect(crossings("shared", "services")).to.deep.equal([]);
  });
});

/** Every file reachable from `entry` through relative imports (type-only ones included), and the
 * packages (bare specifiers) those files import. */
function closure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith("node:"))
        packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] ?? spec));
    }
  };
  visit(join(root, entry));
  return { files: [...files].map((f) => relative(root, f)), packages: [...packages] };
}

/** Imports of files under `from` that leave it, as "file → target" (target relative to the root). */
function leaving(from: string): string[] {
  const dir = join(root, from) + sep;
  return sourceFiles(join(root, from)).flatMap((file) =>
    importSpecifiers(readFileSync(file, "utf8"))
      .map((spec) => (spec.startsWith(".") ? resolve(dirname(file), spec) : spec))
      .filter((target) => !target.startsWith(dir) && !target.startsWith("node:"))
      .map((target) => `${relative(root, file)} → ${target.startsWith(root) ? relative(root, target) : target}`),
  );
}

describe("unit: architecture of the package's entry points (herald/worker, herald/client)", () => {
  it("the worker SDK (shared/worker) never reaches the API's code, nor its HTTP stack", () => {
    const sdk = closure("shared/worker/index.ts");
    expect(sdk.files, "self-check: the closure follows imports").to.include("shared/worker/worker.ts");
    expect(sdk.files.filter((f) => f.startsWith(`services${sep}`))).to.deep.equal([]);
    expect(
      sdk.packages.filter((p) => ["koa", "@koa/router", "@koa/bodyparser", "socket.io"].includes(p)),
    ).to.deep.equal([]);
    expect(crossings("shared/worker", "services/api")).to.deep.equal([]);
  });

  it("the client library (shared/client) imports only the job model, the realtime event types and its two packages", () => {
    expect(leaving("shared/client").sort()).to.deep.equal([
      "shared/client/herald-client.ts → shared/jobs/job-status.ts",
      "shared/client/herald-client.ts → shared/jobs/job-view.ts",
      "shared/client/herald-client.ts → shared/jobs/schemas.ts",
      "shared/client/job-guards.ts → shared/jobs/job-status.ts",
      "shared/client/job-guards.ts → shared/jobs/schemas.ts",
      "shared/client/react.ts → react",
      "shared/client/react.ts → shared/jobs/schemas.ts",
      "shared/client/socket-channel.ts → shared/events/realtime-events.ts",
      "shared/client/socket-channel.ts → shared/jobs/schemas.ts",
      "shared/client/socket-channel.ts → socket.io-client",
      "shared/client/types.ts → shared/jobs/schemas.ts",
    ]);
    const client = closure("shared/client/index.ts");
    expect(client.files.filter((f) => f.startsWith(`services${sep}`))).to.deep.equal([]);
  });
});
