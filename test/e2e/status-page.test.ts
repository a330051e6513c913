// Issue 11, "a status page": a person following the status link (`GET /jobs/{id}?access_token=…`
// with a browser's Accept) gets an HTML page that is right with JavaScript off (a `Refresh` header
// from Retry-After reloads it until the job ends) and follows the job live with JavaScript on.
import { expect } from "chai";
import { demoHandler } from "../../services/worker/jobs/demo.ts";
import { registry } from "../../shared/worker/handlers.ts";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { Gate } from "../helpers/gate.ts";
import { bearer, request, submit } from "../helpers/http.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

describe("issue 11: the status page for people", function () {
  this.timeout(60_000);
  const gate = new Gate();
  let stack: Stack | undefined;
  let browser: BrowserLease | undefined;
  before(async () => {
    stack = await startStack({ handlers: registry([demoHandler, gate.handler]), env: noLimits });
    browser = await sharedChromium();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  const pageUrl = (job: { id: string; token: string }) =>
    `${stack?.baseUrl}/jobs/${job.id}?access_token=${encodeURIComponent(job.token)}`;

  it("answers HTML with Refresh while the job runs, escapes what the handler wrote, and JSON to API clients", async () => {
    if (!stack) throw new Error("setup failed");
    const job = await submit(stack.baseUrl, "gated", {});
    await gate.started(job.id);
    gate.progress(job.id, 40, `<script>alert("x")</script> & 'more'`);
    const page = await waitForHtml(pageUrl(job), (html) => html.includes("40 %"));
    expect(page.status).to.equal(200);
    expect(page.headers.get("content-type")).to.match(/^text\/html/);
    expect(page.headers.get("cache-control")).to.equal("no-store");
    expect(page.headers.get("vary")).to.match(/accept/i);
    expect(Number(page.headers.get("refresh"))).to.be.within(1, 30);
    expect(page.body).to.include("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39;");
    expect(page.body).to.not.include('<script>alert("x")');
    // An API client (fetch, curl: Accept */*) still gets the JSON status.
    const json = await request(`${stack.baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) });
    expect(json.headers.get("content-type")).to.match(/^application\/json/);

    gate.finish(job.id, { ok: true });
    const done = await waitForHtml(pageUrl(job), (html) => html.includes("succeeded"));
    expect(done.headers.get("refresh"), "no reload once the job ended").to.equal(null);
    expect(done.body).to.include(`href="/jobs/${job.id}/result?access_token=${encodeURIComponent(job.token)}"`);
    // The same 404 as JSON for a wrong token: the page reveals nothing more.
    const wrong = await fetch(`${stack.baseUrl}/jobs/${job.id}?access_token=nope`, {
      headers: { accept: browserAccept },
    });
    expect(wrong.status).to.equal(404);
  });

  it("with JavaScript on, the page follows the job live to its result without reloading", async () => {
    if (!stack || !browser) throw new Error("setup failed");
    const job = await submit(stack.baseUrl, "gated", {});
    await gate.started(job.id);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      let navigations = 0;
      page.on("framenavigated", (f) => {
        if (f === page.mainFrame()) navigations++;
      });
      await page.goto(pageUrl(job));
      await page.waitForFunction(() => (window as unknown as { heraldWatch?: unknown }).heraldWatch !== undefined);
      // Longer than the Refresh header's delay (1 s here): a page that reloads would do it now.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(navigations, "the live page cancelled the reload meant for pages without JS").to.equal(1);
      gate.progress(job.id, 70, "nearly there");
      await page.locator("#message", { hasText: "nearly there" }).waitFor({ timeout: 20_000 });
      gate.finish(job.id, { answer: 42 });
      await page.locator("#status", { hasText: "succeeded" }).waitFor({ timeout: 20_000 });
      expect(navigations, "it updated in place, no reload").to.equal(1);
      await page.click("#result-link");
      await page.waitForURL(/\/result\?access_token=/);
      expect(JSON.parse((await page.textContent("body")) ?? "null")).to.deep.equal({ answer: 42 });
    } finally {
      await context.close();
    }
  });

  it("with JavaScript off, the Refresh header reloads the page until it shows the result", async () => {
    if (!stack || !browser) throw new Error("setup failed");
    const job = await submit(stack.baseUrl, "gated", {});
    await gate.started(job.id);
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(pageUrl(job));
      expect(await page.textContent("#status")).to.equal("running");
      gate.finish(job.id, { ok: true });
      await page.locator("#status", { hasText: "succeeded" }).waitFor({ timeout: 30_000 });
      expect(await page.getAttribute("#result-link", "href")).to.include(`/jobs/${job.id}/result?access_token=`);
    } finally {
      await context.close();
    }
  });
});

/** GETs the page as a browser would until `ok` holds for its HTML. */
async function waitForHtml(
  url: string,
  ok: (html: string) => boolean,
): Promise<{ status: number; headers: Headers; body: string }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(url, { headers: { accept: browserAccept } });
    const body = await res.text();
    if (ok(body) || Date.now() > deadline) return { status: res.status, headers: res.headers, body };
    await new Promise((r) => setTimeout(r, 100));
  }
}
