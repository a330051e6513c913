// The store's Lua scripts are files (shared/store/scripts/*.lua) that workers in other languages call
// too (docs/worker-protocol.md): each is loaded by the store, and documents at its top every KEYS[i]
// and ARGV[i] its code uses.
import { readdirSync } from "node:fs";
import { expect } from "chai";
import { storeScripts } from "../../shared/store/store-scripts.ts";

const dir = new URL("../../shared/store/scripts/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".lua"));

/** The highest index of `name[i]` in `text` (0 when unused). */
const highest = (text: string, name: "KEYS" | "ARGV"): number =>
  Math.max(0, ...[...text.matchAll(new RegExp(`${name}\\[(\\d+)\\]`, "g"))].map((m) => Number(m[1])));

describe("unit: the store's Lua scripts", () => {
  it("every script file is loaded by the store, and nothing else", () => {
    expect(files.length).to.be.greaterThan(0);
    const loaded = Object.values(storeScripts);
    expect(loaded.length).to.equal(files.length);
    for (const source of loaded) expect(source).to.match(/^--\[\[\n {2}[a-z-]+: /);
  });

  for (const file of files) {
    it(`${file} documents its KEYS and ARGV at the top`, () => {
      const source = Object.values(storeScripts).find((s) => s.startsWith(`--[[\n  ${file.slice(0, -4)}:`));
      expect(source, `${file} starts with a --[[ ${file.slice(0, -4)}: … ]] header`).to.be.a("string");
      const text = source as string;
      const end = text.indexOf("]]");
      const header = text.slice(0, end);
      const code = text.slice(end + 2);
      for (const name of ["KEYS", "ARGV"] as const) {
        for (let i = 1; i <= highest(code, name); i++) {
          const documented = header.includes(`${name}[${i}]`) || header.includes(`${name}[${i}..`);
          expect(documented, `${file}: ${name}[${i}] is used but not documented`).to.equal(true);
        }
      }
    });
  }
});
