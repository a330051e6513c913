// Issue 9, "Herald as a package": what a user gets from `npm pack`. The tarball is built and
// packed once, installed once into a temporary application (its own package.json, the tarball as a
// dependency), and run from there with plain node: `herald api` first, then `herald worker --jobs
// ./jobs.mjs` with a job type the application defines. The API learns the type from the job type
// registry (no restart); the job's result comes back through `herald/client` imported from the
// installed package, over Socket.IO. Also: what the tarball holds, its types for a TypeScript user,
// and its client in a browser bundle.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { build, type Metafile } from "esbuild";
import { names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { freePort, pollUntil } from "../helpers/net.ts";
import { npmInstall, packOnce, startEarly } from "../helpers/packed.ts";
import { exitWithin, killAll, repoRoot, type Spawned, spawnGroup } from "../helpers/processes.ts";
import { log, REDIS_URL, randomNamespace, removeNamespace } from "../helpers/stack.ts";

const run = promisify(execFile);

/** The application's job type: reverses a text in four steps, reporting progress; fails for good on
 * "fail". Halfway it waits for its gate file (gates/<jobId>), which the follower writes once it has
 * seen that progress: so a follower sees a running job whatever the machine's load. */
const jobsModule = `import { existsSync } from "node:fs";
import { defineJob, PermanentError, z } from "herald/worker";

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });

export default [
  defineJob({
    name: "reverse",
    description: "Reverses a text, slowly.",
    payload: z.object({ text: z.string().min(1).max(1000), stepMs: z.int().min(0).max(2000).default(50) }),
    retry: { maxAttempts: 2 },
    run: async ({ text, stepMs }, ctx) => {
      if (text === "fail") throw new PermanentError("asked to fail");
      for (let step = 1; step <= 4; step++) {
        await sleep(stepMs, ctx.signal);
        ctx.progress({ percent: step * 25, message: \`step \${step} of 4\` });
        if (step === 2) while (!existsSync(new URL(\`./gates/\${ctx.jobId}\`, import.meta.url))) await sleep(50, ctx.signal);
      }
      return { reversed: [...text].reverse().join(""), attempt: ctx.attempt, jobId: ctx.jobId };
    },
  }),
];
`;

/** Submits and follows one job with the installed herald/client; opens its gate once it is seen
 * halfway; prints what it saw as JSON. */
const clientScript = `import { mkdirSync, writeFileSync } from "node:fs";
import { HeraldClient, JobFailedError } from "herald/client";

const client = new HeraldClient({ baseUrl: process.env.HERALD_URL });
const accepted = await client.submit("reverse", { text: process.argv[2] });
const progress = [];
const watch = client.watch(accepted, {
  onProgress: (p) => {
    progress.push(p.percent);
    if (p.percent === 50) {
      mkdirSync("gates", { recursive: true });
      writeFileSync(\`gates/\${accepted.id}\`, "");
    }
  },
});
let out;
try {
  const done = await watch.done;
  out = { id: accepted.id, status: done.status, channel: watch.channel, progress, result: await watch.result() };
} catch (err) {
  if (!(err instanceof JobFailedError)) throw err;
  out = { id: accepted.id, status: watch.latest?.status, error: watch.latest?.error };
}
client.close();
process.stdout.write(JSON.stringify(out));
`;

/** Type-checked against the installed declarations: a wrong payload use must be an error. */
const typesCheck = `import { HeraldClient, type JobWatch } from "herald/client";
import { defineJob, type HandlerContext, PermanentError, resource, startWorker, z } from "herald/worker";

const job = defineJob({
  name: "typed",
  payload: z.object({ n: z.number() }),
  run: (payload, ctx: HandlerContext) => {
    const n: number = payload.n;
    if (n < 0) throw new PermanentError("negative");
    return n > 1 ? resource("/things/1") : { n, attempt: ctx.attempt };
  },
});
// @ts-expect-error: the payload has no field m
defineJob({ name: "wrong", payload: z.object({ n: z.number() }), run: (payload) => payload.m });
export const started: Promise<{ stop(): Promise<void> }> = startWorker({ jobs: [job] });
export const watch = (c: HeraldClient): JobWatch => c.watch({ id: "x", token: "y" });
`;

describe("issue 9: Herald as a package (npm pack, installed into an application)", function () {
  this.timeout(60_000);
  const work = mkdtempSync(join(tmpdir(), "herald-package-"));
  const app = join(work, "app");
  const namespace = randomNamespace("pkg");
  let packedFiles: string[] = [];
  let baseUrl = "";
  let api: Spawned | undefined;
  let worker: Spawned | undefined;
  const timings: string[] = [];

  /** Runs the installed bin (node_modules/.bin/herald) in the application's folder. */
  const herald = (args: string[], env: Record<string, string> = {}) =>
    spawnGroup(
      process.execPath,
      [join(app, "node_modules", ".bin", "herald"), ...args],
      { HERALD_NAMESPACE: namespace, ...env },
      app,
    );
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const began = Date.now();
    try {
      return await f();
    } finally {
      timings.push(`${what} ${((Date.now() - began) / 1000).toFixed(1)}s`);
    }
  };

  // Built, packed and installed while the test files before this one run.
  const installed = startEarly(async () => {
    const packed = await packOnce();
    timings.push(
      `npm pack (with the build) ${packed.seconds.toFixed(1)}s${packed.reused ? " in the other test process" : ""}`,
    );
    packedFiles = packed.files;

    mkdirSync(app);
    const manifest = {
      name: "herald-package-test-app",
      private: true,
      type: "module",
      dependencies: { herald: `file:${packed.tarball}` },
    };
    writeFileSync(join(app, "package.json"), JSON.stringify(manifest, null, 2));
    writeFileSync(join(app, "jobs.mjs"), jobsModule);
    writeFileSync(join(app, "follow.mjs"), clientScript);
    writeFileSync(join(app, "not-jobs.mjs"), "export default { name: 'reverse' };\n");
    await timed("npm install", () => npmInstall(app));
  });

  before(async function () {
    this.timeout(10 * 60_000); // build, pack and install on a busy machine
    await timed("waiting for the install begun at load", () => installed);
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const env = { HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn" };
    api = herald(["api"], env);
    await pollUntil(async () => (await fetch(`${baseUrl}/readyz`)).ok, {
      timeoutMs: 60_000,
      everyMs: 200,
      what: `herald api (installed) ready at ${baseUrl}; stderr: ${api.stderr()}`,
    });
    // Only now, with the API running, the worker with the application's own type.
    worker = herald(["worker", "--jobs", "./jobs.mjs"], env);
    await pollUntil(
      async () => {
        const res = await fetch(`${baseUrl}/job-types`);
        const { jobTypes } = (await res.json()) as { jobTypes: { name: string; liveWorkers: number }[] };
        return jobTypes.some((t) => t.name === "reverse" && t.liveWorkers >= 1);
      },
      { timeoutMs: 60_000, everyMs: 200, what: 'the running API to list "reverse"' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nworker stderr: ${worker?.stderr()}\napi stderr: ${api?.stderr()}`);
    });
  });

  after(async function () {
    this.timeout(60_000);
    for (const p of [worker, api]) p?.child.kill("SIGTERM");
    for (const p of [worker, api]) if (p) await exitWithin(p, 20_000).catch(() => undefined);
    for (const p of [worker, api]) await killAll(p);
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    await removeNamespace(names(namespace), redis).finally(() => redis.close());
    rmSync(work, { recursive: true, force: true });
    process.stdout.write(`      (package test: ${timings.join(", ")})\n`);
  });

  it("the tarball holds compiled JavaScript, declarations and the bin; no TypeScript source; tsx is not a dependency", () => {
    for (const file of [
      "bin/herald.mjs",
      "dist/shared/worker/index.js",
      "dist/shared/worker/index.d.ts",
      "dist/shared/client/index.js",
      "dist/shared/client/index.d.ts",
      "dist/services/api/main.js",
      "dist/services/worker/main.js",
      "dist/scripts/cli/main.js",
      "dist/services/api/client.bundle.js",
    ]) {
      expect(packedFiles, file).to.include(file);
    }
    expect(packedFiles.filter((f) => /\.(c|m)?tsx?$/.test(f) && !f.endsWith(".d.ts"))).to.deep.equal([]);
    // Every other file beside the code (the store's Lua scripts, ...) ships beside the compiled code.
    const assets = ["services", "shared"].flatMap((d) =>
      filesUnder(join(repoRoot, d)).filter((f) => !/\.tsx?$/.test(f)),
    );
    for (const file of assets) expect(packedFiles, file).to.include(`dist/${relative(repoRoot, file)}`);
    expect(packedFiles.filter((f) => f.startsWith("test/") || f.startsWith("examples/"))).to.deep.equal([]);
    const installed = JSON.parse(readFileSync(join(app, "node_modules", "herald", "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    expect(installed.dependencies).to.not.have.property("tsx");
    expect(() => readFileSync(join(app, "node_modules", "tsx", "package.json")), "tsx installed").to.throw();
  });

  it("a job of the application's type: submitted and followed live with the installed herald/client; its result", async () => {
    const { stdout } = await run(process.execPath, ["follow.mjs", "Herald"], {
      cwd: app,
      env: { ...process.env, HERALD_URL: baseUrl },
    });
    const seen = JSON.parse(stdout) as {
      id: string;
      status: string;
      channel: string;
      progress: number[];
      result: { reversed: string; attempt: number; jobId: string };
    };
    expect(seen.status).to.equal("succeeded");
    expect(seen.channel).to.equal("socket");
    expect(seen.result).to.deep.equal({ reversed: "dlareH", attempt: 1, jobId: seen.id });
    expect(
      seen.progress.some((p) => p > 0 && p < 100),
      `progress seen: ${seen.progress}`,
    ).to.equal(true);
  });

  it("PermanentError from the application's handler fails the job at once, with its message", async () => {
    const { stdout } = await run(process.execPath, ["follow.mjs", "fail"], {
      cwd: app,
      env: { ...process.env, HERALD_URL: baseUrl },
    });
    const seen = JSON.parse(stdout) as { status: string; error: { detail?: string } };
    expect(seen.status).to.equal("failed");
    expect(seen.error.detail).to.include("asked to fail");
    const res = await fetch(`${baseUrl}/job-types`);
    const { jobTypes } = (await res.json()) as { jobTypes: { name: string; retry: { maxAttempts: number } }[] };
    expect(jobTypes.find((t) => t.name === "reverse")?.retry.maxAttempts, "the announced retry policy").to.equal(2);
  });

  it("an invalid payload for the application's type is 422 invalid-payload with the schema's errors", async () => {
    const res = await fetch(`${baseUrl}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "reverse", payload: { text: 42, stepMs: 99_999 } }),
    });
    expect(res.status).to.equal(422);
    expect(res.headers.get("content-type")).to.match(/^application\/problem\+json/);
    const problem = (await res.json()) as { type: string; errors: { path: string }[] };
    expect(problem.type).to.equal("urn:herald:problem:invalid-payload");
    expect(problem.errors.map((e) => e.path)).to.include.members(["/text", "/stepMs"]);
  });

  it("herald worker --jobs with a module that is missing or exports no jobs: exit 2, saying why", async () => {
    const missing = herald(["worker", "--jobs", "./no-such-jobs.mjs"]);
    const wrong = herald(["worker", "--jobs", "./not-jobs.mjs"]);
    const [m, w] = await Promise.all([exitWithin(missing, 30_000), exitWithin(wrong, 30_000)]);
    expect(m.code, missing.stderr()).to.equal(2);
    expect(missing.stderr()).to.include("--jobs ./no-such-jobs.mjs: not found");
    expect(w.code, wrong.stderr()).to.equal(2);
    expect(wrong.stderr()).to.include("must default-export an array of defineJob(...) values");
  });

  it("its declarations type-check a TypeScript user of herald/worker and herald/client (and catch a wrong payload)", async () => {
    writeFileSync(join(app, "check.ts"), typesCheck);
    const tsconfig = {
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        strict: true,
        noEmit: true,
        lib: ["es2023", "dom"],
        types: ["node"],
        typeRoots: [join(repoRoot, "node_modules", "@types")],
      },
      files: ["check.ts"],
    };
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify(tsconfig));
    const tsc = join(repoRoot, "node_modules", ".bin", "tsc");
    const result = await run(tsc, ["-p", app], { cwd: app }).then(
      () => ({ code: 0, out: "" }),
      (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
    );
    expect(result, result.out).to.deep.equal({ code: 0, out: "" });
  });

  it("herald/client bundles for the browser from the installed package (socket.io-client in, no zod, no Node built-ins)", async () => {
    writeFileSync(
      join(app, "page.mjs"),
      'import { HeraldClient } from "herald/client";\nwindow.Herald = HeraldClient;\n',
    );
    const result = await build({
      entryPoints: [join(app, "page.mjs")],
      absWorkingDir: app,
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys((result.metafile as Metafile).inputs);
    expect(inputs).to.include("node_modules/herald/dist/shared/client/herald-client.js");
    expect(inputs.some((i) => i.startsWith("node_modules/socket.io-client/"))).to.equal(true);
    expect(inputs.filter((i) => i.includes("node_modules/zod/"))).to.deep.equal([]);
    const text = result.outputFiles[0]?.text ?? "";
    expect(text).to.match(/\bHeraldClient\d* = class\b|\bclass HeraldClient\b/);
    expect(text).to.not.match(/\brequire\(/);
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}
