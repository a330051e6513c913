// CPU per request of the API's two hot paths, A/B between source trees, interleaved: on a busy
// machine wall-clock throughput is noise, CPU time per request much less so (issue 10).
//   node --import tsx bench/cpu-ab.ts [--n 20000] [--rounds 3] [--only post,get] [--entry ts|dist]
//     [--prof DIR] [--port 27710] [--env K=V,...] [--node-flags "FLAGS"] TREE_A [TREE_B ...]
// A tree is a checkout of Herald (e.g. `git worktree add --detach ../base main`, node_modules linked).
// Each round starts each tree's API in turn (`node --import tsx services/api/main.ts`, or with
// `--entry dist` its built dist/services/api/main.js; cwd = the tree; the bench's env, limits off,
// no worker), drives POST /jobs (the queue absorbs) and GET /jobs/{id} of a queued job for `n`
// requests each after a warm-up of n/4 (autocannon, 50 connections, in this process), and reads the
// API's utime+stime from /proc/<pid>/stat around each. Rounds alternate the trees' order. `--prof`
// writes a V8 CPU profile of each API process (the main thread's is the one numbered .0.). Node runs
// with Herald's service flags (shared/runtime/node-flags.ts) unless `--node-flags` says otherwise.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import autocannon from "autocannon";
import { names } from "../shared/store/names.ts";
import { connectRedis } from "../shared/store/redis-connect.ts";
import { defineJobTypesAt, log, removeNamespace } from "../test/helpers/stack.ts";
import {
  cpuMs,
  loadAverage,
  median,
  postNoopJob,
  stopChild,
  takeNodeFlags,
  takeOption,
  untilReady,
} from "./ab-tools.ts";
import { REDIS_URL } from "./brokers.ts";
import { benchEnv } from "./herald.ts";
import { benchHandlers } from "./procs/bench-jobs.ts";
import { sampleJob } from "./rows/http.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => takeOption(args, name, dflt);
const N = Number(opt("--n", "20000"));
const ROUNDS = Number(opt("--rounds", "3"));
const PROF = opt("--prof", "");
const ONLY = opt("--only", "post,get").split(",");
/** `dist`: run the compiled dist/services/api/main.js (npm run build) instead of the TypeScript. */
const ENTRY = opt("--entry", "ts");
const NODE_FLAGS = takeNodeFlags(args);
const port = Number(opt("--port", "27710"));
/** `--env K=V,K2=V2`: set in each API's environment after the bench's own (e.g. a limit turned on). */
const EXTRA_ENV = Object.fromEntries(
  opt("--env", "")
    .split(",")
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
);
const trees = args;

async function load(opts: autocannon.Options): Promise<number> {
  const r = await autocannon({ connections: 50, ...opts });
  return r["2xx"];
}

async function one(tree: string, port: number): Promise<{ post: number; get: number }> {
  const namespace = `bench-${randomBytes(6).toString("hex")}`;
  const n = names(namespace);
  await defineJobTypesAt(REDIS_URL, n, benchHandlers);
  const prof = PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : [];
  const child = spawn(
    process.execPath,
    [
      ...NODE_FLAGS,
      ...prof,
      ...(ENTRY === "dist" ? ["dist/services/api/main.js"] : ["--import", "tsx", "services/api/main.ts"]),
    ],
    {
      cwd: tree,
      env: {
        ...process.env,
        ...benchEnv,
        ...EXTRA_ENV,
        HERALD_NAMESPACE: namespace,
        HOST: "127.0.0.1",
        PORT: String(port),
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const pid = child.pid ?? 0;
  const url = `http://127.0.0.1:${port}`;
  try {
    await untilReady(url);
    const job = await sampleJob(url);
    const post = postNoopJob(url);
    const get = { url: `${url}/jobs/${job.id}`, headers: { authorization: `Bearer ${job.token}` } };
    const phase = async (spec: autocannon.Options): Promise<number> => {
      await load({ ...spec, amount: N / 4 });
      const t = cpuMs(pid);
      const ok = await load({ ...spec, amount: N });
      const cpu = cpuMs(pid) - t;
      if (ok !== N) console.error(`${tree}: only ${ok} 2xx of ${N}`);
      return (cpu * 1000) / ok;
    };
    const postUs = ONLY.includes("post") ? await phase(post) : Number.NaN;
    const getUs = ONLY.includes("get") ? await phase(get) : Number.NaN;
    return { post: postUs, get: getUs };
  } finally {
    await stopChild(child);
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    await removeNamespace(n, redis).finally(() => redis.close());
  }
}

const results = new Map<string, { post: number[]; get: number[] }>(trees.map((t) => [t, { post: [], get: [] }]));
for (let round = 0; round < ROUNDS; round++) {
  for (const tree of round % 2 ? [...trees].reverse() : trees) {
    const r = await one(tree, port);
    results.get(tree)?.post.push(r.post);
    results.get(tree)?.get.push(r.get);
    console.log(`round ${round + 1} ${tree}: POST ${r.post.toFixed(0)} µs/req, GET ${r.get.toFixed(0)} µs/req`);
  }
}
const load1 = loadAverage();
// The minimum is the round least disturbed by the machine's other work; the median says how typical it is.
for (const [tree, r] of results) {
  const show = (xs: number[]) => `min ${Math.min(...xs).toFixed(0)} / median ${median(xs).toFixed(0)} µs`;
  console.log(`${tree}: POST ${show(r.post)}, GET ${show(r.get)} (load ${load1})`);
}
