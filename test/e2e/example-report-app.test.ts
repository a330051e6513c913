// Issue 9, examples/report-app: the example application as its README runs it, from a copy outside
// the repository. It installs Herald from the packed tarball (pdfkit and esbuild from the registry
// or the local cache), bundles its page, and runs `herald api`, `herald worker --jobs ./jobs.mjs`
// and its own web server. Chromium renders a report from the page and follows it live; the PDF is
// served at the end.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { freePort, pollUntil } from "../helpers/net.ts";
import { npm, npmInstall, packOnce, startEarly } from "../helpers/packed.ts";
import { exitWithin, killAll, repoRoot, type Spawned, spawnGroup } from "../helpers/processes.ts";
import { log, REDIS_URL, randomNamespace, removeNamespace } from "../helpers/stack.ts";

describe("issue 9: examples/report-app, installed from the packed tarball and run as its README says", function () {
  this.timeout(60_000);
  const work = mkdtempSync(join(tmpdir(), "herald-report-app-"));
  const app = join(work, "report-app");
  const namespace = randomNamespace("example");
  const processes: Spawned[] = [];
  let browser: BrowserLease | undefined;
  let heraldUrl = "";
  let webUrl = "";

  // Built, packed and installed while the test files before this one run.
  const installed = startEarly(async () => {
    const { tarball } = await packOnce();
    const skip = /\/(node_modules|vendor|reports)$|\/public\/app\.js$|package-lock\.json$/;
    cpSync(join(repoRoot, "examples", "report-app"), app, { recursive: true, filter: (src) => !skip.test(src) });
    cpSync(tarball, join(app, "vendor", "herald.tgz")); // what `npm run pack-herald` leaves there
    await npmInstall(app);
    await npm(["run", "build"], app);
  });

  before(async function () {
    this.timeout(10 * 60_000); // build, pack and install on a busy machine
    await installed;

    const [apiPort, webPort] = [await freePort(), await freePort()];
    heraldUrl = `http://127.0.0.1:${apiPort}`;
    webUrl = `http://127.0.0.1:${webPort}`;
    const env = {
      HERALD_NAMESPACE: namespace,
      HOST: "127.0.0.1",
      PORT: String(apiPort),
      LOG_LEVEL: "warn",
      CORS_ORIGINS: webUrl,
      HERALD_URL: heraldUrl,
      WEB_PORT: String(webPort),
      REPORTS_DIR: join(work, "reports"),
      REPORT_QUERY_MS: "400",
    };
    const start = (args: string[]) => {
      const p = spawnGroup(process.execPath, args, env, app);
      processes.push(p);
      return p;
    };
    const herald = join(app, "node_modules", ".bin", "herald");
    start([herald, "api"]);
    await pollUntil(async () => (await fetch(`${heraldUrl}/readyz`)).ok, {
      timeoutMs: 60_000,
      everyMs: 200,
      what: "herald api ready",
    });
    start([herald, "worker", "--jobs", "./jobs.mjs"]);
    start(["server.mjs"]);
    await pollUntil(
      async () => {
        const { jobTypes } = (await (await fetch(`${heraldUrl}/job-types`)).json()) as { jobTypes: { name: string }[] };
        return jobTypes.some((t) => t.name === "sales-report") && (await fetch(webUrl)).ok;
      },
      { timeoutMs: 60_000, everyMs: 200, what: "sales-report announced and the web server up" },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${processes.map((p) => p.stderr()).join("\n")}`);
    });
    browser = await sharedChromium();
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    for (const p of processes) p.child.kill("SIGTERM");
    for (const p of processes) await exitWithin(p, 20_000).catch(() => undefined);
    for (const p of processes) await killAll(p);
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    await removeNamespace(names(namespace), redis).finally(() => redis.close());
    rmSync(work, { recursive: true, force: true });
  });

  it("the page renders a report: progress month by month over Socket.IO, then a link to the PDF", async () => {
    const page = await (browser as BrowserLease).newPage();
    try {
      await page.goto(webUrl);
      await page.fill("input[name=months]", "8");
      await page.click("button[type=submit]");
      const seen = new Set<string>();
      const link = await pollUntil(
        async () => {
          seen.add((await page.textContent("#status")) ?? "");
          return (await page.isVisible("#link")) ? page.getAttribute("#link", "href") : null;
        },
        { timeoutMs: 30_000, everyMs: 50, what: "the report's link" },
      );
      expect(
        [...seen].filter((s) => /^running via socket: gathered \d{4}-\d{2}$/.test(s)),
        [...seen].join("\n"),
      ).to.not.be.empty;
      expect(await page.textContent("#status")).to.match(/^done: 8 months, total revenue €\S+$/);
      expect(link).to.match(/^\/reports\/[0-9a-f-]{36}\.pdf$/);
      const pdf = await fetch(`${webUrl}${link}`);
      expect(pdf.status).to.equal(200);
      expect(pdf.headers.get("content-type")).to.equal("application/pdf");
      const bytes = Buffer.from(await pdf.arrayBuffer());
      expect(bytes.subarray(0, 5).toString("latin1")).to.equal("%PDF-");
      expect(bytes.subarray(-6).toString("latin1")).to.match(/%%EOF\s*$/);
    } finally {
      await page.close();
    }
  });

  it("a request the job type's schema refuses is Herald's 422 with the schema's errors, passed on by the app", async () => {
    const res = await fetch(`${webUrl}/reports`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: "Q3", region: "mars", months: 0 }),
    });
    expect(res.status).to.equal(422);
    const problem = (await res.json()) as { type: string; errors: { path: string }[] };
    expect(problem.type).to.equal("urn:herald:problem:invalid-payload");
    expect(problem.errors.map((e) => e.path)).to.have.members(["/region", "/months"]);
  });
});
