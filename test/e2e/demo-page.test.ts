// Issue 11, "the demo": a real browser (Debian's Chromium) clicks through the demo page served at
// `/` by a real API process behind the real nginx, with a separate worker process: a success, a
// failure, a cancel, several jobs at once, and a Socket.IO connection cut mid-job after which the
// client library falls back to SSE (or polling) and the page still shows the result. Screenshots
// of each case go to test-output/demo-page/ (or $HERALD_SCREENSHOTS_DIR).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { type Cluster, pollUntil, ROOT, startCluster } from "../helpers/cluster.ts";

const shots = process.env.HERALD_SCREENSHOTS_DIR ?? join(ROOT, "test-output", "demo-page");

describe("issue 11: the demo page (GET / and /demo)", function () {
  this.timeout(90_000);
  let cluster: Cluster | undefined;
  let browser: BrowserLease | undefined;
  let context: BrowserContext | undefined;
  let errors: string[] = [];
  /** Requests to anywhere but the API's origin (the page uses no CDN). */
  let foreign: string[] = [];

  before(async () => {
    mkdirSync(shots, { recursive: true });
    cluster = await startCluster({ apis: 1, workers: 1 });
    browser = await sharedChromium();
  });
  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });
  beforeEach(async () => {
    if (!browser) throw new Error("setup failed");
    context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    errors = [];
    foreign = [];
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function open(path = "/"): Promise<Page> {
    if (!cluster || !context) throw new Error("setup failed");
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    const host = new URL(cluster.baseUrl).host;
    page.on("request", (r) => {
      if (new URL(r.url()).host !== host) foreign.push(r.url());
    });
    const res = await page.goto(`${cluster.baseUrl}${path}`);
    expect(res?.status()).to.equal(200);
    expect(res?.headers()["content-type"]).to.match(/^text\/html/);
    await page.getByRole("heading", { name: "Herald demo" }).waitFor();
    return page;
  }

  /** The n-th job card of the page (numbered in submission order). */
  const card = (page: Page, n: number): Locator => page.locator(`#job-${n}`);
  const part = (c: Locator, name: string): Locator => c.locator(`[data-part=${name}]`);
  const waitText = (l: Locator, text: string | RegExp, timeout = 30_000) =>
    l.filter({ hasText: text }).waitFor({ timeout });

  async function fillDemo(page: Page, o: { steps: number; stepMs: number; fail?: boolean }): Promise<void> {
    await page.getByRole("radio", { name: /^demo/ }).check();
    await page.getByLabel("Steps", { exact: true }).fill(String(o.steps));
    await page.getByLabel("Step time (ms)").fill(String(o.stepMs));
    await page.getByLabel("Fail halfway through").setChecked(o.fail ?? false);
  }

  it("serves the same page at / and /demo; a demo job submitted from the keyboard shows progress, ETA, channel and its result", async () => {
    const other = await open("/demo");
    await other.close();
    const page = await open("/");
    await fillDemo(page, { steps: 5, stepMs: 700 });
    await page.getByLabel("Step time (ms)").press("Enter"); // submits the form
    const job = card(page, 1);
    await job.waitFor();
    // Named for assistive technology: the card's progress bar and its buttons.
    const bar = job.getByRole("progressbar", { name: "Progress of Job 1 (demo)" });
    await waitText(part(job, "eta"), /^about \d+ s$/);
    await waitText(part(job, "status"), "succeeded");
    await waitText(part(job, "outcome"), "Result");
    expect(JSON.parse((await part(job, "result").textContent()) ?? "null")).to.deep.equal({ steps: 5 });
    expect(await bar.getAttribute("value")).to.equal("100");
    expect(await part(job, "channel").textContent()).to.equal("socket");
    expect(await part(job, "eta").textContent()).to.equal("–");
    const history = await part(job, "history").locator("li").allTextContents();
    // From the first step the page saw (it may subscribe after the first ones), every one.
    const seen = history.flatMap((l) => / running (\d+)% via socket$/.exec(l)?.[1] ?? []).map(Number);
    const steps = [0, 20, 40, 60, 80, 100];
    expect(seen, `${history}`).to.deep.equal(steps.slice(steps.length - seen.length));
    expect(seen.length, `${history}`).to.be.at.least(2);
    expect(await job.getByRole("button", { name: "Cancel Job 1 (demo)" }).isDisabled()).to.equal(true);
    expect(await job.getByRole("link", { name: "Status page of Job 1 (demo)" }).getAttribute("href")).to.match(
      /^\/jobs\/[0-9a-f-]+\?access_token=/,
    );
    expect(await page.getByRole("status").textContent()).to.equal("Job 1 (demo): succeeded");
    await page.screenshot({ path: join(shots, "success.png"), fullPage: true });
    expect(errors).to.deep.equal([]);
    expect(foreign).to.deep.equal([]);
  });

  it("shows a failed job's error", async () => {
    const page = await open();
    await fillDemo(page, { steps: 4, stepMs: 100, fail: true });
    await page.getByRole("button", { name: "Submit" }).click();
    const job = card(page, 1);
    await waitText(part(job, "status"), "failed");
    await waitText(part(job, "error"), "failed on purpose");
    expect(await part(job, "error").textContent()).to.match(/^Failed: .+: failed on purpose/);
    expect(await part(job, "outcome").isHidden()).to.equal(true);
    await page.screenshot({ path: join(shots, "failure.png"), fullPage: true });
    expect(errors).to.deep.equal([]);
    expect(foreign).to.deep.equal([]);
  });

  it("cancels a running job with its Cancel button (keyboard) and shows it canceled", async () => {
    const page = await open();
    await fillDemo(page, { steps: 200, stepMs: 200 });
    await page.getByRole("button", { name: "Submit" }).click();
    const job = card(page, 1);
    await waitText(part(job, "status"), "running");
    await job.getByRole("button", { name: "Cancel Job 1 (demo)" }).press("Enter");
    await waitText(part(job, "status"), "canceled");
    await waitText(part(job, "error"), /^Canceled/);
    expect(await part(job, "outcome").isHidden()).to.equal(true);
    await page.screenshot({ path: join(shots, "cancel.png"), fullPage: true });
    expect(errors).to.deep.equal([]);
    expect(foreign).to.deep.equal([]);
  });

  it("runs several csv-summary jobs at once, each with its own card and result", async () => {
    const page = await open();
    await page.getByRole("radio", { name: /^csv-summary/ }).check();
    expect(await page.getByLabel("Steps", { exact: true }).isHidden(), "the demo's fields hide").to.equal(true);
    await page.getByLabel("How many at once").fill("3");
    await page.getByRole("button", { name: "Submit" }).click();
    for (const n of [1, 2, 3]) {
      const job = card(page, n);
      await waitText(part(job, "status"), "succeeded");
      await waitText(part(job, "outcome"), "Result");
      const result = JSON.parse((await part(job, "result").textContent()) ?? "null");
      expect(result.rows, `job ${n}`).to.equal(6);
      expect(result.columns.map((c: { name: string }) => c.name)).to.deep.equal([
        "city",
        "country",
        "population",
        "area_km2",
      ]);
    }
    const ids = await page.locator("#jobs [data-part=id]").allTextContents();
    expect(new Set(ids).size, "three distinct jobs").to.equal(3);
    await page.screenshot({ path: join(shots, "several.png"), fullPage: true });
    expect(errors).to.deep.equal([]);
    expect(foreign).to.deep.equal([]);
  });

  it("falls back from a Socket.IO connection cut mid-job (to SSE or polling) and still shows the result", async () => {
    if (!context) throw new Error("setup failed");
    // The cut: every Socket.IO WebSocket goes through a route that can close it, and from the cut
    // on, Socket.IO's HTTP requests (its polling transport, its reconnects) are refused.
    let cut = false;
    let refused = 0;
    const servers: { close(): Promise<void> }[] = [];
    await context.routeWebSocket(/\/socket\.io\//, (ws) => {
      if (cut) return void ws.close({ code: 4000, reason: "cut by the test" });
      servers.push(ws.connectToServer());
    });
    await context.route(/\/socket\.io\//, (route) => {
      if (!cut) return route.continue();
      refused++;
      return route.abort("connectionrefused");
    });
    // The page's clock is the browser's own until the test moves it on (below).
    await context.clock.install();
    const page = await open();
    await fillDemo(page, { steps: 20, stepMs: 400 });
    await page.getByRole("button", { name: "Submit" }).click();
    const job = card(page, 1);
    await waitText(part(job, "percent"), /^(?!0 %)\d+ %$/); // some progress arrived
    expect(await part(job, "channel").textContent()).to.equal("socket");
    expect(servers.length, "the page's Socket.IO went over the routed WebSocket").to.be.above(0);
    cut = true;
    await Promise.all(servers.map((s) => s.close()));
    // A refused reconnect means the page has seen the cut, so the client's give-up deadline
    // (reconnectTimeoutMs, 10 s by default) is set: jump the page's clock past it instead of
    // waiting it out. The fallback itself is still the client's own doing.
    await pollUntil(() => refused > 0, { timeoutMs: 45_000, what: "Socket.IO to try to reconnect" });
    await context.clock.fastForward(11_000);
    await waitText(part(job, "channel"), /^(sse|polling)$/, 45_000);
    const fallback = (await part(job, "channel").textContent()) ?? "";
    await page.screenshot({ path: join(shots, "fallback.png"), fullPage: true });
    await waitText(part(job, "status"), "succeeded", 45_000);
    await waitText(part(job, "outcome"), "Result");
    expect(JSON.parse((await part(job, "result").textContent()) ?? "null")).to.deep.equal({ steps: 20 });
    expect(await part(job, "channel").textContent()).to.equal(fallback);
    const history = await part(job, "history").locator("li").allTextContents();
    expect(history.some((l) => / running \d+% via socket$/.test(l))).to.equal(true);
    expect(history.at(-1)).to.match(new RegExp(`succeeded 100% via ${fallback}$`));
    expect(refused, "Socket.IO tried to reconnect and was refused").to.be.above(0);
    expect(errors).to.deep.equal([]);
    expect(foreign).to.deep.equal([]);
  });
});
