// The README documents every setting and every problem type: names users rely on must not drift.
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { problemKinds } from "../../shared/problems.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("README", () => {
  const readme = read("README.md");

  it("documents every environment variable of shared/config.ts", () => {
    const vars =
      read("shared/config.ts")
        .match(/^ {2}([A-Z_]+):/gm)
        ?.map((l) => l.trim().slice(0, -1)) ?? [];
    expect(vars.length).to.be.greaterThan(20);
    for (const v of vars) expect(readme, v).to.include(`\`${v}\``);
  });

  it("documents every problem type", () => {
    for (const kind of Object.values(problemKinds)) expect(readme, kind.type).to.include(kind.type);
  });

  it("names the two commands, start and test", () => {
    expect(readme).to.include("npm install && npm start");
    expect(readme).to.include("npm test");
  });
});
