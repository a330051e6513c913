// Issue 11, "a CLI": the `herald` bin as a user runs it (real processes against a real in-process
// API and worker on the real brokers): exit codes, status/cancel/dlq output, and the live progress
// bar drawn in a real terminal (tmux).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { expect } from "chai";
import type { AcceptedJob, JobView } from "../../shared/jobs/schemas.ts";
import { names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { compiledEntries } from "../helpers/compiled.ts";
import { deadLetterIds } from "../helpers/dead-letters.ts";
import { getStatus, pollToEnd, submit } from "../helpers/http.ts";
import { freePort, pollUntil } from "../helpers/net.ts";
import { exitWithin, killAll, repoRoot, type Spawned, spawnGroup } from "../helpers/processes.ts";
import {
  log,
  noLimits,
  REDIS_URL,
  randomNamespace,
  removeNamespace,
  type Stack,
  startStack,
} from "../helpers/stack.ts";

const run = promisify(execFile);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("issue 11: the herald CLI", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  const spawned: Spawned[] = [];

  let cli = "";
  before(async () => {
    [stack, { cli }] = await Promise.all([startStack({ env: noLimits }), compiledEntries()]);
  });
  after(async () => {
    for (const p of spawned) await killAll(p).catch(() => undefined);
    await stack?.close();
  });

  const base = () => stack?.baseUrl ?? "";
  /** Starts `herald …` with HERALD_URL pointing at the stack (overridable): the compiled CLI, as an
   * installed package's bin runs it (a tsx start costs a second or more each), or bin/herald.mjs of
   * this checkout itself (through tsx). */
  const start = (args: string[], env: Record<string, string> = {}, via: "compiled" | "bin" = "compiled"): Spawned => {
    const p = spawnGroup(process.execPath, [via === "bin" ? "bin/herald.mjs" : cli, ...args], {
      HERALD_URL: base(),
      HERALD_NAMESPACE: stack?.names.namespace ?? "",
      LOG_LEVEL: "warn",
      ...env,
    });
    spawned.push(p);
    return p;
  };
  const herald = async (args: string[], env: Record<string, string> = {}): Promise<Ran> => {
    const p = start(args, env);
    const { code } = await exitWithin(p, 30_000);
    return { code, stdout: p.stdout(), stderr: p.stderr() };
  };
  const failureText = (r: Ran) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

  it("submit --watch: exit 0, the result on stdout, one plain progress line per change on stderr (no TTY)", async () => {
    const r = await herald(["submit", "demo", "--payload", '{"steps":3,"stepMs":300}', "--watch"]);
    expect(r.code, failureText(r)).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ steps: 3 });
    expect(r.stderr).to.match(/^job [0-9a-f-]{36} accepted \(token \S+\)$/m);
    // Which intermediate versions a watcher sees is up to its channel; some running step is shown.
    expect(r.stderr).to.match(/^running (33|67|100)% ETA \S+ step [123] of 3$/m);
    expect(r.stderr).to.match(/^succeeded 100% ETA - step 3 of 3$/m);
    expect(r.stderr, "no bar drawing codes without a terminal").to.not.include("\u001b[");
  });

  it("submit --watch of a failing job: exit 1 and the job's problem", async () => {
    const r = await herald(["submit", "demo", "--payload", '{"steps":2,"stepMs":10,"fail":"boom"}', "--watch"]);
    expect(r.code, failureText(r)).to.equal(1);
    expect(r.stdout).to.equal("");
    expect(r.stderr).to.match(/job [0-9a-f-]{36} failed: boom/);
    expect(r.stderr).to.include("urn:herald:problem:job-failed");
  });

  it("submit --watch of a job canceled meanwhile (herald cancel): exit 3; cancel prints the job", async () => {
    const watching = start(["submit", "demo", "--payload", '{"steps":200,"stepMs":100}', "--watch"]);
    const accepted = await pollUntil(() => /^job (\S+) accepted \(token (\S+)\)$/m.exec(watching.stderr()), {
      timeoutMs: 20_000,
      what: "the watching CLI to print the job",
    });
    const [, id = "", token = ""] = accepted;
    // Cancel once the watcher has seen it run, so the cancel reaches a running job (202).
    await pollUntil(() => /^running \d+% .* step \d+ of 200$/m.test(watching.stderr()), {
      timeoutMs: 20_000,
      what: "the watcher to show progress",
    });
    const cancel = await herald(["cancel", id, "--token", token]);
    expect(cancel.code, failureText(cancel)).to.equal(0);
    const shown = JSON.parse(cancel.stdout) as JobView;
    expect(shown.id).to.equal(id);
    expect(shown.cancelRequested).to.equal(true);

    const { code } = await exitWithin(watching, 30_000);
    expect(code, watching.stderr()).to.equal(3);
    expect(watching.stderr()).to.include(`job ${id} canceled`);
    expect(watching.stdout()).to.equal("");

    const again = await herald(["cancel", id, "--token", token]);
    expect(again.code, failureText(again)).to.equal(5);
    expect(again.stderr).to.include("urn:herald:problem:job-finished");
  });

  it("submit without --watch prints id and token; status prints the job; a wrong token is exit 5 (404)", async () => {
    const r = await herald(["submit", "demo", "--payload", '{"steps":1,"stepMs":0}']);
    expect(r.code, failureText(r)).to.equal(0);
    const job = JSON.parse(r.stdout) as AcceptedJob;
    expect(job.id).to.match(/^[0-9a-f-]{36}$/);
    expect(job.token).to.be.a("string").and.not.equal("");
    expect(r.stderr).to.include(`herald status ${job.id} --token ${job.token}`);
    await pollToEnd(base(), job);

    // Two independent reads: run side by side (each is a process start-up).
    const [status, wrong] = await Promise.all([
      herald(["status", job.id, "--token", job.token]),
      // A token may start with "-" (base64url): it is still the option's value, not a usage error.
      herald(["status", job.id, "--token", "-not-the-token"]),
    ]);
    expect(status.code, failureText(status)).to.equal(0);
    const shown = JSON.parse(status.stdout) as JobView;
    expect(shown).to.include({ id: job.id, status: "succeeded", resultUrl: `/jobs/${job.id}/result` });

    expect(wrong.code, failureText(wrong)).to.equal(5);
    expect(wrong.stderr).to.include("urn:herald:problem:not-found");
    expect(wrong.stdout).to.equal("");
  });

  it("usage errors exit 2 with a clear message: unknown command or option, bad JSON, unknown type (the API's 422)", async () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /unknown command "frobnicate"/],
      [["submit", "demo", "--payload", "{steps: 3}"], /--payload is not valid JSON/],
      [["submit", "demo", "--payload", "[1,2]"], /--payload must be a JSON object/],
      [["submit", "demo", "--colour"], /Unknown option '--colour'/],
      [["status", "some-id"], /needs --token/],
      [["dlq", "replay"], /expected list \| replay/],
      [["submit", "no-such-type"], /422 \(Unknown job type[\s\S]*urn:herald:problem:unknown-job-type/],
    ];
    const results = await Promise.all(cases.map(([args]) => herald(args)));
    results.forEach((r, i) => {
      const [args, message] = cases[i] ?? [[], /./];
      expect(r.code, `herald ${args.join(" ")}: ${failureText(r)}`).to.equal(2);
      expect(r.stderr, `herald ${args.join(" ")}`).to.match(message);
    });
  });

  it("an unreachable API: exit 4, naming the URL; --url wins over HERALD_URL", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const [byFlag, byEnv] = await Promise.all([
      herald(["submit", "demo", "--url", closed]), // HERALD_URL (the stack) is set and loses
      herald(["status", "00000000-0000-4000-8000-000000000000", "--token", "t"], { HERALD_URL: closed }),
    ]);
    for (const r of [byFlag, byEnv]) {
      expect(r.code, failureText(r)).to.equal(4);
      expect(r.stderr).to.include(`cannot reach the API at ${closed} (ECONNREFUSED)`);
    }
  });

  it("dlq list shows a dead-lettered job; dlq replay <id> puts it back (queued, fresh attempts)", async () => {
    const n = stack?.names;
    if (!n) throw new Error("no stack");
    // Slow enough that its rerun cannot fail (and be dead-lettered again) while replay still reads
    // the queue: replay would take that new letter for a copy and drop it.
    const job = await submit(base(), "demo", { steps: 2, stepMs: 600, fail: "broken input" });
    expect((await pollToEnd(base(), job)).at(-1)?.body.status).to.equal("failed");
    await pollUntil(async () => (await deadLetterIds(n)).includes(job.id), {
      timeoutMs: 15_000,
      what: "the failed job's message in the dead-letter queue",
    });

    const list = await herald(["dlq", "list"]);
    expect(list.code, failureText(list)).to.equal(0);
    const listed = JSON.parse(list.stdout) as { queue: string; messages: { jobId: string }[] };
    expect(listed.queue).to.equal(n.deadLetterQueue);
    expect(listed.messages.find((m) => m.jobId === job.id)).to.include({ type: "demo", reason: "rejected" });
    expect(await deadLetterIds(n), "list leaves the messages in the queue").to.include(job.id);

    const before = (await getStatus(base(), job)).body.version;
    const replay = await herald(["dlq", "replay", job.id]);
    expect(replay.code, failureText(replay)).to.equal(0);
    expect(JSON.parse(replay.stdout)).to.deep.equal({ replayed: [job.id], kept: [], dropped: [] });
    // Replayed: the job was reset and ran again (it fails again: its payload still says so).
    const rerun = (await pollToEnd(base(), job)).at(-1)?.body as JobView;
    expect(rerun.status).to.equal("failed");
    expect(rerun.attempts).to.equal(1);
    expect(rerun.version).to.be.greaterThan(before + 1);
  });

  it("herald api and herald worker run the services (as npm run start:api / start:worker); SIGTERM stops them with 0", async () => {
    const namespace = randomNamespace("cli");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { HERALD_NAMESPACE: namespace, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn" };
    const api = start(["api"], env, "bin");
    const worker = start(["worker"], env, "bin");
    try {
      await pollUntil(async () => (await fetch(`${url}/readyz`)).ok, {
        timeoutMs: 30_000,
        everyMs: 200,
        what: `herald api ready at ${url}`,
      });
      const r = await herald(["submit", "demo", "--payload", '{"steps":2,"stepMs":10}', "--watch"], {
        HERALD_URL: url,
      });
      expect(r.code, failureText(r)).to.equal(0);
      expect(JSON.parse(r.stdout)).to.deep.equal({ steps: 2 });
      for (const p of [api, worker]) p.child.kill("SIGTERM");
      for (const p of [api, worker]) expect((await exitWithin(p, 20_000)).code, p.stderr()).to.equal(0);
    } finally {
      for (const p of [api, worker]) await killAll(p);
      const redis = await connectRedis(REDIS_URL, log, 5_000);
      await removeNamespace(names(namespace), redis).finally(() => redis.close());
    }
  });

  describe("in a real terminal (tmux)", () => {
    const server = `herald-cli-${randomBytes(4).toString("hex")}`;
    const tmux = (...args: string[]) => run("tmux", ["-L", server, "-f", "/dev/null", ...args], { cwd: repoRoot });
    const screen = async () => (await tmux("capture-pane", "-p", "-t", "cli")).stdout;
    after(() => tmux("kill-server").catch(() => undefined));

    it("draws a live progress bar with percent, ETA and message in place, then prints the result", async () => {
      const payload = JSON.stringify({ steps: 16, stepMs: 250 });
      const command =
        `env HERALD_URL=${base()} LOG_LEVEL=warn ${process.execPath} bin/herald.mjs submit demo ` +
        `--payload '${payload}' --watch; echo "herald-exit=$?"; sleep 300`;
      await tmux("new-session", "-d", "-s", "cli", "-x", "120", "-y", "30", "-c", repoRoot, command);

      const bar = /^demo \[(█*)(░*)\] (\d+)% \| ETA (\S+) \| (.*)$/m;
      const midway = new Set<number>();
      const frames: RegExpExecArray[] = [];
      const bars: number[] = [];
      const last = await pollUntil(
        async () => {
          const text = await screen();
          const m = bar.exec(text);
          const percent = Number(m?.[3]);
          if (m && percent > 0 && percent < 100) {
            // Checked after the poll: a throw in here would only count as "not yet".
            midway.add(percent);
            frames.push(m);
            bars.push(text.match(/\d+% \|/g)?.length ?? 0);
          }
          return text.includes("herald-exit=") ? text : null;
        },
        { timeoutMs: 40_000, everyMs: 100, what: "the CLI to finish in tmux" },
      );
      expect(midway.size, `bar states seen midway: ${[...midway]}`).to.be.at.least(2);
      for (const m of frames) {
        expect((m[1] ?? "").length + (m[2] ?? "").length, "bar width").to.equal(30);
        expect(m[4]).to.match(/^\d+s$/, "the job's ETA");
        expect(m[5]).to.match(/^step \d+ of 16$/);
      }
      expect(new Set(bars), "one bar, redrawn in place").to.deep.equal(new Set([1]));
      expect(last).to.include("herald-exit=0");
      expect(last).to.match(/^demo \[█{30}\] 100% \| ETA - \| step 16 of 16$/m);
      expect(last.match(/\d+% \|/g), "still one bar line").to.have.length(1);
      expect(last).to.match(/^\{\n {2}"steps": 16\n\}$/m);
    });
  });
});
