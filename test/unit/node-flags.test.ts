// Herald's processes run with the flags of shared/runtime/node-flags.ts however they are started;
// those starts are spelled out in several files, held here to the one list.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { serviceNodeFlags } from "../../shared/runtime/node-flags.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("Node.js flags of Herald's processes", () => {
  it("every flag is one this Node accepts, on the command line and in NODE_OPTIONS (the Docker image's way)", () => {
    const onLine = spawnSync(process.execPath, [...serviceNodeFlags, "-e", "process.exit(0)"], { encoding: "utf8" });
    expect(onLine.stderr).to.equal("");
    expect(onLine.status).to.equal(0);
    const inEnv = spawnSync(process.execPath, ["-e", "process.exit(0)"], {
      encoding: "utf8",
      env: { ...process.env, NODE_OPTIONS: serviceNodeFlags.join(" ") },
    });
    expect(inEnv.stderr).to.equal("");
    expect(inEnv.status).to.equal(0);
  });

  it("npm run start:api and start:worker pass them", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    for (const [name, entry] of [
      ["start:api", "services/api/main.ts"],
      ["start:worker", "services/worker/main.ts"],
    ] as const) {
      expect(scripts[name], name).to.equal(`exec node ${serviceNodeFlags.join(" ")} --import tsx ${entry}`);
    }
  });

  it("npm start and the bench spawn with the list itself", () => {
    expect(read("scripts/start.ts")).to.include('[...serviceNodeFlags, "--import", "tsx", entry]');
    expect(read("bench/procs.ts")).to.match(/const node = \[\s*\.\.\.serviceNodeFlags,/);
    expect(read("bench/ab-tools.ts")).to.include("serviceNodeFlags.join");
    for (const file of ["bench/cpu-ab.ts", "bench/worker-ab.ts"]) {
      expect(read(file), file).to.match(/spawn\(\s*process\.execPath,\s*\[\s*\.\.\.NODE_FLAGS,/);
    }
  });

  it("the Docker image sets them as NODE_OPTIONS, for the API, the worker and the CLI alike", () => {
    const env = read("Dockerfile")
      .split("\n")
      .filter((line) => line.startsWith("ENV "));
    expect(env.join("\n")).to.include(`NODE_OPTIONS=${serviceNodeFlags.join(" ")}`);
    // No compose service replaces the image's NODE_OPTIONS.
    for (const file of ["docker-compose.yml", "docker-compose.cluster.yml"]) {
      expect(read(file), file).not.to.include("NODE_OPTIONS");
    }
  });
});
