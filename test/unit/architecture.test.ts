// The API and the worker are separate processes: neither may import the other's code.
// Both may import shared/. Checked by scanning every import specifier (static, re-export, dynamic).
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
