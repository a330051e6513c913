// Issue 11, "an operator page": in Chromium, an operator signs in to /admin with ADMIN_TOKEN, sees a
// new job appear and change status without reloading, and replays a dead letter with a click.
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import type { BrowserContext, Page } from "playwright-core";
import { demoHandler } from "../../services/worker/jobs/demo.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { registry } from "../../shared/worker/handlers.ts";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { Gate } from "../helpers/gate.ts";
import { getStatus, pollToEnd, submit } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

const token = randomBytes(24).toString("base64url");
const seen = { timeout: 20_000 };

describe("issue 11: the operator page in a browser", function () {
  this.timeout(60_000);
  const gate = new Gate();
  let stack: Stack | undefined;
  let browser: BrowserLease | undefined;
  let context: BrowserContext | undefined;
  before(async () => {
    stack = await startStack({
      handlers: registry([demoHandler, gate.handler]),
      env: { ...noLimits, ADMIN_TOKEN: token },
    });
    browser = await sharedChromium();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function openAdmin(): Promise<{ page: Page; navigations: () => number }> {
    if (!stack || !browser) throw new Error("setup failed");
    context = await browser.newContext();
    const page = await context.newPage();
    let navigations = 0;
    page.on("framenavigated", (f) => {
      if (f === page.mainFrame()) navigations++;
    });
    await page.goto(`${stack.baseUrl}/admin`);
    return { page, navigations: () => navigations };
  }

  async function signIn(page: Page, with_: string): Promise<void> {
    await page.getByLabel("Admin token").fill(with_);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  it("refuses a wrong token and says so", async () => {
    const { page } = await openAdmin();
    await signIn(page, `${token}-wrong`);
    await page.locator("#notice", { hasText: "wrong" }).waitFor(seen);
    expect(await page.locator("#app").isHidden()).to.equal(true);
    expect(await page.evaluate(() => sessionStorage.getItem("heraldAdminToken"))).to.equal(null);
  });

  it("shows a new job appear and change status live, without reloading", async () => {
    if (!stack) throw new Error("setup failed");
    const { page, navigations } = await openAdmin();
    await signIn(page, token);
    await page.locator("#app").waitFor({ state: "visible", ...seen });
    await page.locator("#queue-depth", { hasText: /^\d+$/ }).waitFor(seen);

    const job = await submit(stack.baseUrl, "gated", {});
    const row = page.locator(`#jobs tr[data-job-id="${job.id}"]`);
    await row.waitFor(seen);
    await gate.started(job.id);
    await page.locator(`#jobs tr[data-job-id="${job.id}"][data-status="running"]`).waitFor(seen);
    gate.progress(job.id, 60, "most of it");
    await row.getByText("60 % most of it").waitFor(seen);
    gate.finish(job.id, { ok: true });
    await page.locator(`#jobs tr[data-job-id="${job.id}"][data-status="succeeded"]`).waitFor(seen);
    expect(navigations(), "updated in place").to.equal(1);

    // Search by id narrows the table to that job.
    await page.getByLabel("Job id").fill(job.id);
    await page.getByRole("button", { name: "Apply" }).click();
    await pollUntil(async () => (await page.locator("#jobs tbody tr").count()) === 1, {
      timeoutMs: 20_000,
      what: "one row for the searched id",
    });
    expect(await page.locator("#jobs tbody tr").first().getAttribute("data-job-id")).to.equal(job.id);
  });

  it("replays a failed job's dead letter with a click; the job runs again", async () => {
    if (!stack) throw new Error("setup failed");
    const job = await submit(stack.baseUrl, "demo", { steps: 2, stepMs: 0, fail: "boom" });
    const first = (await pollToEnd(stack.baseUrl, job)).at(-1)?.body as JobView;
    expect(first.status).to.equal("failed");

    const { page, navigations } = await openAdmin();
    await signIn(page, token);
    const letter = page.locator(`#dead tr[data-job-id="${job.id}"]`);
    await letter.waitFor(seen);
    await letter.getByRole("button", { name: "Replay" }).click();
    await page.locator("#replay-result", { hasText: "Replayed 1" }).waitFor(seen);
    const again = await pollUntil(
      async () => {
        const r = await getStatus(stack?.baseUrl ?? "", job);
        return r.body.status === "failed" && r.body.version > first.version ? r.body : null;
      },
      { timeoutMs: 20_000, what: "the replayed job ran and failed again" },
    );
    expect(Date.parse(again.startedAt ?? "")).to.be.greaterThan(Date.parse(first.finishedAt ?? ""));
    expect(navigations()).to.equal(1);
  });
});
